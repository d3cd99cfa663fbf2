"""Promotion and rollback end to end: config, repository, evidence, plan, and landing."""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from mlops_ci.config import LoadedConfig
from mlops_ci.forge.detect import ForgeTarget, detect_kind, make_forge
from mlops_ci.promote.apply import Landed, PullSettings, land
from mlops_ci.promote.body import pull_body, status_comment
from mlops_ci.promote.evidence import Evidence, verify_evidence
from mlops_ci.promote.gitwork import Author, PromotionRepo
from mlops_ci.promote.history import Change, changes, history_entries, read_states
from mlops_ci.promote.plan import (
    Candidate,
    PromotionPlan,
    PromotionRefused,
    plan_promotion,
    plan_rollback,
)
from mlops_ci.promote.state import set_entry


@dataclass(frozen=True)
class PromoteRequest:
    """``mlops-ci promote`` / ``rollback`` arguments."""

    model: str
    environment: str
    version: str | None = None
    forge: str | None = None
    dry_run: bool = False
    unpin: bool = False
    rollback_to: str | None = None
    artifact: str | None = None  # ``--artifact oci://...@sha256:...`` (first environment only)


@dataclass(frozen=True)
class Outcome:
    """What a promotion did (or, in a dry run, would do)."""

    landed: Landed | None
    plan: PromotionPlan | None
    evidence: Evidence | None
    diff: str = ""


def open_repo(loaded: LoadedConfig) -> PromotionRepo:
    """The repository of the configuration, through the configured remote."""
    settings = loaded.config.promotion
    return PromotionRepo(loaded.root, settings.remote, settings.default_branch)


def _ci_or_git_author(environ: Mapping[str, str], repo: PromotionRepo) -> Author:
    if environ.get("GITHUB_ACTOR"):
        name = environ["GITHUB_ACTOR"]
        return Author(name, f"{name}@users.noreply.github.com")
    if environ.get("GITLAB_USER_LOGIN"):
        return Author(
            environ["GITLAB_USER_LOGIN"], environ.get("GITLAB_USER_EMAIL", "gitlab@localhost")
        )
    reader = repo.repo.config_reader()
    name = str(reader.get_value("user", "name", "")) or environ.get("USER", "mlops-ci")
    email = str(reader.get_value("user", "email", "")) or "mlops-ci@localhost"
    return Author(name, email)


def commit_author(loaded: LoadedConfig, environ: Mapping[str, str], repo: PromotionRepo) -> Author:
    """The configured promotion author, else the CI or git user."""
    configured = loaded.config.promotion.author
    if configured is not None:
        return Author(configured.name, configured.email)
    return _ci_or_git_author(environ, repo)


def forge_for(
    loaded: LoadedConfig, repo: PromotionRepo, requested: str | None, environ: Mapping[str, str]
) -> ForgeTarget:
    """The forge to open the PR/MR on."""
    url = repo.remote_url()
    kind = detect_kind(requested or loaded.config.forge.kind, url, environ)
    return make_forge(kind, loaded.config.forge, url, environ)


def _candidate(loaded: LoadedConfig, repo: PromotionRepo, model: str) -> Candidate:
    from mlops_ci.signing import attestation_path, model_digest, signature_path

    configured = loaded.model_named(model)
    artifact = loaded.resolve(configured.path)
    signature = signature_path(artifact)
    attestation = attestation_path(signature)
    ignore = [p for p in (signature, attestation) if artifact.is_dir() and artifact in p.parents]
    return Candidate(
        artifact=configured.path,
        digest=model_digest(artifact, ignore=ignore) if artifact.exists() else "missing",
        signature=loaded.display(signature),
        attestation=loaded.display(attestation),
        commit=repo.head(),
    )


def _registry_candidate(artifact: str) -> Candidate:
    """The first rung's candidate from a registry: the digest its manifest claims (the
    signature must vouch for it before anything lands), no commit (the digest names the bytes)."""
    from mlops_ci.promote.oci_entry import artifact_reference, claimed_digest

    reference = artifact_reference(artifact)
    return Candidate(str(reference), claimed_digest(reference, PromotionRefused), None, None, None)


def _known_bytes(repo: PromotionRepo, candidate: Candidate, past: Sequence[Change]) -> Candidate:
    """The candidate naming the commit its bytes were promoted from before, if the environment
    ran them: one version lives at one commit (GTO registers each version once), so a roll
    forward after a rollback names the bytes' own commit, not whatever the checkout's HEAD is."""
    for change in past:  # newest first
        entry = change.entry
        commit = entry.promoted_from.get("commit") if entry is not None else None
        if (
            entry is not None
            and commit
            and entry.digest == candidate.digest
            and repo.is_ancestor(commit, repo.default_ref)
        ):
            return replace(candidate, commit=commit)
    return candidate


def _card_version(loaded: LoadedConfig, model: str) -> str | None:
    from mlops_ci.card.validate import read_card_text, validate_card

    configured = loaded.model_named(model)
    if configured.card is None or not loaded.resolve(configured.card).is_file():
        return None
    path = loaded.resolve(configured.card)
    card = validate_card(read_card_text(path, configured.card), configured.card)
    governance = card.metadata.governance if card.metadata else None
    return governance.version if governance else None


def promote(
    loaded: LoadedConfig,
    request: PromoteRequest,
    environ: Mapping[str, str],
    now: dt.datetime | None = None,
) -> Outcome:
    """Promote (or roll back) ``request.model`` into ``request.environment``."""
    env = loaded.environment(request.environment)
    loaded.model_named(request.model)
    ladder = loaded.config.environments
    if request.artifact is not None:
        _check_artifact_request(request, ladder)
    state_dir = loaded.config.state_dir
    names = [m.name for m in loaded.config.models]
    repo = open_repo(loaded)
    try:
        when = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
        author = commit_author(loaded, environ, repo)
        evidence_box: list[Evidence] = []
        first = ladder.index(env) == 0

        def planner() -> PromotionPlan | None:
            states = read_states(repo, repo.default_ref, state_dir, ladder, models=names)
            # the environment's past of this model names the transition (the branch), so the
            # same request asked again after a change is a new branch, never an old merged one
            past = changes(repo, repo.default_ref, state_dir, env, request.model, models=names)
            if request.rollback_to is not None:
                history = history_entries(past)
                plan: PromotionPlan | None = plan_rollback(
                    model=request.model,
                    environment=env,
                    state_dir=state_dir,
                    current=states[env].entry(request.model),
                    history=history,
                    version=request.rollback_to,
                    actor=author.name,
                    now_iso=when,
                )
            else:
                plan = plan_promotion(
                    model=request.model,
                    environment=env,
                    ladder=ladder,
                    state_dir=state_dir,
                    states=states,
                    candidate=_first_candidate(loaded, repo, request, past) if first else None,
                    version=request.version
                    or (_card_version(loaded, request.model) if first else None),
                    actor=author.name,
                    now_iso=when,
                    unpin=request.unpin,
                    last_change=past[0].commit if past else None,
                )
            in_git = plan is not None and "commit" in plan.entry.promoted_from
            if plan is not None:
                if first and not plan.rollback and in_git:
                    _bytes_on_default_branch(repo, plan)
                previous = plan.source if not plan.rollback and plan.source else None
                evidence_box[:] = [
                    verify_evidence(
                        loaded,
                        request.model,
                        plan.entry,
                        environment=env,
                        previous=previous,
                        previous_digest=states[previous].entry(request.model).digest  # type: ignore[union-attr]
                        if previous
                        else None,
                        first=first and not plan.rollback,
                        repo=repo,
                    )
                ]
                if first and not plan.rollback and in_git:
                    _bytes_at_commit(repo, plan)
            return plan

        if request.dry_run:
            repo.fetch()
            plan = planner()
            diff = _diff(repo, plan) if plan else ""
            return Outcome(None, plan, evidence_box[0] if evidence_box else None, diff)
        target = forge_for(loaded, repo, request.forge, environ)
        settings = loaded.config.promotion
        landed = land(
            planner,
            repo,
            target,
            author=author,
            body=lambda p: pull_body(p, evidence_box[0] if evidence_box else None),
            comment=lambda p: status_comment(p, evidence_box[0] if evidence_box else None, when),
            settings=PullSettings(settings.labels, settings.reviewers),
            attempts=settings.push_retries,
        )
        return Outcome(landed, landed.plan, evidence_box[0] if evidence_box else None)
    finally:
        repo.close()


def _check_artifact_request(request: PromoteRequest, ladder: Sequence[str]) -> None:
    """``--artifact`` names what the first environment takes; later ones copy the rung below."""
    from mlops_ci.errors import UsageError
    from mlops_ci.promote.oci_entry import artifact_reference

    artifact_reference(request.artifact or "")  # a tag, or no oci:// reference: exit 2
    if request.rollback_to is not None or request.environment != ladder[0]:
        raise UsageError(
            f"--artifact applies to the first environment ({ladder[0]}) only; later environments"
            " take exactly what the one below runs: drop --artifact"
        )


def _first_candidate(
    loaded: LoadedConfig, repo: PromotionRepo, request: PromoteRequest, past: Sequence[Change]
) -> Candidate:
    if request.artifact is not None:
        return _registry_candidate(request.artifact)
    return _known_bytes(repo, _candidate(loaded, repo, request.model), past)


def _bytes_on_default_branch(repo: PromotionRepo, plan: PromotionPlan) -> None:
    """The commit a first-rung entry names must be one the default branch holds.

    Otherwise the entry would name bytes that a deploy job (``mlops-ci fetch``, ``git show``)
    cannot read from the remote, and ``promote verify`` would rightly refuse the PR.
    """
    commit = plan.entry.promoted_from.get("commit", "")
    if not repo.is_ancestor(commit, repo.default_ref):
        raise PromotionRefused(
            f"{plan.model}: the checked-out commit {commit[:12]} is not on"
            f" {repo.remote}/{repo.default_branch}; push it (the state entry names the commit"
            " its bytes come from) and promote again"
        )


def _bytes_at_commit(repo: PromotionRepo, plan: PromotionPlan) -> None:
    """The first rung's entry names the checked-out commit: its tree must hold the very bytes
    that were verified (an uncommitted, re-signed model would make the entry name other bytes)."""
    from mlops_ci.promote.evidence import digest_at_commit

    commit = plan.entry.promoted_from.get("commit", "")
    found = digest_at_commit(repo, plan.entry, commit)
    if found != plan.entry.digest:
        raise PromotionRefused(
            f"{plan.model}: the model files differ from commit {commit[:12]} ({found} there,"
            f" {plan.entry.digest} here); commit and push them, then promote again"
        )


def _diff(repo: PromotionRepo, plan: PromotionPlan) -> str:
    old = repo.read_at(repo.default_ref, plan.state_file) or ""
    new = set_entry(old or None, plan.model, plan.entry)
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"a/{plan.state_file}",
            tofile=f"b/{plan.state_file}",
        )
    )
