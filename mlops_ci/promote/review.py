"""``mlops-ci promote verify``: the check that makes branch protection on state files meaningful.

Run on a PR/MR, it confirms the change touches only state files, and that every changed entry is
either a valid promotion (the previous environment runs that exact digest and version on the base
branch; the first environment's evidence shows a passing gate; signature, attestation and the
target environment's policies verify) or a valid rollback (a release from the environment's own
history, pinned). A hand edit that sets a digest the previous environment never ran fails.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mlops_ci import __version__
from mlops_ci.config import LoadedConfig
from mlops_ci.errors import InputError
from mlops_ci.findings import CheckResult, Finding, GitInfo, Location, Report, Severity, fingerprint
from mlops_ci.promote.evidence import verify_evidence
from mlops_ci.promote.gitwork import PromotionRepo
from mlops_ci.promote.history import changes, history_entries
from mlops_ci.promote.plan import PromotionRefused, previous_environment
from mlops_ci.promote.state import EnvironmentState, StateEntry, parse_state, state_path

CHECK = "promote-verify"


@dataclass(frozen=True)
class _Context:
    loaded: LoadedConfig
    repo: PromotionRepo
    base: str


def review(
    loaded: LoadedConfig, repo: PromotionRepo, base_ref: str | None, now: dt.datetime
) -> Report:
    """Check the change from ``base_ref`` (default: the remote default branch) to HEAD."""
    if base_ref is None:
        repo.fetch()
        base_ref = repo.default_ref
    base = repo.resolve(base_ref)
    if base is None:
        raise InputError(f"--base {base_ref!r} is not a commit or branch in this repository")
    ctx = _Context(loaded, repo, base)
    ladder = loaded.config.environments
    state_files = {state_path(loaded.config.state_dir, env): env for env in ladder}
    findings: list[Finding] = []
    changed = repo.changed_files(base, "HEAD")
    for path in changed:
        if path not in state_files:
            findings.append(
                _finding(
                    "PROMOTE-FOREIGN-FILE",
                    Severity.HIGH,
                    path,
                    f"{path} is not a state file: a promotion PR changes only {loaded.config.state_dir}<env>.yaml",
                )
            )
    checked = 0
    for path in changed:
        env = state_files.get(path)
        if env is None:
            continue
        before = parse_state(repo.read_at(base, path), env, path)
        after = parse_state(repo.read_at("HEAD", path), env, path)
        for model in sorted(set(before.models) | set(after.models)):
            old, new = before.entry(model), after.entry(model)
            if old == new:
                continue
            checked += 1
            findings += _review_entry(ctx, env, path, model, old, new)
    result = CheckResult(
        check=CHECK,
        status="passed",
        findings=tuple(findings),
        facts={"changed_files": changed, "entries_checked": checked},
    ).with_status(Severity.LOW)
    return Report(
        tool_version=__version__,
        started_at=now.isoformat(timespec="seconds"),
        git=GitInfo(commit=repo.head()),
        models=(),
        results=(result,),
        fail_on=Severity.LOW,
        config_path=loaded.display(loaded.path) if loaded.path else None,
    )


def _review_entry(
    ctx: _Context, env: str, path: str, model: str, old: StateEntry | None, new: StateEntry | None
) -> list[Finding]:
    if new is None:
        return [
            _finding(
                "PROMOTE-REMOVED",
                Severity.HIGH,
                path,
                f"{model} was removed from {env}; environments only change by promotion or rollback",
                model,
            )
        ]
    ladder = ctx.loaded.config.environments
    if model not in {m.name for m in ctx.loaded.config.models}:
        return [
            _finding(
                "PROMOTE-LADDER", Severity.HIGH, path, f"{model} is not a configured model", model
            )
        ]
    if new.pinned and new.promoted_from.get("environment") == env:
        return _review_rollback(ctx, env, path, model, new)
    source = previous_environment(ladder, env)
    previous_digest = None
    if source is not None:
        upstream = _state(ctx, source).entry(model)
        if upstream is None or not new.same_release(upstream):
            ran = f"{upstream.version} {upstream.digest}" if upstream else "nothing"
            return [
                _finding(
                    "PROMOTE-LADDER",
                    Severity.CRITICAL,
                    path,
                    f"{env} would run {model} {new.version} {new.digest}, but {source} runs {ran}"
                    f" on the base branch; promote through {source} first",
                    model,
                )
            ]
        previous_digest = upstream.digest
    try:
        verify_evidence(
            ctx.loaded,
            model,
            new,
            environment=env,
            previous=source,
            previous_digest=previous_digest,
            first=source is None,
            repo=ctx.repo,
        )
    except PromotionRefused as exc:
        return [_finding("PROMOTE-EVIDENCE", Severity.CRITICAL, path, exc.message, model)]
    return []


def _review_rollback(
    ctx: _Context, env: str, path: str, model: str, new: StateEntry
) -> list[Finding]:
    history = history_entries(changes(ctx.repo, ctx.base, ctx.loaded.config.state_dir, env, model))
    if not any(new.same_release(entry) for _, entry in history):
        return [
            _finding(
                "PROMOTE-ROLLBACK",
                Severity.CRITICAL,
                path,
                f"rollback of {model} in {env} to {new.version} {new.digest}: {env} never ran it",
                model,
            )
        ]
    return []


def _state(ctx: _Context, env: str) -> EnvironmentState:
    path = state_path(ctx.loaded.config.state_dir, env)
    return parse_state(ctx.repo.read_at(ctx.base, path), env, path)


def _finding(rule: str, severity: Severity, path: str, message: str, *identity: str) -> Finding:
    return Finding(rule, severity, message, Location(path), fingerprint(rule, path, *identity))
