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
from typing import Any, Literal

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
    return cut + note


def post_comment(target: CommentTarget, body: str, environ: Mapping[str, str]) -> str:
    """Create or update the comment carrying the marker; returns its URL (or the API path)."""
    import httpx

    api, headers, base = _endpoint(target, environ)
    listing = f"{base}/comments" if target.forge == "github" else f"{base}/notes"
    try:
        with httpx.Client(base_url=api, headers=headers, timeout=30.0) as client:
            existing = _find_marked(client, listing, MARKER)
            if existing is None:
                response = client.post(listing, json={"body": body})
            elif target.forge == "github":
                repo = environ["GITHUB_REPOSITORY"]
                response = client.patch(
                    f"/repos/{repo}/issues/comments/{existing}", json={"body": body}
                )
            else:
                response = client.put(f"{listing}/{existing}", json={"body": body})
            _raise_for(response, target)
            made = response.json()
    except httpx.HTTPError as exc:
        raise UsageError(f"cannot reach the {target.forge} API: {exc.__class__.__name__}") from None
    if target.forge == "github":
        return str(made.get("html_url", listing))
    project_url = environ.get("CI_MERGE_REQUEST_PROJECT_URL") or environ.get("CI_PROJECT_URL", "")
    return f"{project_url}/-/merge_requests/{target.number}#note_{made.get('id')}"


def _endpoint(target: CommentTarget, environ: Mapping[str, str]) -> tuple[str, dict[str, str], str]:
    if target.forge == "github":
        token = environ.get("GITHUB_TOKEN") or environ.get("GH_TOKEN")
        repo = environ.get("GITHUB_REPOSITORY")
        if not token or not repo:
            raise UsageError(
                "commenting on GitHub needs GITHUB_TOKEN (or GH_TOKEN) and GITHUB_REPOSITORY"
            )
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        api = environ.get("GITHUB_API_URL", "https://api.github.com")
        return api, headers, f"/repos/{repo}/issues/{target.number}"
    token = environ.get("GITLAB_TOKEN")
    project = environ.get("CI_PROJECT_ID")
    if not token or not project:
        raise UsageError(
            "commenting on GitLab needs GITLAB_TOKEN (a project access token with api scope:"
            " CI_JOB_TOKEN cannot write notes) and CI_PROJECT_ID"
        )
    api = environ.get("CI_API_V4_URL", "https://gitlab.com/api/v4")
    base = f"/projects/{project}/merge_requests/{target.number}"
    return api, {"PRIVATE-TOKEN": token}, base


def _find_marked(client: Any, listing: str, marker: str) -> int | None:
    """The id of the first comment containing ``marker`` (following up to 20 pages)."""
    for page in range(1, 21):
        response = client.get(listing, params={"per_page": 100, "page": page})
        if response.status_code >= 400:
            return None  # let the write that follows report the error with its status
        items = response.json()
        for item in items if isinstance(items, list) else []:
            if marker in str(item.get("body", "")):
                return int(item["id"])
        if not isinstance(items, list) or len(items) < 100:
            return None
    return None


def _raise_for(response: Any, target: CommentTarget) -> None:
    status = response.status_code
    if status < 400:
        return
    if status in (401, 403, 404):
        need = (
            "a token with pull-requests: write (and issues: write)"
            if target.forge == "github"
            else "a GITLAB_TOKEN with api scope and Reporter role"
        )
        raise UsageError(
            f"the {target.forge} API refused the comment on #{target.number} (HTTP {status});"
            f" it needs {need}"
        )
    raise UsageError(
        f"the {target.forge} API failed to post the comment on #{target.number} (HTTP {status})"
    )
