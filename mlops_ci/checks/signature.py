"""The ``signature`` check: verify a model's existing signature and attestation; report facts.

An unsigned model is not a finding here (the production policy pack decides whether signing is
required, from ``facts.signature.signed``). A signature or attestation that exists but does not
verify, or cannot be verified because no policy is configured, is a HIGH finding: fail closed.
So is a model whose bytes no signature can cover (``SIG004``: ONNX external data that is missing,
outside the model's directory, behind a symlink or not a regular file), signed or not.

**Stale evidence is a fact, not a failure.** An *authentic* signature or attestation (the
trusted signer, intact bytes) about other bytes than the model on disk means "signed for an older
model": the model is reported unsigned (``signed: false``) with ``stale_digest``, the digest the
old evidence names, and an INFO note (``SIG005``), so the gates can pass and CI can sign the new
bytes (``check → sign``). Forged or broken evidence (bad signature bytes, another key, a tampered
bundle, an ONNX graph whose external data no longer matches it) stays a HIGH finding; ``verify``,
``promote`` and ``promote verify`` refuse stale evidence as before.

Facts (``facts.signature``): ``signed``, ``verified``, ``mode`` (sigstore, key, certificate or
null), ``identity`` and ``issuer`` of the signer, ``digest`` (the OMS root digest,
``sha256:<hex>``, of the signed model, or of the model on disk when unsigned or not verified),
``attestation_verified`` and ``stale_digest`` (the digest stale evidence names, else null).

Cached (see :mod:`mlops_ci.cache`) only for an unsigned model, whose result is its digest and
whether a signature could cover it: a function of its files, the ``signing:`` settings and
model-signing's version. A signature or attestation, once present, is verified on every run
(certificates expire, trust material changes).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, ClassVar

from mlops_ci.checks.base import Context, Scope, model_inputs, result, skipped
from mlops_ci.checks.cache_keys import tool_versions
from mlops_ci.errors import MlopsCiError
from mlops_ci.findings import CheckResult, Finding, JsonValue, Location, Severity


class SignatureCheck:
    """Verifies ``PATH.sig`` and ``PATH.attestation.sigstore.json`` under the configured policy."""

    name: ClassVar[str] = "signature"
    needs: ClassVar[tuple[str, ...]] = ()
    scope: ClassVar[Scope] = "model"
    stampable: ClassVar[bool] = False  # the key holds model-signing's version, not only files

    def inputs(self, ctx: Context) -> list[Path] | None:
        """The model's files and where its signature and attestation would be (absent); None
        (not cached) when either exists."""
        from mlops_ci.signing.targets import select_targets

        if ctx.config.signing.mode == "none":
            return []
        try:
            target = select_targets(ctx.loaded, model=ctx.current_model.name)[0]
        except MlopsCiError:
            return None  # the run says why
        if os.path.lexists(target.signature) or os.path.lexists(target.attestation):
            return None
        return [*model_inputs(ctx), target.path, target.signature, target.attestation]

    def cache_material(self, ctx: Context) -> dict[str, Any]:
        """The version of the library that computes the model's digest."""
        return {"tools": tool_versions("model-signing")}

    def run(self, ctx: Context) -> CheckResult:
        """Verify the signature and attestation of ``ctx.model`` if they exist."""
        from mlops_ci.signing import SigningError, VerificationError, model_digest
        from mlops_ci.signing.errors import StaleEvidence
        from mlops_ci.signing.policy import policy_from_config
        from mlops_ci.signing.scope import ExternalDataError, model_scope
        from mlops_ci.signing.targets import hashing_ignores, select_targets
        from mlops_ci.signing.verify import inspect_bundle, verify_model

        model = ctx.current_model
        if ctx.config.signing.mode == "none":
            return skipped(ctx, self.name, "signing is disabled (signing.mode: none)")
        target = select_targets(ctx.loaded, model=model.name)[0]
        if not target.path.exists():
            return skipped(ctx, self.name, f"{target.shown} does not exist")
        ignore = hashing_ignores(ctx.loaded, target)
        facts: dict[str, JsonValue] = {
            "signed": os.path.lexists(target.signature),
            "verified": False,
            "mode": None,
            "identity": None,
            "issuer": None,
            "digest": None,
            "attestation_verified": False,
            "stale_digest": None,
        }
        findings: list[Finding] = []
        try:
            model_scope(target.path, ignore)  # refuses data no signature can cover
        except ExternalDataError as refused:
            shown = ctx.display(target.path)
            findings.append(ctx.finding("SIG004", Severity.HIGH, refused.reason, Location(shown)))
            return result(ctx, self.name, findings, facts=facts)
        if not facts["signed"]:
            facts["digest"] = model_digest(target.path, ignore)
            return result(ctx, self.name, findings, facts=facts)
        shown_signature = ctx.display(target.signature)
        location = Location(shown_signature)
        try:
            facts["mode"] = inspect_bundle(target.signature, target.shown).mode
            verified = verify_model(
                target.path,
                target.signature,
                policy_from_config(ctx.loaded),
                allow=ignore,
                subject=target.shown,
                now=ctx.now,
            )
        except StaleEvidence as stale:
            # Unsigned, as if the .sig were absent: no mode or signer is claimed for these bytes.
            facts.update(signed=False, mode=None, stale_digest=stale.signed_digest)
            findings.append(_stale_note(ctx, shown_signature, stale.signed_digest, location))
        except VerificationError as failure:
            message = f"{shown_signature} does not verify: {failure.reason}"
            findings.append(ctx.finding("SIG001", Severity.HIGH, message, location))
        except SigningError as error:
            message = f"{shown_signature} cannot be verified: {error.message}"
            findings.append(ctx.finding("SIG002", Severity.HIGH, message, location))
        else:
            facts.update(
                verified=True,
                mode=verified.mode,
                identity=verified.identity,
                issuer=verified.issuer,
                digest=verified.digest,
            )
        if facts["digest"] is None:
            # A symlink or special file in the model cannot be hashed: SIG001 already says so.
            with contextlib.suppress(MlopsCiError):
                facts["digest"] = model_digest(target.path, ignore)
        if os.path.lexists(target.attestation):
            _check_attestation(ctx, target.attestation, facts, findings)
        return result(ctx, self.name, findings, facts=facts)


def _check_attestation(
    ctx: Context, attestation: Path, facts: dict[str, JsonValue], findings: list[Finding]
) -> None:
    """Verify the attestation against the model digest in ``facts``; record what it says."""
    from mlops_ci.signing import SigningError, VerificationError
    from mlops_ci.signing.errors import StaleEvidence
    from mlops_ci.signing.policy import policy_from_config
    from mlops_ci.signing.verify import verify_attestation

    shown = ctx.display(attestation)
    try:
        verify_attestation(
            attestation,
            policy_from_config(ctx.loaded),
            expected_digest=str(facts["digest"]),
            subject=shown,
            now=ctx.now,
        )
        facts["attestation_verified"] = True
    except StaleEvidence as stale:
        if facts["verified"]:
            # The model's signature is about these bytes and its attestation is not: 'sign'
            # writes the two together, so this set is broken (SIG003), not merely old.
            findings.append(_attestation_finding(ctx, shown, stale.reason))
        else:
            facts["stale_digest"] = facts["stale_digest"] or stale.signed_digest
    except (VerificationError, SigningError) as problem:
        reason = getattr(problem, "reason", None) or str(problem)
        findings.append(_attestation_finding(ctx, shown, reason))


def _attestation_finding(ctx: Context, shown: str, reason: str) -> Finding:
    return ctx.finding(
        "SIG003", Severity.HIGH, f"attestation {shown} does not verify: {reason}", Location(shown)
    )


def _stale_note(ctx: Context, shown: str, digest: str | None, location: Location) -> Finding:
    """The INFO note of a valid signature over an older model (never a gate failure)."""
    about = f" ({digest[:19]}…)" if digest else ""
    message = (
        f"{shown} is a valid signature of an older model{about}, not of the model on disk:"
        " the model counts as unsigned; sign it after the gates pass ('mlops-ci sign')"
    )
    return ctx.finding("SIG005", Severity.INFO, message, location)
