"""The sticky pull/merge request comment: where it goes and what it says.

One comment per PR/MR carries the marker ``<!-- mlops-ci:report -->`` (the markdown report
starts with it) and is updated in place on every run. Bodies over GitHub's 65,536-character limit
are cut, with a pointer to the full report of the CI run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mlops_ci.errors import UsageError

MARKER = "<!-- mlops-ci:report -->"
MAX_BODY = 65_536


@dataclass(frozen=True)
class CommentTarget:
    """The PR/MR to comment on."""

    forge: Literal["github", "gitlab"]
    number: int
    run_url: str | None


def comment_target(
    environ: Mapping[str, str], number: int | None = None, forge: str = "auto"
) -> CommentTarget | None:
    """The PR/MR of this CI run (or ``number``); None outside a pull/merge request."""
    kind = forge
    if kind == "auto":
        if environ.get("GITHUB_ACTIONS") == "true":
            kind = "github"
        elif environ.get("GITLAB_CI") == "true":
            kind = "gitlab"
        else:
            raise UsageError(
                "cannot tell the forge outside GitHub Actions or GitLab CI; pass --forge"
            )
    if kind == "github":
        run_url = None
        if environ.get("GITHUB_RUN_ID") and environ.get("GITHUB_REPOSITORY"):
            server = environ.get("GITHUB_SERVER_URL", "https://github.com")
            run_url = (
                f"{server}/{environ['GITHUB_REPOSITORY']}/actions/runs/{environ['GITHUB_RUN_ID']}"
            )
        found = number if number is not None else _github_pull_number(environ)
        return None if found is None else CommentTarget("github", found, run_url)
    if kind == "gitlab":
        iid = environ.get("CI_MERGE_REQUEST_IID")
        found = number if number is not None else (int(iid) if iid and iid.isdigit() else None)
        return None if found is None else CommentTarget("gitlab", found, environ.get("CI_JOB_URL"))
    raise UsageError(f"--forge {forge!r}: use auto, github or gitlab")


def _github_pull_number(environ: Mapping[str, str]) -> int | None:
    event_path = environ.get("GITHUB_EVENT_PATH")
    if not event_path:
        return None
    try:
        event = json.loads(Path(event_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    pull = event.get("pull_request") if isinstance(event, dict) else None
    number = pull.get("number") if isinstance(pull, dict) else None
    return number if isinstance(number, int) else None


def comment_body(markdown: str, run_url: str | None, marker: str = MARKER) -> str:
    """The comment text: the marker first, cut under the size limit with a pointer when long."""
    body = markdown if marker in markdown else f"{marker}\n{markdown}"
    if len(body) <= MAX_BODY:
        return body
    where = f"the [CI run]({run_url})" if run_url else "the CI run's artifacts"
    note = f"\n\n… cut at {MAX_BODY:,} characters: the full report is in {where}.\n"
    cut = body[: MAX_BODY - len(note)]
    cut = cut[: cut.rfind("\n")] if "\n" in cut else cut  # never split a table row
    return _close_fences(cut) + note


def _close_fences(text: str) -> str:
    """``text`` without a trailing code block left open by the cut (a Mermaid chart or an
    error's text): an unclosed fence would swallow the note after it."""
    lines = text.split("\n")
    opened = None
    for index, line in enumerate(lines):
        if line.startswith("```"):
            opened = None if opened is not None else index
    return text if opened is None else "\n".join(lines[:opened]).rstrip("\n")


def post_comment(target: CommentTarget, body: str, environ: Mapping[str, str]) -> str:
    """Create or update the comment carrying the marker, through the forge client of
    :mod:`mlops_ci.forge` (tokens, API URLs, retries and error messages as for promotion)."""
    from mlops_ci.config import ForgeConfig
    from mlops_ci.forge.detect import make_forge
    from mlops_ci.forge.interface import PullRequest

    forge = make_forge(target.forge, ForgeConfig(), None, environ)
    if forge.client is None:
        raise UsageError(
            "commenting on GitLab needs GITLAB_TOKEN, a project access token with api scope"
            " (CI_JOB_TOKEN cannot write notes)"
        )
    pull = PullRequest(target.number, "", "open", "", "")
    try:
        forge.client.upsert_comment(pull, MARKER, body)
    finally:
        api = getattr(forge.client, "api", None)
        if api is not None:
            api.close()
    return f"{forge.kind} {forge.repository}#{target.number}"
