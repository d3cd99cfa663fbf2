"""Checking a promotion's evidence: the bytes, the signature, the attestation and the policies.

A promotion carries a state entry (digest, signature, attestation). Before it may land:
the model files in the repository must hash to that digest (the OMS root); the signature must
verify under the configured identity policy and vouch for that digest; the gate-report
attestation must verify, name that digest as its subject and (for the first environment) record
a passing gate; and the target environment's policy packs must pass on the attestation's facts.
Any doubt refuses the promotion with a reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlops_ci.config import LoadedConfig
from mlops_ci.policy.engine import RuleOutcome, evaluate_packs
from mlops_ci.policy.facts import empty_facts
from mlops_ci.policy.pack import load_pack
from mlops_ci.promote.plan import PromotionRefused
from mlops_ci.promote.state import StateEntry


@dataclass(frozen=True)
class Evidence:
    """What was verified for a promotion."""

    digest: str
    mode: str
    identity: str | None
    issuer: str | None
    predicate: Mapping[str, Any]
    outcomes: Sequence[RuleOutcome] = field(default_factory=tuple)


def verify_evidence(
    loaded: LoadedConfig,
    model: str,
    entry: StateEntry,
    *,
    environment: str,
    previous: str | None,
    previous_digest: str | None,
    first: bool,
) -> Evidence:
    """Verify ``entry``'s evidence for a promotion into ``environment``; raise PromotionRefused."""
    from mlops_ci.signing import (
        VerificationError,
        attestation_path,
        model_digest,
        policy_from_config,
        signature_path,
        verify_attestation,
        verify_model,
    )

    artifact = loaded.resolve(entry.artifact)
    if not artifact.exists() or loaded.root.resolve() not in (artifact, *artifact.parents):
        raise PromotionRefused(
            f"{model}: artifact {entry.artifact} is not in this repository; promotions verify the"
            " model files in the checkout"
        )
    signature = loaded.resolve(entry.signature) if entry.signature else signature_path(artifact)
    attestation = (
        loaded.resolve(entry.attestation) if entry.attestation else attestation_path(signature)
    )
    ignore = [p for p in (signature, attestation) if artifact.is_dir() and artifact in p.parents]
    local = model_digest(artifact, ignore=ignore)
    if local != entry.digest:
        raise PromotionRefused(
            f"{model}: the files at {entry.artifact} have digest {local}, not {entry.digest}"
        )
    policy = policy_from_config(loaded)
    try:
        verified = verify_model(artifact, signature, policy, ignore=ignore, subject=entry.artifact)
        if verified.digest != entry.digest:
            raise PromotionRefused(
                f"{model}: the signature vouches for {verified.digest}, not {entry.digest}"
            )
        attested = verify_attestation(
            attestation, policy, expected_digest=entry.digest, subject=str(attestation.name)
        )
    except VerificationError as exc:
        raise PromotionRefused(f"{model}: {exc}") from None
    predicate = dict(attested.predicate)
    if first and _verdict(predicate) != "pass":
        raise PromotionRefused(
            f"{model}: the gate report behind this model did not pass (verdict"
            f" {_verdict(predicate)!r}); fix the findings and sign again"
        )
    facts = facts_from_attestation(
        loaded,
        model,
        predicate,
        signature={
            "signed": True,
            "verified": True,
            "mode": verified.mode,
            "identity": verified.identity,
            "issuer": verified.issuer,
            "digest": verified.digest,
            "attestation_verified": True,
        },
        target={
            "environment": environment,
            **({"previous": previous} if previous else {}),
            **({"previous_digest": previous_digest} if previous_digest else {}),
        },
    )
    packs = [
        load_pack(ref, loaded.root) for ref in loaded.config.promotion.policies.get(environment, [])
    ]
    outcomes = evaluate_packs(packs, facts)
    failed = [o for o in outcomes if o.outcome in ("fail", "error")]
    if failed:
        reasons = "; ".join(f"{o.rule.id}: {o.message}" for o in failed)
        raise PromotionRefused(f"{model}: the {environment} policies refuse it: {reasons}")
    return Evidence(
        verified.digest, verified.mode, verified.identity, verified.issuer, predicate, outcomes
    )


def _verdict(predicate: Mapping[str, Any]) -> str:
    model = predicate.get("model")
    if isinstance(model, Mapping) and "verdict" in model:
        return str(model["verdict"])
    report = predicate.get("report")
    return str(report.get("verdict")) if isinstance(report, Mapping) else "unknown"


def facts_from_attestation(
    loaded: LoadedConfig,
    model: str,
    predicate: Mapping[str, Any],
    *,
    signature: Mapping[str, Any],
    target: Mapping[str, Any],
) -> dict[str, Any]:
    """The facts document of a promotion: the attested gate results plus verified identity."""
    from mlops_ci.card.validate import read_card_text, validate_card

    facts = empty_facts()
    facts["model"] = {"name": model}
    facts["signature"] = dict(signature)
    facts["target"] = dict(target)
    facts["environments"] = list(loaded.config.environments)
    for item in predicate.get("checks") or []:
        if isinstance(item, Mapping) and item.get("model") in (model, None):
            counts = dict.fromkeys(("info", "low", "medium", "high", "critical"), 0)
            counts.update({str(k): int(v) for k, v in (item.get("findings") or {}).items()})
            name = str(item.get("check", "")).replace("-", "_")
            facts["checks"][name] = {"status": item.get("status"), "findings": counts}
    if isinstance(predicate.get("vulnerabilities"), Mapping):
        facts["deps"] = dict(predicate["vulnerabilities"])
    if isinstance(predicate.get("benchmark"), Mapping):
        facts["bench"] = dict(predicate["benchmark"])
    if isinstance(predicate.get("sbom"), Mapping):
        facts["sbom"] = dict(predicate["sbom"])
    configured = next((m for m in loaded.config.models if m.name == model), None)
    if configured is not None and configured.card:
        path = loaded.resolve(configured.card)
        if path.is_file():
            shown = loaded.display(path)
            facts["card"] = validate_card(read_card_text(path, shown), shown).facts()
    return facts
