"""Local stand-ins for the GitHub REST v3 and GitLab REST v4 endpoints promotion uses.

They follow the documented request and response shapes (the fields mlops-ci reads and writes)
and keep state, so idempotence and concurrency can be tested for real over HTTP.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(data), status=status, headers=headers, content_type="application/json"
    )


@dataclass
class FakeGitHub:
    """Pull requests, labels, reviewers and comments of one repository ``owner/repo``."""

    server: HTTPServer
    repository: str = "acme/models"
    token: str = "ghs_test_token"  # noqa: S105 (a fake token for a fake server)
    pulls: list[dict[str, Any]] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    failures: list[Response] = field(default_factory=list)  # served first, in order, for POST pulls
    lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self) -> FakeGitHub:
        self.server.expect_request(re.compile(r"/repos/.*")).respond_with_handler(self.handle)
        return self

    @property
    def url(self) -> str:
        return self.server.url_for("/").rstrip("/")

    def handle(self, request: Request) -> Response:
        with self.lock:
            return self._handle(request)

    def _handle(self, request: Request) -> Response:
        self.requests.append((request.method, request.path))
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _json({"message": "Bad credentials"}, 401)
        prefix = f"/repos/{self.repository}/"
        if not request.path.startswith(prefix):
            return _json({"message": "Not Found"}, 404)
        tail = request.path[len(prefix) :]
        body = request.get_json(silent=True) or {}
        if tail == "pulls" and request.method == "GET":
            state = request.args.get("state", "open")
            head = request.args.get("head")
            found = [
                p
                for p in self.pulls
                if (state == "all" or p["state"] == state)
                and (head is None or f"{self.repository.split('/')[0]}:{p['head']['ref']}" == head)
            ]
            return _json(found)
        if tail == "pulls" and request.method == "POST":
            if self.failures:
                return self.failures.pop(0)
            if any(p["head"]["ref"] == body["head"] and p["state"] == "open" for p in self.pulls):
                return _json({"message": "Validation Failed: A pull request already exists"}, 422)
            number = len(self.pulls) + 1
            pull = {
                "number": number,
                "html_url": f"https://github.example/{self.repository}/pull/{number}",
                "state": "open",
                "merged_at": None,
                "title": body["title"],
                "body": body.get("body", ""),
                "head": {"ref": body["head"]},
                "base": {"ref": body["base"]},
                "labels": [],
                "requested_reviewers": [],
            }
            self.pulls.append(pull)
            return _json(pull, 201)
        match = re.fullmatch(r"pulls/(\d+)", tail)
        if match and request.method == "PATCH":
            pull = self.pulls[int(match.group(1)) - 1]
            pull.update({k: v for k, v in body.items() if k in ("title", "body", "state")})
            return _json(pull)
        match = re.fullmatch(r"issues/(\d+)/labels", tail)
        if match:
            pull = self.pulls[int(match.group(1)) - 1]
            pull["labels"] += [{"name": n} for n in body["labels"]]
            return _json(pull["labels"])
        match = re.fullmatch(r"pulls/(\d+)/requested_reviewers", tail)
        if match:
            pull = self.pulls[int(match.group(1)) - 1]
            pull["requested_reviewers"] += [{"login": n} for n in body["reviewers"]]
            return _json(pull, 201)
        match = re.fullmatch(r"issues/(\d+)/comments", tail)
        if match and request.method == "GET":
            return _json([c for c in self.comments if c["issue"] == int(match.group(1))])
        if match and request.method == "POST":
            comment = {
                "id": len(self.comments) + 1,
                "issue": int(match.group(1)),
                "body": body["body"],
            }
            self.comments.append(comment)
            return _json(comment, 201)
        match = re.fullmatch(r"issues/comments/(\d+)", tail)
        if match and request.method == "PATCH":
            comment = self.comments[int(match.group(1)) - 1]
            comment["body"] = body["body"]
            return _json(comment)
        return _json({"message": "Not Found"}, 404)

    def merge(self, number: int) -> None:
        self.pulls[number - 1].update({"state": "closed", "merged_at": "2026-11-22T12:00:00Z"})


@dataclass
class FakeGitLab:
    """Merge requests and notes of one project."""

    server: HTTPServer
    project: str = "acme/models"
    token: str = "glpat-test-token"  # noqa: S105
    mrs: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self) -> FakeGitLab:
        self.server.expect_request(re.compile(r"/api/v4/.*")).respond_with_handler(self.handle)
        return self

    @property
    def url(self) -> str:
        return self.server.url_for("/api/v4")

    def handle(self, request: Request) -> Response:
        with self.lock:
            return self._handle(request)

    def _handle(self, request: Request) -> Response:
        if request.headers.get("PRIVATE-TOKEN") != self.token:
            return _json({"message": "401 Unauthorized"}, 401)
        encoded = self.project.replace("/", "%2F")
        raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.path
        path = raw.split("?")[0]
        prefix = f"/api/v4/projects/{encoded}/"
        if path.startswith("/api/v4/users"):
            return _json([{"id": 42, "username": request.args.get("username")}])
        if not path.startswith(prefix):
            return _json({"message": "404 Project Not Found"}, 404)
        tail = path[len(prefix) :]
        body = request.get_json(silent=True) or {}
        if tail == "merge_requests" and request.method == "GET":
            state = request.args.get("state", "all")
            source = request.args.get("source_branch")
            return _json(
                [
                    m
                    for m in self.mrs
                    if (state == "all" or m["state"] == state)
                    and (source is None or m["source_branch"] == source)
                ]
            )
        if tail == "merge_requests" and request.method == "POST":
            if any(
                m["source_branch"] == body["source_branch"] and m["state"] == "opened"
                for m in self.mrs
            ):
                return _json(
                    {
                        "message": [
                            "Another open merge request already exists for this source branch"
                        ]
                    },
                    409,
                )
            iid = len(self.mrs) + 1
            mr = {
                "iid": iid,
                "web_url": f"https://gitlab.example/{self.project}/-/merge_requests/{iid}",
                "state": "opened",
                "title": body["title"],
                "description": body.get("description", ""),
                "source_branch": body["source_branch"],
                "target_branch": body["target_branch"],
                "labels": [],
                "reviewer_ids": [],
            }
            self.mrs.append(mr)
            return _json(mr, 201)
        match = re.fullmatch(r"merge_requests/(\d+)", tail)
        if match and request.method == "PUT":
            mr = self.mrs[int(match.group(1)) - 1]
            if "add_labels" in body:
                mr["labels"] += body["add_labels"].split(",")
            if body.get("state_event") == "close":
                mr["state"] = "closed"
            mr.update(
                {k: v for k, v in body.items() if k in ("title", "description", "reviewer_ids")}
            )
            return _json(mr)
        match = re.fullmatch(r"merge_requests/(\d+)/notes", tail)
        if match and request.method == "GET":
            return _json([n for n in self.notes if n["mr"] == int(match.group(1))])
        if match and request.method == "POST":
            note = {"id": len(self.notes) + 1, "mr": int(match.group(1)), "body": body["body"]}
            self.notes.append(note)
            return _json(note, 201)
        match = re.fullmatch(r"merge_requests/(\d+)/notes/(\d+)", tail)
        if match and request.method == "PUT":
            note = self.notes[int(match.group(2)) - 1]
            note["body"] = body["body"]
            return _json(note)
        return _json({"message": "404 Not Found"}, 404)

    def merge(self, iid: int) -> None:
        """What the "Merge" button does to the MR record (the git side is the test's)."""
        self.mrs[iid - 1]["state"] = "merged"
