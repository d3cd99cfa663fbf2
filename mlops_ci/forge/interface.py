"""What promotion needs from a forge: find, open, update and close PRs/MRs, and comment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

PullState = Literal["open", "merged", "closed"]


@dataclass(frozen=True)
class PullRequest:
    """A pull request (GitHub) or merge request (GitLab), normalised."""

    number: int
    url: str
    state: PullState
    head: str
    base: str
    title: str = ""


class Forge(Protocol):
    """A forge API client. Implementations raise ForgeError with a user-facing message."""

    name: str

    def find_pulls(self, head: str) -> list[PullRequest]:
        """Every PR/MR (open, merged or closed) whose source branch is ``head``, newest first."""
        ...

    def open_pulls(self, head_prefix: str) -> list[PullRequest]:
        """Open PRs/MRs whose source branch starts with ``head_prefix``."""
        ...

    def create_pull(self, head: str, base: str, title: str, body: str) -> PullRequest:
        """Open a PR/MR."""
        ...

    def update_pull(self, pull: PullRequest, title: str, body: str) -> None:
        """Replace a PR/MR's title and description."""
        ...

    def close_pull(self, pull: PullRequest, comment: str) -> None:
        """Comment on a PR/MR and close it."""
        ...

    def add_labels(self, pull: PullRequest, labels: list[str]) -> None:
        """Add labels to a PR/MR."""
        ...

    def request_reviewers(self, pull: PullRequest, reviewers: list[str]) -> None:
        """Ask people to review a PR/MR."""
        ...

    def upsert_comment(self, pull: PullRequest, marker: str, body: str) -> None:
        """Create, or update in place, the one comment that contains ``marker``."""
        ...


def adopt_open_pull(forge: Forge, head: str, refusal: Exception) -> PullRequest:
    """The open PR/MR from ``head`` that made the forge refuse a duplicate; else ``refusal``."""
    existing = [p for p in forge.find_pulls(head) if p.state == "open"]
    if not existing:
        raise refusal
    return existing[0]
