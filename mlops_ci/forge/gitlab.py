"""GitLab REST v4: merge requests, labels, reviewers and the sticky note."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from mlops_ci.forge.http import ApiClient, ForgeError
from mlops_ci.forge.interface import PullRequest, PullState, adopt_open_pull

_STATES: dict[str, PullState] = {
    "opened": "open",
    "merged": "merged",
    "closed": "closed",
    "locked": "closed",
}


class GitLabForge:
    """Merge requests on one GitLab project (numeric id or ``group/project`` path)."""

    name = "gitlab"

    def __init__(self, api: ApiClient, project: str) -> None:
        self.api = api
        self.project = quote(project, safe="") if not project.isdigit() else project

    @staticmethod
    def headers(token: str) -> dict[str, str]:
        """GitLab takes personal, project and group access tokens in PRIVATE-TOKEN."""
        return {"PRIVATE-TOKEN": token, "User-Agent": "mlops-ci"}

    def _path(self, tail: str) -> str:
        return f"projects/{self.project}/{tail}"

    def find_pulls(self, head: str) -> list[PullRequest]:
        """MRs from ``head`` in any state, newest first."""
        data = self.api.request(
            "GET", self._path("merge_requests"), params={"source_branch": head, "state": "all"}
        )
        pulls = [_pull(item) for item in data or [] if item.get("source_branch") == head]
        return sorted(pulls, key=lambda p: -p.number)

    def open_pulls(self, head_prefix: str) -> list[PullRequest]:
        """Open MRs whose source branch starts with ``head_prefix``."""
        items = self.api.paginate(self._path("merge_requests"), {"state": "opened"})
        return [_pull(i) for i in items if str(i.get("source_branch", "")).startswith(head_prefix)]

    def create_pull(self, head: str, base: str, title: str, body: str) -> PullRequest:
        """Open an MR; if one is already open for this source branch, adopt it."""
        try:
            data = self.api.request(
                "POST",
                self._path("merge_requests"),
                json={
                    "source_branch": head,
                    "target_branch": base,
                    "title": title,
                    "description": body,
                    "remove_source_branch": True,
                },
            )
        except ForgeError as exc:
            if "already exists" not in str(exc) and "409" not in str(exc):
                raise
            return adopt_open_pull(self, head, exc)
        return _pull(data)

    def update_pull(self, pull: PullRequest, title: str, body: str) -> None:
        """Replace the MR's title and description."""
        self.api.request(
            "PUT",
            self._path(f"merge_requests/{pull.number}"),
            json={"title": title, "description": body},
        )

    def close_pull(self, pull: PullRequest, comment: str) -> None:
        """Add a note, then close."""
        self.api.request(
            "POST", self._path(f"merge_requests/{pull.number}/notes"), json={"body": comment}
        )
        self.api.request(
            "PUT", self._path(f"merge_requests/{pull.number}"), json={"state_event": "close"}
        )

    def add_labels(self, pull: PullRequest, labels: list[str]) -> None:
        """Add labels without replacing existing ones."""
        if labels:
            self.api.request(
                "PUT",
                self._path(f"merge_requests/{pull.number}"),
                json={"add_labels": ",".join(labels)},
            )

    def request_reviewers(self, pull: PullRequest, reviewers: list[str]) -> None:
        """GitLab wants user ids: look each username up."""
        ids = []
        for username in reviewers:
            users = self.api.request("GET", "users", params={"username": username})
            if users:
                ids.append(int(users[0]["id"]))
        if ids:
            self.api.request(
                "PUT", self._path(f"merge_requests/{pull.number}"), json={"reviewer_ids": ids}
            )

    def upsert_comment(self, pull: PullRequest, marker: str, body: str) -> None:
        """Update the note carrying ``marker``, or create it."""
        notes = self.api.request(
            "GET", self._path(f"merge_requests/{pull.number}/notes"), params={"per_page": 100}
        )
        for note in notes or []:
            if marker in str(note.get("body", "")):
                self.api.request(
                    "PUT",
                    self._path(f"merge_requests/{pull.number}/notes/{note['id']}"),
                    json={"body": body},
                )
                return
        self.api.request(
            "POST", self._path(f"merge_requests/{pull.number}/notes"), json={"body": body}
        )


def _pull(item: Any) -> PullRequest:
    return PullRequest(
        number=int(item["iid"]),
        url=str(item.get("web_url", "")),
        state=_STATES.get(str(item.get("state")), "closed"),
        head=str(item.get("source_branch", "")),
        base=str(item.get("target_branch", "")),
        title=str(item.get("title", "")),
    )
