"""Deciding what a promotion or rollback changes. Pure: no git, no network, no clock of its own.

Rules of the ladder (``environments`` in the configuration, in order):
- the first environment takes the model as it is in the repository (its evidence must show a
  passing gate report); every later one takes exactly the entry the previous environment runs on
  the default branch, so a digest can only move one rung at a time and skipping is impossible;
- an environment pinned by a rollback refuses promotions until ``--unpin``;
- a rollback takes a version from the environment's own history and pins it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from mlops_ci.errors import MlopsCiError
from mlops_ci.oci.reference import is_oci_reference
from mlops_ci.promote.state import EnvironmentState, StateEntry, state_path

BRANCH_PREFIX = "mlops-ci/promote"
_UNSAFE_REF = re.compile(r"[^A-Za-z0-9._+-]+")

Kind = Literal["promote", "rollback", "unpin"]


class PromotionRefused(MlopsCiError):
    """A promotion the gates refuse (ladder skip, unknown digest, bad signature, pinned): exit 1."""

    exit_code = 1
    label = "refused"


@dataclass(frozen=True)
class Candidate:
    """The model for the first environment of the ladder: as found in the repository (with the
    commit holding it), or an artifact in a registry named by digest (``commit`` None)."""

    artifact: str
    digest: str
    signature: str | None
    attestation: str | None
    commit: str | None


@dataclass(frozen=True)
class PromotionPlan:
    """Everything ``apply`` needs to make the change, and the reviewers need to judge it."""

    model: str
    environment: str
    source: str | None  # the environment promoted from (None: the repository, for the first)
    entry: StateEntry
    current: StateEntry | None
    state_file: str
    branch: str
    title: str
    commit_message: str
    rollback: bool = False
    kind: Kind = "promote"


def _ref_part(text: str) -> str:
    return _UNSAFE_REF.sub("-", text).strip(".-") or "x"


def branch_name(
    model: str,
    environment: str,
    version: str,
    *,
    kind: Kind = "promote",
    digest: str = "",
    since: str = "new",
) -> str:
    """``mlops-ci/promote/<model>/<env>/<version>-<kind>-<digest12>-<since>``, git-safe.

    One name per requested transition: the kind and the target digest say what is asked, and
    ``since`` names the state it is asked from (the commit of the environment's last change of
    the model, see :func:`transition_origin`). A re-run of the same request finds the same
    branch and adopts its open PR; the same transition asked again after the environment
    changed (a rollback to a release merged before, a roll-forward after it) gets a new branch,
    so it can never be mistaken for the old, merged one. Every kind shares
    :func:`branch_prefix`, so a new request supersedes any open one for the same environment.
    """
    short = digest.partition(":")[2][:12] or digest[:12]
    tail = "-".join(p for p in (version, kind, short, since) if p)
    return "/".join([BRANCH_PREFIX, _ref_part(model), _ref_part(environment), _ref_part(tail)])


def branch_prefix(model: str, environment: str) -> str:
    """The prefix shared by every promotion branch of ``model`` into ``environment``."""
    return "/".join([BRANCH_PREFIX, _ref_part(model), _ref_part(environment)]) + "/"


def transition_origin(current: StateEntry | None, last_change: str | None) -> str:
    """What a transition starts from, for its branch name: the commit that last changed the
    model's entry on the default branch (``last_change``), else a hash of the current entry
    (callers without git), else ``new`` (the environment never ran the model)."""
    if last_change:
        return last_change[:10]
    if current is None:
        return "new"
    canonical = json.dumps(current.to_mapping(), sort_keys=True).encode()
    return hashlib.sha256(canonical).hexdigest()[:10]


def previous_environment(ladder: Sequence[str], environment: str) -> str | None:
    """The rung below ``environment`` (None for the first)."""
    index = list(ladder).index(environment)
    return ladder[index - 1] if index > 0 else None


def plan_promotion(
    *,
    model: str,
    environment: str,
    ladder: Sequence[str],
    state_dir: str,
    states: Mapping[str, EnvironmentState],
    candidate: Candidate | None,
    version: str | None,
    actor: str,
    now_iso: str,
    unpin: bool = False,
    last_change: str | None = None,
) -> PromotionPlan | None:
    """Plan promoting ``model`` into ``environment``; None when it already runs that release.

    ``candidate`` is the repository's model (used for the first environment only); ``version``
    is required there and, for later environments, must match what the previous one runs.
    ``last_change``: the commit of the environment's last change of the model (branch name).
    None is returned only when the environment's current entry already runs exactly the
    requested bytes under the requested version, unpinned: never because of a branch's past.
    """
    source = previous_environment(ladder, environment)
    current = states[environment].entry(model)
    if source is None:
        if candidate is None:
            raise PromotionRefused(f"no model files to promote into {environment}")
        if not version:
            raise PromotionRefused(
                f"give --version, or set governance.version in the card of {model}"
            )
        entry = StateEntry(
            version=version,
            artifact=candidate.artifact,
            digest=candidate.digest,
            signature=candidate.signature,
            attestation=candidate.attestation,
            promoted_from={"commit": candidate.commit} if candidate.commit else {},
            promoted_at=now_iso,
            promoted_by=actor,
        )
    else:
        upstream = states[source].entry(model)
        if upstream is None:
            raise PromotionRefused(
                f"{source} does not run {model}; promote it to {source} first"
                f" (environments are promoted in order: {' -> '.join(ladder)})"
            )
        if version and version != upstream.version:
            raise PromotionRefused(
                f"{source} runs {model} {upstream.version}, not {version}; only what {source}"
                f" runs can be promoted to {environment}"
            )
        carried = (
            {"commit": upstream.promoted_from["commit"]}
            if "commit" in upstream.promoted_from
            else {}
        )
        entry = replace(
            upstream,
            promoted_from={"environment": source, **carried},
            promoted_at=now_iso,
            promoted_by=actor,
            pinned=False,
            rollback_of=None,
        )
    if current is not None and current.pinned and not unpin:
        raise PromotionRefused(
            f"{environment} is pinned to {model} {current.version} by a rollback;"
            " pass --unpin to promote over it"
        )
    if entry.same_place(current) and not (current is not None and current.pinned):
        return None
    origin = source or "the repository"
    kind: Kind = "unpin" if current is not None and current.pinned else "promote"
    title = f"Promote {model} {entry.version} to {environment}"
    if kind == "unpin":
        title += f" (unpin {current.version if current else ''})"
    message = (
        f"{title}\n\nFrom: {origin}\nDigest: {entry.digest}\nArtifact: {entry.artifact}\n"
        f"Bytes: {_bytes_at(entry)}\n"
        f"Previous: {current.version + ' ' + current.digest if current else 'none'}\n"
    )
    return PromotionPlan(
        model=model,
        environment=environment,
        source=source,
        entry=entry,
        current=current,
        state_file=state_path(state_dir, environment),
        branch=branch_name(
            model,
            environment,
            entry.version,
            kind=kind,
            digest=entry.digest,
            since=transition_origin(current, last_change),
        ),
        title=title,
        commit_message=message,
        kind=kind,
    )


def _bytes_at(entry: StateEntry) -> str:
    """``COMMIT:PATH``: where the entry's exact bytes live (``git show`` takes it as is); an
    artifact in a registry is its own digest-pinned reference."""
    if is_oci_reference(entry.artifact):
        return entry.artifact
    commit = entry.promoted_from.get("commit")
    return f"{commit}:{entry.artifact}" if commit else f"(no commit) {entry.artifact}"


def plan_rollback(
    *,
    model: str,
    environment: str,
    state_dir: str,
    current: StateEntry | None,
    history: Sequence[tuple[str, StateEntry]],
    version: str,
    actor: str,
    now_iso: str,
) -> PromotionPlan:
    """Plan pinning ``environment`` back to ``version`` of ``model`` from its own history.

    ``history`` is ``(commit, entry)`` pairs of what the environment ran, newest first; its
    first commit is the environment's last change of the model (it names the branch).
    """
    match = next(((c, e) for c, e in history if e.version == version), None)
    if match is None:
        known = ", ".join(dict.fromkeys(e.version for _, e in history)) or "none"
        raise PromotionRefused(
            f"{environment} never ran {model} {version}; versions in its history: {known}"
        )
    commit, past = match
    if current is not None and current.same_release(past) and current.pinned:
        raise PromotionRefused(f"{environment} is already pinned to {model} {version}")
    entry = replace(
        past,
        # the artifact's own commit (where its files and signature are), not the state commit
        promoted_from={"environment": environment}
        if is_oci_reference(past.artifact)  # a registry artifact is named by its digest
        else {"environment": environment, "commit": past.promoted_from.get("commit", commit)},
        promoted_at=now_iso,
        promoted_by=actor,
        pinned=True,
        rollback_of=current.version if current else None,
    )
    title = f"Roll back {model} in {environment} to {version}"
    message = (
        f"{title}\n\nDigest: {entry.digest}\nFrom the history of {environment} at {commit}\n"
        f"Bytes: {_bytes_at(entry)}\n"
        f"Replaces: {current.version + ' ' + current.digest if current else 'none'}\n"
        "The environment stays pinned until a promotion with --unpin.\n"
    )
    return PromotionPlan(
        model=model,
        environment=environment,
        source=environment,
        entry=entry,
        current=current,
        state_file=state_path(state_dir, environment),
        branch=branch_name(
            model,
            environment,
            version,
            kind="rollback",
            digest=entry.digest,
            since=transition_origin(current, history[0][0] if history else None),
        ),
        title=title,
        commit_message=message,
        rollback=True,
        kind="rollback",
    )
