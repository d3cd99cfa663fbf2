"""GitHub REST v3: pull requests, labels, reviewers and the sticky comment."""

from __future__ import annotations

from typing import Any

from mlops_ci.forge.http import ApiClient, ForgeError
from mlops_ci.forge.interface import PullRequest, PullState, adopt_open_pull

API_VERSION = "2022-11-28"


class GitHubForge:
    """Pull requests on one GitHub repository (``owner/name``)."""

    name = "github"

    def __init__(self, api: ApiClient, repository: str) -> None:
        self.api = api
        self.repository = repository
        self.owner = repository.split("/", 1)[0]

    @staticmethod
    def headers(token: str) -> dict[str, str]:
        """The request headers GitHub documents for REST v3."""
        return {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "mlops-ci",
        }

    def _path(self, tail: str) -> str:
        return f"repos/{self.repository}/{tail}"

    def find_pulls(self, head: str) -> list[PullRequest]:
        """PRs from ``head`` in any state, newest first."""
        data = self.api.request(
            "GET", self._path("pulls"), params={"head": f"{self.owner}:{head}", "state": "all"}
        )
        pulls = [_pull(item) for item in data or [] if item.get("head", {}).get("ref") == head]
        return sorted(pulls, key=lambda p: -p.number)

    def open_pulls(self, head_prefix: str) -> list[PullRequest]:
        """Open PRs whose head branch starts with ``head_prefix``."""
        items = self.api.paginate(self._path("pulls"), {"state": "open"})
        return [_pull(i) for i in items if i.get("head", {}).get("ref", "").startswith(head_prefix)]

    def create_pull(self, head: str, base: str, title: str, body: str) -> PullRequest:
        """Open a PR; if GitHub says one already exists for this head, adopt it."""
        try:
            data = self.api.request(
                "POST",
                self._path("pulls"),
                json={"title": title, "head": head, "base": base, "body": body},
            )
        except ForgeError as exc:
            if "already exists" not in str(exc):
                raise
            return adopt_open_pull(self, head, exc)
        return _pull(data)

    def update_pull(self, pull: PullRequest, title: str, body: str) -> None:
        """Replace the PR's title and body."""
        self.api.request(
            "PATCH", self._path(f"pulls/{pull.number}"), json={"title": title, "body": body}
        )

    def close_pull(self, pull: PullRequest, comment: str) -> None:
        """Comment, then close."""
        self.api.request(
            "POST", self._path(f"issues/{pull.number}/comments"), json={"body": comment}
        )
        self.api.request("PATCH", self._path(f"pulls/{pull.number}"), json={"state": "closed"})

    def add_labels(self, pull: PullRequest, labels: list[str]) -> None:
        """Labels go through the issues endpoint."""
        if labels:
            self.api.request(
                "POST", self._path(f"issues/{pull.number}/labels"), json={"labels": labels}
            )

    def request_reviewers(self, pull: PullRequest, reviewers: list[str]) -> None:
        """Request reviews from users."""
        if reviewers:
            self.api.request(
                "POST",
                self._path(f"pulls/{pull.number}/requested_reviewers"),
                json={"reviewers": reviewers},
            )

    def upsert_comment(self, pull: PullRequest, marker: str, body: str) -> None:
        """Update the comment carrying ``marker``, or create it."""
        comments = self.api.request(
            "GET", self._path(f"issues/{pull.number}/comments"), params={"per_page": 100}
        )
        for comment in comments or []:
            if marker in str(comment.get("body", "")):
                self.api.request(
                    "PATCH", self._path(f"issues/comments/{comment['id']}"), json={"body": body}
                )
                return
        self.api.request("POST", self._path(f"issues/{pull.number}/comments"), json={"body": body})


def _pull(item: Any) -> PullRequest:
    state: PullState = "open"
    if item.get("merged_at"):
        state = "merged"
    elif item.get("state") == "closed":
        state = "closed"
    return PullRequest(
        number=int(item["number"]),
        url=str(item.get("html_url", "")),
        state=state,
        head=str(item.get("head", {}).get("ref", "")),
        base=str(item.get("base", {}).get("ref", "")),
        title=str(item.get("title", "")),
    )
