"""``mlops-ci sign`` and ``mlops-ci verify`` as functions: sign or verify everything of a release.

Signing, per model: the model (OMS signature), its gate-report attestation (when the JSON report
covers the model), its SBOM (when it exists); then the JSON report itself. One signer serves the
whole run. Verification checks the model signature (required) and every other bundle present.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlops_ci.config import LoadedConfig
from mlops_ci.errors import MlopsCiError
from mlops_ci.findings import Report
from mlops_ci.fsutil import atomic_write
from mlops_ci.signing import keyless, paths
from mlops_ci.signing.attestation import gate_predicate, statement_bytes
from mlops_ci.signing.errors import SigningError, VerificationError, describe_exception
from mlops_ci.signing.modes import Signer, SigningInputs, choose_mode, open_signer
from mlops_ci.signing.oms import manifest_of, signed_statement
from mlops_ci.signing.policy import Mode, VerificationPolicy
from mlops_ci.signing.targets import Target, hashing_ignores, read_report, report_file
from mlops_ci.signing.verify import Verified, verify_attestation, verify_file, verify_model


@dataclass(frozen=True)
class SignedFile:
    """A file that was signed, and the bundle written for it."""

    role: str
    path: str
    bundle: str
    digest: str | None = None


@dataclass(frozen=True)
class SignOutcome:
    """What ``sign`` did: the mode and signer, the files signed, notes; or why it skipped."""

    mode: Mode | None
    identity: str | None = None
    issuer: str | None = None
    files: tuple[SignedFile, ...] = ()
    notes: tuple[str, ...] = ()
    skipped: str | None = None


def sign_release(
    loaded: LoadedConfig,
    targets: Sequence[Target],
    inputs: SigningInputs,
    environ: Mapping[str, str],
    *,
    detect: Callable[[], keyless.AmbientCredential] = keyless.detect_ambient_credential,
) -> SignOutcome:
    """Sign every target (model, attestation, SBOM), then the report; returns what was written."""
    choice = choose_mode(inputs, detect)
    if choice.mode is None:
        return SignOutcome(None, skipped=choice.reason)
    report_path = report_file(loaded)
    loaded_report = read_report(report_path, loaded.display(report_path) if report_path else "")
    secrets = [choice.token, *(inputs.key.secrets(environ) if inputs.key else ())]
    files: list[SignedFile] = []
    notes: list[str] = []
    with open_signer(choice, inputs, environ) as signer:
        for target in targets:
            files += _sign_target(loaded, target, signer, loaded_report, notes, secrets)
        configured = any(t.configured for t in targets)  # an ad-hoc PATH signs only itself
        if configured and loaded_report is not None and report_path is not None:
            files.append(_sign_file(loaded, "report", report_path, signer, secrets))
        elif configured and report_path is not None:
            notes.append(
                f"no report at {loaded.display(report_path)}, so no attestation: run"
                f" 'mlops-ci check --format json={loaded.display(report_path)}' before signing"
            )
        return SignOutcome(choice.mode, signer.identity, signer.issuer, tuple(files), tuple(notes))


def _guarded(action: Callable[[], str], what: str, secrets: Sequence[str | None]) -> str:
    """Run one signing call; library failures become one secret-free line (exit 2)."""
    try:
        return action()
    except MlopsCiError:
        raise
    except Exception as exc:
        raise SigningError(f"signing {what} failed: {describe_exception(exc, secrets)}") from None


def _sign_target(
    loaded: LoadedConfig,
    target: Target,
    signer: Signer,
    loaded_report: tuple[Report, bytes] | None,
    notes: list[str],
    secrets: Sequence[str | None],
) -> list[SignedFile]:
    if not target.path.exists():
        raise SigningError(f"model {target.name!r}: {target.shown} does not exist")
    manifest = manifest_of(target.path, hashing_ignores(loaded, target))
    digest = manifest.root_digest
    attest = (
        loaded_report is not None
        and target.configured
        and any(m.name == target.name for m in loaded_report[0].models)
    )
    if loaded_report is not None and attest:
        _check_report_digest(loaded_report[0], target, digest)  # before anything is written
    bundle = _guarded(lambda: signer.sign_manifest(manifest), target.shown, secrets)
    _write(loaded, target.signature, bundle)
    files = [SignedFile("model", target.shown, loaded.display(target.signature), digest)]
    if loaded_report is not None and target.configured:
        report, raw = loaded_report
        if attest:
            shown_report = loaded.display(report_file(loaded) or Path())
            payload = statement_bytes(
                target.name, digest, gate_predicate(report, target.name, shown_report, raw)
            )
            bundle = _guarded(lambda: signer.sign_statement(payload), "the attestation", secrets)
            _write(loaded, target.attestation, bundle)
            files.append(
                SignedFile("attestation", target.name, loaded.display(target.attestation), digest)
            )
            if report.verdict != "pass":
                notes.append(f"the gate report's verdict is {report.verdict}, and is attested so")
        else:
            notes.append(f"the report has no results for model {target.name!r}: no attestation")
    if not attest and _stale_attestation(target.attestation, digest):
        # It vouches for bytes that are gone; left in place, the next check would fail on it.
        target.attestation.unlink()
        notes.append(
            f"removed {loaded.display(target.attestation)}: it was about other model bytes"
        )
    if target.sbom is not None and target.sbom.is_file():
        files.append(_sign_file(loaded, "sbom", target.sbom, signer, secrets))
    return files


def _write(loaded: LoadedConfig, path: Path, text: str) -> None:
    """Write a bundle atomically; a directory (or anything unwritable) in its place is exit 2."""
    try:
        atomic_write(path, text)
    except OSError as exc:
        raise SigningError(
            f"cannot write {loaded.display(path)} ({exc.strerror or exc.__class__.__name__});"
            " remove what is in its place and sign again"
        ) from None


def _stale_attestation(path: Path, digest: str) -> bool:
    """Whether ``path`` is an attestation whose subject is not ``digest`` (nothing is trusted)."""
    from mlops_ci.signing.verify import read_bundle_text

    if not path.is_file() or path.is_symlink():
        return False
    try:
        statement = signed_statement(json.loads(read_bundle_text(path, str(path))))
    except (VerificationError, ValueError, RecursionError):
        return False
    subjects = (statement or {}).get("subject") or []
    algorithm, _, value = digest.partition(":")
    return bool(subjects) and all(
        isinstance(s, dict) and (s.get("digest") or {}).get(algorithm) != value for s in subjects
    )


def _check_report_digest(report: Report, target: Target, digest: str) -> None:
    """Refuse to attest a report that the ``signature`` check ran on other model bytes."""
    for result in report.results:
        seen = result.facts.get("digest") if result.check == "signature" else None
        if result.model == target.name and isinstance(seen, str) and seen != digest:
            raise SigningError(
                f"model {target.name!r} changed after the gate report was made (report digest"
                f" {seen[:19]}…, model {digest[:19]}…); run 'mlops-ci check' again, then sign"
            )


def _sign_file(
    loaded: LoadedConfig, role: str, path: Path, signer: Signer, secrets: Sequence[str | None]
) -> SignedFile:
    bundle_file = paths.bundle_path(path)
    shown = loaded.display(path)
    _write(loaded, bundle_file, _guarded(lambda: signer.sign_file(path), shown, secrets))
    return SignedFile(role, shown, loaded.display(bundle_file))


@dataclass(frozen=True)
class VerifyLine:
    """One verification: what, whether it passed, and the reason or the verified facts."""

    role: str
    subject: str
    verified: Verified | None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """Whether this signature verified."""
        return self.verified is not None


def verify_release(
    loaded: LoadedConfig,
    targets: Sequence[Target],
    policy: VerificationPolicy,
    *,
    ignore: Sequence[Path] = (),
) -> list[VerifyLine]:
    """Verify each target's signature (required) and every attestation and bundle present."""
    lines: list[VerifyLine] = []
    for target in targets:
        model_line = _attempt(
            "model",
            target.shown,
            lambda t=target: verify_model(  # type: ignore[misc]
                t.path,
                t.signature,
                policy,
                ignore=paths.inside(t.path, ignore),
                allow=hashing_ignores(loaded, t, ignore),
                subject=t.shown,
            ),
        )
        lines.append(model_line)
        if model_line.verified and os.path.lexists(target.attestation):
            digest = model_line.verified.digest
            lines.append(
                _attempt(
                    "attestation",
                    loaded.display(target.attestation),
                    lambda t=target, d=digest: (
                        verify_attestation(  # type: ignore[misc]
                            t.attestation, policy, expected_digest=d, subject=t.shown
                        ).verified
                    ),
                )
            )
        if target.sbom is not None:
            lines += _verify_present(loaded, "sbom", target.sbom, policy)
    report = report_file(loaded)
    if report is not None and any(t.configured for t in targets):
        lines += _verify_present(loaded, "report", report, policy)
    return lines


def _verify_present(
    loaded: LoadedConfig, role: str, path: Path, policy: VerificationPolicy
) -> list[VerifyLine]:
    bundle = paths.bundle_path(path)
    if not os.path.lexists(bundle):  # a directory or link there fails, it is not absent
        return []
    shown = loaded.display(path)
    noun = {"sbom": "SBOM", "report": "report"}.get(role, role)
    return [
        _attempt(role, shown, lambda: verify_file(path, bundle, policy, subject=shown, noun=noun))
    ]


def _attempt(role: str, subject: str, action: Callable[[], Verified]) -> VerifyLine:
    try:
        return VerifyLine(role, subject, action())
    except VerificationError as failure:
        return VerifyLine(role, subject, None, failure.reason)


def verify_single(
    path: Path, signature: Path, policy: VerificationPolicy, *, ignore: Sequence[Path] = ()
) -> VerifyLine:
    """Verify one ad-hoc ``PATH`` with whatever its bundle holds (model, file or attestation)."""
    from mlops_ci.signing.oms import model_digest
    from mlops_ci.signing.verify import inspect_bundle

    shown = str(path)

    def run() -> Verified:
        info = inspect_bundle(signature, shown)
        relative = paths.inside(path, [signature, *ignore])
        if info.kind == "attestation":
            expected = model_digest(path, relative)
            return verify_attestation(
                signature, policy, expected_digest=expected, subject=shown
            ).verified
        if info.kind == "artifact":
            return verify_file(path, signature, policy, subject=shown)
        explicit = paths.inside(path, ignore)
        return verify_model(path, signature, policy, ignore=explicit, allow=relative, subject=shown)

    return _attempt("signature", shown, run)
