"""``promote verify`` for one changed entry: is it exactly what a promotion or rollback makes?

Every changed entry is verified in full, pins and rollbacks included, against the trusted base:

- its artifact, signature and attestation are the configured model's paths (from the base
  branch's configuration), never a path the entry chooses;
- a promotion is the previous environment's entry on the base branch, field for field (only
  ``promoted_at``/``promoted_by`` are new), with ``promoted_from.environment`` naming it; the
  first environment names only the commit the model was signed at;
- a rollback (pinned, promoted from its own environment) is a release from that environment's
  history on the base branch: same version, digest, artifact and evidence, same commit;
- ``promoted_from.commit`` is a commit reachable from the base branch (not one only the PR
  has), and the evidence is verified on the bytes at that commit with the configured keys or
  identities, the gate verdict (first environment) and the environment's promotion policies.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mlops_ci.config import LoadedConfig
from mlops_ci.findings import Finding, Location, Severity, fingerprint
from mlops_ci.promote.evidence import verify_evidence
from mlops_ci.promote.gitwork import PromotionRepo
from mlops_ci.promote.history import changes, history_entries
from mlops_ci.promote.oci_entry import is_oci_entry
from mlops_ci.promote.plan import PromotionRefused, previous_environment
from mlops_ci.promote.state import EnvironmentState, StateEntry


@dataclass(frozen=True)
class ReviewContext:
    """What every entry is judged against: the base commit and its (trusted) configuration."""

    loaded: LoadedConfig
    repo: PromotionRepo
    base: str
    state_at_base: Callable[[str], EnvironmentState]

    @property
    def names(self) -> list[str]:
        """The configured model names."""
        return [m.name for m in self.loaded.config.models]


def finding(rule: str, severity: Severity, where: Location, message: str, *ident: str) -> Finding:
    """A promote-verify finding with a fingerprint that ignores line numbers."""
    return Finding(rule, severity, message, where, fingerprint(rule, where.path, *ident))


def review_entry(
    ctx: ReviewContext,
    env: str,
    path: str,
    model: str,
    old: StateEntry | None,
    new: StateEntry | None,
    verified: list[dict[str, Any]] | None = None,
) -> Finding | None:
    """The finding that refuses this change of ``model`` in ``env``, or None when it is valid
    (then what was verified is appended to ``verified``, when given)."""
    where = Location(path)
    if new is None:
        return finding(
            "PROMOTE-REMOVED",
            Severity.HIGH,
            where,
            f"{model} was removed from {env}; environments only change by promotion or rollback",
            model,
        )
    problem = _paths_problem(ctx.loaded, model, new)
    if problem:
        return finding("PROMOTE-ARTIFACT", Severity.CRITICAL, where, f"{model}: {problem}", model)
    rollback = new.pinned and new.promoted_from.get("environment") == env
    if rollback:
        refusal = _rollback_problem(ctx, env, model, old, new)
        if refusal:
            return finding("PROMOTE-ROLLBACK", Severity.CRITICAL, where, refusal, model)
        source, previous_digest = None, None
    else:
        source = previous_environment(ctx.loaded.config.environments, env)
        refusal = _ladder_problem(ctx, env, model, source, new)
        if refusal:
            return finding("PROMOTE-LADDER", Severity.CRITICAL, where, refusal, model)
        upstream = ctx.state_at_base(source).entry(model) if source else None
        previous_digest = upstream.digest if upstream else None
    commit = new.promoted_from.get("commit")
    in_registry = is_oci_entry(new)  # named by its manifest digest: no commit holds its bytes
    if not in_registry and (not commit or not ctx.repo.is_ancestor(commit, ctx.base)):
        what = (
            f"promoted_from.commit {commit[:12]} is not a commit of the base branch's history"
            " (a commit only in this PR, or none at all)"
            if commit
            else "promoted_from names no commit"
        )
        return finding(
            "PROMOTE-COMMIT",
            Severity.CRITICAL,
            where,
            f"{model} in {env}: {what}; the evidence must be read at a commit the base branch holds",
            model,
        )
    try:
        evidence = verify_evidence(
            ctx.loaded,
            model,
            new,
            environment=env,
            previous=source,
            previous_digest=previous_digest,
            first=not rollback and source is None,
            repo=ctx.repo,
            from_commit=True,
        )
    except PromotionRefused as exc:
        return finding("PROMOTE-EVIDENCE", Severity.CRITICAL, where, exc.message, model)
    if verified is not None:
        from mlops_ci.promote.review_summary import verified_entry

        packs = ctx.loaded.config.promotion.policies.get(env, [])
        verified.append(
            verified_entry(
                model, env, new, evidence, source=source, rollback=rollback, policies=packs
            )
        )
    return None


def expected_paths(loaded: LoadedConfig, model: str) -> tuple[str, str, str]:
    """The configured model's artifact, signature and attestation paths (repository-relative)."""
    from mlops_ci.signing import attestation_path, signature_path

    artifact = _normal(loaded.model_named(model).path)
    signature = signature_path(Path(artifact)).as_posix()
    return artifact, signature, attestation_path(Path(signature)).as_posix()


def _normal(path: str) -> str:
    return posixpath.normpath(path.replace("\\", "/")).rstrip("/")


def _paths_problem(loaded: LoadedConfig, model: str, new: StateEntry) -> str | None:
    if is_oci_entry(new):
        # The schema has checked the reference (digest form, no evidence paths); which model it
        # is, is proved by its signed attestation when the evidence is verified.
        return None
    artifact, signature, attestation = expected_paths(loaded, model)
    given = (
        ("artifact", new.artifact, artifact),
        ("signature", new.signature, signature),
        ("attestation", new.attestation, attestation),
    )
    for field, value, expected in given:
        if value is not None and _normal(value) != expected:
            return (
                f"{field} is not the configured model's {field} ({expected}); a state entry"
                " names the model the base branch's configuration names, never another path"
            )
    return None


def _ladder_problem(
    ctx: ReviewContext, env: str, model: str, source: str | None, new: StateEntry
) -> str | None:
    if new.pinned or new.rollback_of is not None:
        return (
            f"{model} in {env}: a pinned entry or rollback_of must be a rollback from {env}'s own"
            f" history (promoted_from.environment: {env})"
        )
    if source is None and is_oci_entry(new):
        if new.promoted_from:
            return (
                f"{model} in {env}: the first environment takes an artifact in a registry by"
                " its digest; promoted_from stays empty"
            )
        return None
    if source is None:
        if set(new.promoted_from) != {"commit"}:
            return (
                f"{model} in {env}: the first environment takes the model from the repository;"
                " promoted_from names only the commit it was signed at"
            )
        return None
    upstream = ctx.state_at_base(source).entry(model)
    if upstream is None or not new.same_release(upstream):
        ran = f"{upstream.version} {upstream.digest}" if upstream else "nothing"
        return (
            f"{env} would run {model} {new.version} {new.digest}, but {source} runs {ran}"
            f" on the base branch; promote through {source} first"
        )
    carried = (
        {"commit": upstream.promoted_from["commit"]} if "commit" in upstream.promoted_from else {}
    )
    expected = replace(
        upstream,
        promoted_from={"environment": source, **carried},
        promoted_at=new.promoted_at,
        promoted_by=new.promoted_by,
        pinned=False,
        rollback_of=None,
    )
    if new != expected:
        fields = [
            f
            for f in ("artifact", "signature", "attestation", "promoted_from")
            if getattr(new, f) != getattr(expected, f)
        ]
        return (
            f"{model} in {env}: {', '.join(fields)} differ from what {source} runs on the base"
            f" branch; a promotion copies {source}'s entry unchanged"
        )
    return None


def _rollback_problem(
    ctx: ReviewContext, env: str, model: str, old: StateEntry | None, new: StateEntry
) -> str | None:
    in_registry = is_oci_entry(new)
    expected_keys = {"environment"} if in_registry else {"environment", "commit"}
    if set(new.promoted_from) != expected_keys:
        what = "" if in_registry else " and the release's commit"
        return f"rollback of {model} in {env}: promoted_from must name {env}{what}"
    history = history_entries(
        changes(ctx.repo, ctx.base, ctx.loaded.config.state_dir, env, model, models=ctx.names)
    )
    claimed = new.promoted_from.get("commit")
    found = any(
        _same_evidence(new, past)
        and (in_registry or claimed == past.promoted_from.get("commit", commit))
        for commit, past in history
    )
    if not found:
        return (
            f"rollback of {model} in {env} to {new.version} {new.digest}: {env}'s history on"
            " the base branch has no release with this version, digest, artifact, evidence"
            " and commit"
        )
    expected = old.version if old is not None else None
    if new.rollback_of != expected:
        return (
            f"rollback of {model} in {env}: rollback_of must name the version {env} runs on the"
            f" base branch ({expected or 'none'})"
        )
    return None


def _same_evidence(one: StateEntry, other: StateEntry) -> bool:
    keys = ("version", "digest", "artifact", "signature", "attestation")
    return all(getattr(one, k) == getattr(other, k) for k in keys)
