"""The sticky PR/MR comment: target detection, size limit, and GitLab notes over the REST API."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from mlops_ci.comment import MARKER, MAX_BODY, CommentTarget, comment_body, comment_target
from mlops_ci.errors import UsageError
from tests.conftest import CliResult

Cli = Callable[..., CliResult]
SECRET = "glpat-secret-marker"  # noqa: S105  (a value that must never be printed)


def test_github_target_from_the_event(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 12}}))
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": "o/r",
        "GITHUB_RUN_ID": "9",
    }
    assert comment_target(env) == CommentTarget(
        "github", 12, "https://github.com/o/r/actions/runs/9"
    )
    event.write_text(json.dumps({"push": {}}))
    assert comment_target(env) is None  # not a pull request
    assert comment_target(env, 3) == CommentTarget(
        "github", 3, "https://github.com/o/r/actions/runs/9"
    )


def test_gitlab_target_and_unknown_places() -> None:
    env = {"GITLAB_CI": "true", "CI_MERGE_REQUEST_IID": "5", "CI_JOB_URL": "https://gl/j/1"}
    assert comment_target(env) == CommentTarget("gitlab", 5, "https://gl/j/1")
    assert comment_target({"GITLAB_CI": "true"}) is None
    with pytest.raises(UsageError, match="pass --forge"):
        comment_target({})
    with pytest.raises(UsageError, match="use auto, github or gitlab"):
        comment_target({}, 1, "bitbucket")


def test_long_bodies_are_cut_with_a_pointer() -> None:
    assert comment_body("hello", None) == f"{MARKER}\nhello"
    table = f"{MARKER}\n" + "| a | b |\n" * 20_000
    body = comment_body(table, "https://ci/run/1")
    assert len(body) <= MAX_BODY
    assert body.startswith(MARKER)
    assert body.endswith("the full report is in the [CI run](https://ci/run/1).\n")
    assert "| a | b |\n\n… cut" in body  # whole rows only


def test_gitlab_note_is_updated_in_place(
    cli: Cli, tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = tmp_path / "report.md"
    body.write_text(f"{MARKER}\n## mlops-ci: PASS\n")
    for key, value in {
        "GITLAB_CI": "true",
        "CI_MERGE_REQUEST_IID": "4",
        "CI_PROJECT_ID": "77",
        "CI_API_V4_URL": httpserver.url_for("/api/v4"),
        "CI_PROJECT_URL": "https://gitlab.example.com/g/p",
        "GITLAB_TOKEN": SECRET,
    }.items():
        monkeypatch.setenv(key, value)
    notes = "/api/v4/projects/77/merge_requests/4/notes"
    httpserver.expect_ordered_request(notes, method="GET").respond_with_json(
        [{"id": 1, "body": "LGTM"}, {"id": 8, "body": f"{MARKER} old"}]
    )
    httpserver.expect_ordered_request(f"{notes}/8", method="PUT").respond_with_json({"id": 8})
    result = cli("ci", "comment", str(body))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "updated the mlops-ci comment on gitlab 77#4"
    put = httpserver.log[1][0]
    assert put.headers["PRIVATE-TOKEN"] == SECRET
    assert json.loads(put.data)["body"].startswith(MARKER)

    httpserver.clear()
    httpserver.expect_request(notes).respond_with_json({"message": "401 Unauthorized"}, status=401)
    refused = cli("ci", "comment", str(body))
    assert refused.exit_code == 2
    assert "answered 401" in refused.stderr and "GITLAB_TOKEN" in refused.stderr
    assert SECRET not in refused.stdout + refused.stderr


def test_outside_a_merge_request_nothing_is_posted(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITLAB_CI", "true")
    result = cli("ci", "comment", str(tmp_path / "missing.md"))
    assert result.exit_code == 0
    assert "no comment posted" in result.stdout


def test_ci_outputs(cli: Cli, demo_repo: Path) -> None:
    assert cli("check", "--format", "json=r.json", cwd=demo_repo).exit_code == 0
    result = cli("ci", "outputs", "r.json", "--sarif", "none.sarif", cwd=demo_repo)
    lines = result.stdout.splitlines()
    assert lines[:3] == ["verdict=pass", "report=r.json", "sarif="]
    assert lines[3].startswith("sbom<<MLOPS_CI_") and lines[-1] == lines[3].split("<<")[1]
    broken = cli("ci", "outputs", "missing.json", cwd=demo_repo)
    assert (
        broken.exit_code == 2 and "run 'mlops-ci check --format json=missing.json'" in broken.stderr
    )
