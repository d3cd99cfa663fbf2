"""``mlops-ci promote verify``: the check that makes branch protection on state files meaningful.

Run on a PR/MR, it judges the change by the base branch alone: the configuration, keys, policies
and history come from the base commit (``trusted.py``), and the change is read as git stores it,
tree against tree with rename detection off (``treediff.py``). A PR passes only when every path
it changes is an expected state file (``<state_dir>/<env>.yaml`` of a configured environment),
still a regular file, not deleted, not changed on the base branch since the PR forked, parsing
under the strict schema, and every changed entry is exactly a valid promotion or rollback
(``review_entry.py``). Everything else is a finding with a rule that names it.
"""

from __future__ import annotations

import datetime as dt
import posixpath
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from mlops_ci import __version__
from mlops_ci.errors import InputError, UsageError
from mlops_ci.findings import CheckResult, Finding, GitInfo, Location, Report, Severity
from mlops_ci.promote.gitwork import PromotionRepo
from mlops_ci.promote.review_entry import ReviewContext, finding, review_entry
from mlops_ci.promote.review_summary import summary
from mlops_ci.promote.state import EnvironmentState, parse_state, state_path
from mlops_ci.promote.treediff import REGULAR, TreeChange, display_path, kind, tree_changes
from mlops_ci.promote.trusted import base_config, base_config_path
from mlops_ci.yamlio import MAX_YAML_BYTES

CHECK = "promote-verify"


def review(
    repo: PromotionRepo,
    base_ref: str | None,
    config: Path | None,
    cwd: Path,
    environ: Mapping[str, str],
    now: dt.datetime,
) -> Report:
    """Check the change from ``base_ref`` (default: the remote default branch) to HEAD.

    ``config`` is the configuration file the CI job names (None: found in the base commit).
    """
    base = _resolve_base(repo, base_ref)
    relative = base_config_path(repo, base, config, cwd)
    with base_config(repo, base, relative, environ) as loaded:
        promotion = loaded.config.promotion
        if base_ref is None and (
            promotion.remote != repo.remote
            or (promotion.default_branch or repo.default_branch) != repo.default_branch
        ):
            raise UsageError(
                "the base branch's configuration names another remote or default branch"
                f" ({promotion.remote}/{promotion.default_branch}); pass --base explicitly"
            )

        @cache
        def state_at_base(env: str) -> EnvironmentState:
            path = posixpath.normpath(state_path(loaded.config.state_dir, env))
            names = [m.name for m in loaded.config.models]
            return parse_state(repo.read_at(base, path), env, f"{path}@{base[:12]}", models=names)

        ctx = ReviewContext(loaded, repo, base, state_at_base)
        verified: list[dict[str, Any]] = []
        findings, changed, checked = _review(ctx, verified)
    head, branch = repo.head(), _branch(repo, environ)
    base_name = base_ref or f"{repo.remote}/{repo.default_branch}"
    result = CheckResult(
        check=CHECK,
        status="passed",
        findings=tuple(findings),
        facts={
            "base": base,
            "base_ref": base_name,
            "head": head,
            "branch": branch,
            "changed_files": changed,
            "entries_checked": checked,
            "verified": verified,
        },
        summary=summary(base_name, base, head, branch, verified, len(findings), changed),
    ).with_status(Severity.LOW)
    return Report(
        tool_version=__version__,
        started_at=now.isoformat(timespec="seconds"),
        git=GitInfo(commit=repo.head()),
        models=(),
        results=(result,),
        fail_on=Severity.LOW,
        config_path=relative,
    )


def _resolve_base(repo: PromotionRepo, base_ref: str | None) -> str:
    """The base commit. A branch name means the branch: a tag of the same name (git's own
    lookup order puts ``refs/tags/X`` before ``refs/heads/X`` and ``refs/remotes/X``) never
    stands in for it, and two branches of that name that differ are refused."""
    if base_ref is None:
        repo.fetch()
        base_ref = repo.default_ref
    if base_ref.startswith("-") or not base_ref.strip():
        raise UsageError(f"--base {base_ref!r} is not a commit or branch")
    branches = {
        sha
        for ref in (f"refs/heads/{base_ref}", f"refs/remotes/{base_ref}")
        if not base_ref.startswith("refs/") and (sha := repo.resolve(ref)) is not None
    }
    if len(branches) > 1:
        raise UsageError(
            f"--base {base_ref!r} names both a local and a remote-tracking branch that differ;"
            " pass refs/heads/... or refs/remotes/... or a commit id"
        )
    base = branches.pop() if branches else repo.resolve(base_ref)
    if base is None:
        raise InputError(f"--base {base_ref!r} is not a commit or branch in this repository")
    return base


def _branch(repo: PromotionRepo, environ: Mapping[str, str]) -> str:
    """The branch under review: the CI's name for it, else the checked-out branch (or "")."""
    import re

    named = next(
        (
            environ[n]
            for n in ("GITHUB_HEAD_REF", "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME")
            if environ.get(n)
        ),
        None,
    )
    if named is None:
        raw = repo.git_bytes("symbolic-ref", "--quiet", "--short", "HEAD") or b""
        named = raw.decode("utf-8", "replace").strip()
    # The PR's author chose the name: shown, it must not carry markup into a report.
    return re.sub(r"[^\w./@+-]", "?", named)[:200]


def _review(
    ctx: ReviewContext, verified: list[dict[str, Any]]
) -> tuple[list[Finding], list[str], int]:
    config = ctx.loaded.config
    state_files = {
        posixpath.normpath(state_path(config.state_dir, env)): env for env in config.environments
    }
    head = ctx.repo.head()
    changes = tree_changes(ctx.repo, ctx.base, head)
    shown = [display_path(c.path) for c in changes]
    fork = ctx.repo.merge_base(ctx.base, head)
    if fork is None:
        stale = finding(
            "PROMOTE-STALE",
            Severity.HIGH,
            Location("HEAD"),
            "HEAD shares no history with the base branch (or the clone is shallow); fetch the"
            " full history and open the PR from the base branch",
        )
        return [stale], shown, 0
    findings = _history_findings(ctx, fork, head)
    # Which side changed each path since the fork: only the PR's changes are judged; a path
    # both sides changed would merge into a version nobody verified.
    ours = {c.path for c in tree_changes(ctx.repo, fork, head)} if fork != ctx.base else None
    theirs = {c.path for c in tree_changes(ctx.repo, fork, ctx.base)} if ours is not None else set()
    checked = 0
    for change in changes:
        if ours is not None and (change.path not in ours or change.path in theirs):
            findings.append(_stale(change, behind=change.path not in ours))
            continue
        env = state_files.get(change.path)
        if env is None:
            findings.append(_foreign(change, config.state_dir))
            continue
        problem = _file_problem(change)
        if problem is not None:
            findings.append(problem)
            continue
        try:
            after = parse_state(_text(ctx.repo, change), env, change.path, models=ctx.names)
        except InputError as exc:
            where = exc.position or Location(change.path)
            findings.append(finding("PROMOTE-SCHEMA", Severity.HIGH, where, str(exc), change.path))
            continue
        before = ctx.state_at_base(env)
        for model in sorted(set(before.models) | set(after.models)):
            old, new = before.entry(model), after.entry(model)
            if old == new:
                continue
            checked += 1
            refused = review_entry(ctx, env, change.path, model, old, new, verified)
            if refused is not None:
                findings.append(refused)
    return findings, shown, checked


def _history_findings(ctx: ReviewContext, fork: str, head: str) -> list[Finding]:
    """A promotion is one commit: with rebase merging, intermediate commits would land too."""
    count = ctx.repo.commits_between(fork, head)
    if count <= 1:
        return []
    return [
        finding(
            "PROMOTE-MULTI-COMMIT",
            Severity.HIGH,
            Location("HEAD"),
            f"the PR adds {count} commits; a promotion is one commit (intermediate states would"
            " land on the base branch unverified with rebase merging): re-run mlops-ci promote",
        )
    ]


def _stale(change: TreeChange, *, behind: bool) -> Finding:
    path = display_path(change.path)
    why = (
        "changed on the base branch after this PR forked (the PR is behind it)"
        if behind
        else "changed both on the base branch and in this PR since it forked: the merge would"
        " combine versions nobody verified"
    )
    return finding(
        "PROMOTE-STALE",
        Severity.HIGH,
        Location(path),
        f"{path} {why}; rebase the PR, or re-run mlops-ci promote (it builds on the base branch)",
        change.path,
    )


def _foreign(change: TreeChange, state_dir: str) -> Finding:
    path = display_path(change.path)
    return finding(
        "PROMOTE-FOREIGN-FILE",
        Severity.HIGH,
        Location(path),
        f"{path} is {change.described}, but it is not a state file: a promotion PR changes only"
        f" {state_dir.rstrip('/')}/<env>.yaml of the configured environments",
        change.path,
    )


def _file_problem(change: TreeChange) -> Finding | None:
    """A state file must stay where it is, as a regular non-executable file."""
    message = None
    if change.status == "D":
        message = (
            f"{change.path} is deleted; state files are only edited (with rename detection off,"
            " a rename is this deletion plus an addition)"
        )
    elif change.new_mode != REGULAR:
        message = (
            f"{change.path} is {change.described}: a state file must be a regular,"
            f" non-executable file, not {kind(change.new_mode)}"
        )
    if message is None:
        return None
    return finding(
        "PROMOTE-STATE-FILE", Severity.CRITICAL, Location(change.path), message, change.path
    )


def _text(repo: PromotionRepo, change: TreeChange) -> str:
    """The new content of a state file, exactly as committed (bounded, UTF-8)."""
    size = repo.git_bytes("cat-file", "-s", change.new_id)
    if size is None or int(size.strip() or b"0") > MAX_YAML_BYTES:
        raise InputError(
            f"the file is over {MAX_YAML_BYTES // 1048576} MiB; a state file is small",
            Location(change.path, 1),
        )
    raw = repo.git_bytes("cat-file", "blob", change.new_id) or b""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("the file is not UTF-8 text", Location(change.path, 1)) from None
