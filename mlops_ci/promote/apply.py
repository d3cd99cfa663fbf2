"""Landing a promotion: commit on a fresh branch from the default branch, push, open the PR/MR.

Idempotent: an open PR for the transition's branch (one name per requested transition, see
``plan.branch_name``) is adopted and its description and sticky comment updated; a closed one
gets a new PR. "Already promoted" is answered only by the planner, from the environment's entry
on the default branch; a merged PR whose change the default branch does not show is an error,
never a success. Races on the push (someone
else moved the branch) re-fetch, re-plan and retry a bounded number of times. Stale promotion PRs
of the same model and environment are closed with a pointer to the new one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from mlops_ci.errors import MlopsCiError
from mlops_ci.forge.detect import ForgeTarget, remote_parts
from mlops_ci.forge.interface import PullRequest
from mlops_ci.promote.gitwork import Author, GitError, PromotionRepo
from mlops_ci.promote.plan import PromotionPlan, branch_prefix
from mlops_ci.promote.state import parse_state, set_entry

Outcome = Literal["opened", "updated", "pushed", "already-promoted"]


class MergedButNotThere(MlopsCiError):
    """The forge says this transition's PR/MR was merged, yet the default branch does not run it."""

    exit_code = 1
    label = "refused"


@dataclass(frozen=True)
class Landed:
    """What happened."""

    outcome: Outcome
    plan: PromotionPlan | None
    pull: PullRequest | None = None
    note: str = ""


@dataclass(frozen=True)
class PullSettings:
    """How the PR/MR is dressed."""

    labels: Sequence[str] = ()
    reviewers: Sequence[str] = ()


def land(
    planner: Callable[[], PromotionPlan | None],
    repo: PromotionRepo,
    forge: ForgeTarget,
    *,
    author: Author,
    body: Callable[[PromotionPlan], str],
    comment: Callable[[PromotionPlan], str],
    settings: PullSettings,
    attempts: int = 5,
) -> Landed:
    """Fetch, plan, push and open the PR/MR; ``planner`` re-reads state after every fetch."""
    for _ in range(attempts):
        repo.fetch()
        plan = planner()
        if plan is None:
            return Landed(
                "already-promoted", None, note="the environment already runs this release"
            )
        if forge.client is not None:
            merged = [p for p in forge.client.find_pulls(plan.branch) if p.state == "merged"]
            if merged:
                # The branch names this exact transition from this exact state, so a merge of
                # it would have changed the entry the planner just read: the default branch
                # has not caught up (or the change was undone). Saying "done" would be a lie.
                raise MergedButNotThere(
                    f"{merged[0].url or plan.branch} was merged, but {repo.remote}/"
                    f"{repo.default_branch} does not run {plan.model} {plan.entry.version} in"
                    f" {plan.environment}: fetch and look at {plan.state_file}, then run again"
                )
        if _push(plan, repo, forge, author):
            break
    else:
        raise GitError(
            f"could not push {repo.remote}/{plan.branch if plan else '?'} after {attempts} attempts:"
            " the remote kept moving; run the promotion again"
        )
    if forge.client is None:
        return Landed("pushed", plan, note=_open_hint(repo, forge, plan))
    return _pull_request(plan, repo, forge, body(plan), comment(plan), settings)


def _push(plan: PromotionPlan, repo: PromotionRepo, forge: ForgeTarget, author: Author) -> bool:
    base = repo.resolve(repo.default_ref)
    if base is None:
        raise GitError(
            f"{repo.remote}/{repo.default_branch} does not exist; push the default branch first"
        )
    remote = repo.remote_branch(plan.branch)
    if remote is not None and _already_there(repo, remote, plan, base):
        return True
    old = repo.read_at(base, plan.state_file)
    commit = repo.commit_file(
        base, plan.state_file, set_entry(old, plan.model, plan.entry), plan.commit_message, author
    )
    options: list[str] = []
    if forge.push_options:
        options = [
            "merge_request.create",
            f"merge_request.target={repo.default_branch}",
            f"merge_request.title={plan.title}",
            "merge_request.remove_source_branch",
        ]
    return repo.push_branch(commit, plan.branch, remote, options)


def _already_there(repo: PromotionRepo, remote: str, plan: PromotionPlan, base: str) -> bool:
    """Whether the remote branch already carries this exact release (re-runs adopt it).

    Only a branch that is one commit on top of today's default branch counts: an older branch
    of the same release (merged before a rollback, say) is rebuilt, or ``promote verify`` would
    rightly refuse it as behind the base branch.
    """
    if repo.resolve(f"{remote}^") != base:
        return False
    text = repo.read_at(remote, plan.state_file)
    try:
        entry = parse_state(text, plan.environment, plan.state_file, models=None).entry(plan.model)
    except Exception:  # a broken branch is simply replaced
        return False
    return entry is not None and entry.same_place(plan.entry) and entry.pinned == plan.entry.pinned


def _pull_request(
    plan: PromotionPlan,
    repo: PromotionRepo,
    forge: ForgeTarget,
    body: str,
    comment: str,
    settings: PullSettings,
) -> Landed:
    client = forge.client
    assert client is not None  # noqa: S101  (checked by the caller)
    existing = [p for p in client.find_pulls(plan.branch) if p.state == "open"]
    if existing:
        pull = existing[0]
        client.update_pull(pull, plan.title, body)
        outcome: Outcome = "updated"
    else:
        pull = client.create_pull(plan.branch, repo.default_branch, plan.title, body)
        client.add_labels(pull, list(settings.labels))
        client.request_reviewers(pull, list(settings.reviewers))
        outcome = "opened"
    client.upsert_comment(pull, comment.splitlines()[0], comment)
    for stale in client.open_pulls(branch_prefix(plan.model, plan.environment)):
        if stale.head != plan.branch:
            client.close_pull(
                stale, f"Superseded by {pull.url or '#' + str(pull.number)} ({plan.title})."
            )
    return Landed(outcome, plan, pull)


def _open_hint(repo: PromotionRepo, forge: ForgeTarget, plan: PromotionPlan) -> str:
    if forge.push_options:
        return f"pushed {plan.branch}; GitLab opens the merge request from the push options"
    parts = remote_parts(repo.remote_url())
    if parts and parts[0] == "github.com":
        return f"open the PR: https://{parts[0]}/{parts[1]}/compare/{repo.default_branch}...{plan.branch}?expand=1"
    if parts and "gitlab" in parts[0]:
        return (
            f"open the MR: https://{parts[0]}/{parts[1]}/-/merge_requests/new"
            f"?merge_request[source_branch]={plan.branch}&merge_request[target_branch]={repo.default_branch}"
        )
    return f"pushed {plan.branch} to {repo.remote}; open a pull request from it into {repo.default_branch}"
