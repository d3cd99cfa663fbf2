"""Checking a promotion's evidence: the bytes, the signature, the attestation and the policies.

A promotion carries a state entry (digest, signature, attestation). Before it may land:
the model files in the repository must hash to that digest (the OMS root); the signature must
verify under the configured identity policy and vouch for that digest; the gate-report
attestation must verify, name that digest as its subject and (for the first environment) record
a passing gate; and the target environment's policy packs must pass on the attestation's facts.
Any doubt refuses the promotion with a reason.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_ci.config import LoadedConfig
from mlops_ci.policy.engine import Budget, RuleOutcome, evaluate_packs
from mlops_ci.policy.facts import empty_facts
from mlops_ci.policy.pack import load_pack
from mlops_ci.promote.gitwork import PromotionRepo
from mlops_ci.promote.plan import PromotionRefused
from mlops_ci.promote.state import StateEntry
from mlops_ci.safepath import confine


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
    repo: PromotionRepo | None = None,
    from_commit: bool = False,
) -> Evidence:
    """Verify ``entry``'s evidence for a promotion into ``environment``; raise PromotionRefused.

    The files are those of the checkout when they hash to the entry's digest; otherwise (a
    newer model is already on the default branch, or a rollback) they are taken from the commit
    the entry was first promoted from (``promoted_from.commit``). ``from_commit`` never reads
    the checkout (``promote verify``: the checkout is the pull request's).
    """
    from mlops_ci.promote.oci_entry import is_oci_entry

    if is_oci_entry(entry):  # the bytes and the evidence are the registry's, never the checkout's
        return _verify_in_registry(
            loaded, model, entry, environment, previous, previous_digest, first
        )
    root = loaded.root.resolve()
    artifact = (root / entry.artifact).resolve()
    if root not in (artifact, *artifact.parents):
        raise PromotionRefused(f"{model}: artifact {entry.artifact} is outside the repository")
    here: str | None = None
    if not from_commit:
        try:
            here = _digest_of(entry, root)
        except PromotionRefused:
            here = None  # the checkout's files are unusable: the entry's commit may hold good ones
    if here == entry.digest:
        return _verify_at(loaded, root, model, entry, environment, previous, previous_digest, first)
    commit = entry.promoted_from.get("commit")
    if repo is None or not commit:
        raise PromotionRefused(
            f"{model}: the files at {entry.artifact} do not have digest {entry.digest}, and the"
            " entry names no commit that holds them"
        )
    with tempfile.TemporaryDirectory(prefix="mlops-ci-evidence-") as tmp:
        where = Path(tmp)
        repo.extract(commit, [p for p in _evidence_paths(entry) if p], where)
        repo.extract(commit, _data_paths(entry, where), where)
        local = _digest_of(entry, where)
        if local != entry.digest:
            raise PromotionRefused(
                f"{model}: {entry.artifact} at commit {commit[:12]} has digest {local},"
                f" not {entry.digest}"
            )
        return _verify_at(
            loaded, where, model, entry, environment, previous, previous_digest, first
        )


def digest_at_commit(repo: PromotionRepo, entry: StateEntry, commit: str) -> str:
    """The OMS digest of ``entry``'s model files as ``commit`` holds them (``missing`` if absent).

    Only the model's own file set is read (the artifact, and a single ONNX file's external data).
    """
    with tempfile.TemporaryDirectory(prefix="mlops-ci-bytes-") as tmp:
        where = Path(tmp)
        repo.extract(commit, [entry.artifact], where)
        repo.extract(commit, _data_paths(entry, where), where)
        return _digest_of(entry, where)


def _evidence_paths(entry: StateEntry) -> list[str]:
    from mlops_ci.signing import attestation_path, signature_path

    signature = entry.signature or signature_path(Path(entry.artifact)).as_posix()
    attestation = entry.attestation or attestation_path(Path(signature)).as_posix()
    return [entry.artifact, signature, attestation]


def _data_paths(entry: StateEntry, where: Path) -> list[str]:
    """The external data files a single-file ONNX artifact (extracted under ``where``) names:
    part of the model, so fetched from the same commit (refused locations are never fetched)."""
    from mlops_ci.signing.scope import declared_data_paths

    artifact = where / entry.artifact
    if artifact.is_dir():
        return []
    parent = Path(entry.artifact).parent
    return [(parent / p).as_posix() for p in declared_data_paths(artifact)]


def _files(entry: StateEntry, root: Path) -> tuple[Path, Path, Path, list[Path]]:
    artifact_rel, signature_rel, attestation_rel = _evidence_paths(entry)
    # A state file is pull-request input: each path it names stays inside the tree checked.
    artifact, signature, attestation = (
        confine(p, root, what="state entry path", error=PromotionRefused)
        for p in (artifact_rel, signature_rel, attestation_rel)
    )
    ignore = [p for p in (signature, attestation) if artifact.is_dir() and artifact in p.parents]
    return artifact, signature, attestation, ignore


def _digest_of(entry: StateEntry, root: Path) -> str:
    from mlops_ci.signing import model_digest
    from mlops_ci.signing.scope import ExternalDataError

    artifact, _, _, ignore = _files(entry, root)
    try:
        return model_digest(artifact, ignore=ignore) if artifact.exists() else "missing"
    except ExternalDataError as refused:
        raise PromotionRefused(f"{entry.artifact}: {refused.reason}") from None


def _verify_at(
    loaded: LoadedConfig,
    root: Path,
    model: str,
    entry: StateEntry,
    environment: str,
    previous: str | None,
    previous_digest: str | None,
    first: bool,
) -> Evidence:
    from mlops_ci.signing import (
        VerificationError,
        policy_from_config,
        verify_attestation,
        verify_model,
    )

    artifact, signature, attestation, ignore = _files(entry, root)
    policy = policy_from_config(loaded)
    try:
        verified = verify_model(artifact, signature, policy, allow=ignore, subject=entry.artifact)
        if verified.digest != entry.digest:
            raise PromotionRefused(
                f"{model}: the signature vouches for {verified.digest}, not {entry.digest}"
            )
        attested = verify_attestation(
            attestation, policy, expected_digest=entry.digest, subject=attestation.name
        )
    except VerificationError as exc:
        raise PromotionRefused(f"{model}: {exc}") from None
    return _judge(
        loaded,
        model,
        verified,
        dict(attested.predicate),
        environment,
        previous,
        previous_digest,
        first,
    )


def _verify_in_registry(
    loaded: LoadedConfig,
    model: str,
    entry: StateEntry,
    environment: str,
    previous: str | None,
    previous_digest: str | None,
    first: bool,
) -> Evidence:
    """Pull an OCI entry's artifact with its referrers and verify them (``oci_entry``)."""
    from mlops_ci.promote.oci_entry import pull_verified

    with tempfile.TemporaryDirectory(prefix="mlops-ci-evidence-") as tmp:
        found = pull_verified(loaded, model, entry, Path(tmp), PromotionRefused)
    return _judge(
        loaded,
        model,
        found.signature,
        found.predicate,
        environment,
        previous,
        previous_digest,
        first,
    )


def _judge(
    loaded: LoadedConfig,
    model: str,
    verified: Any,
    predicate: dict[str, Any],
    environment: str,
    previous: str | None,
    previous_digest: str | None,
    first: bool,
) -> Evidence:
    """The gate verdict (first environment) and the environment's packs on verified evidence."""
    if first and attested_verdict(predicate) != "pass":
        raise PromotionRefused(
            f"{model}: the gate report behind this model did not pass (verdict"
            f" {attested_verdict(predicate)!r}); fix the findings and sign again"
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
    limits = loaded.config.policy
    outcomes = evaluate_packs(packs, facts, Budget(limits.max_cost, limits.timeout_s))
    failed = [o for o in outcomes if o.outcome in ("fail", "error")]
    if failed:
        reasons = "; ".join(f"{o.rule.id}: {o.message}" for o in failed)
        raise PromotionRefused(f"{model}: the {environment} policies refuse it: {reasons}")
    return Evidence(
        verified.digest, verified.mode, verified.identity, verified.issuer, predicate, outcomes
    )


def attested_verdict(predicate: Mapping[str, Any]) -> str:
    """The gate verdict an attestation's predicate records for its model (``unknown`` if none)."""
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
