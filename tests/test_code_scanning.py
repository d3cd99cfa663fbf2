"""``mlops-ci ci upload-sarif``: SARIF to GitHub code scanning through the REST API, against a
local stand-in of ``POST /repos/{owner}/{repo}/code-scanning/sarifs``."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.conftest import CliResult

TOKEN = "ghs_sarif_token"  # noqa: S105  (a fake token for a fake server)
SHA = "0123456789abcdef0123456789abcdef01234567"
SARIF = {
    "version": "2.1.0",
    "runs": [{"tool": {"driver": {"name": "mlops-ci"}}, "results": []}],
}


class CodeScanning:
    """Records uploads; answers 202 with an id, as GitHub does."""

    def __init__(self, server: HTTPServer, status: int = 202) -> None:
        self.uploads: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.status = status
        server.expect_request(
            "/repos/acme/models/code-scanning/sarifs", method="POST"
        ).respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        self.uploads.append(request.get_json())
        self.headers.append(dict(request.headers))
        body = {"id": "47177e22-5596-11eb-80a1-c1e54ef945c6"} if self.status == 202 else {}
        if self.status != 202:
            body = {"message": "Resource not accessible by integration"}
        return Response(json.dumps(body), status=self.status, content_type="application/json")


@pytest.fixture
def actions_env(monkeypatch: pytest.MonkeyPatch, httpserver: HTTPServer) -> None:
    """The variables a GitHub Actions run on a pull request sets, its API on ``httpserver``."""
    monkeypatch.setenv("GITHUB_API_URL", httpserver.url_for("").rstrip("/"))
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/models")
    monkeypatch.setenv("GITHUB_SHA", SHA)
    monkeypatch.setenv("GITHUB_REF", "refs/pull/7/merge")
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)


def decoded(upload: dict[str, Any]) -> Any:
    return json.loads(gzip.decompress(base64.b64decode(upload["sarif"])))


def test_upload_posts_gzip_base64_with_commit_ref_and_category(
    cli: Callable[..., CliResult], tmp_path: Path, httpserver: HTTPServer, actions_env: None
) -> None:
    stand_in = CodeScanning(httpserver)
    (tmp_path / "mlops-ci.sarif").write_text(json.dumps(SARIF))
    done = cli("ci", "upload-sarif", "mlops-ci.sarif", "--category", "mlops-ci-fraud", cwd=tmp_path)
    assert done.exit_code == 0, done.stderr
    assert "uploaded mlops-ci.sarif to code scanning of acme/models at 0123456789ab" in done.stdout
    assert "47177e22" in done.stdout
    (upload,) = stand_in.uploads
    assert upload["commit_sha"] == SHA and upload["ref"] == "refs/pull/7/merge"
    sarif = decoded(upload)
    assert sarif["runs"][0]["automationDetails"] == {"id": "mlops-ci-fraud/"}
    assert sarif["runs"][0]["tool"] == SARIF["runs"][0]["tool"]
    assert stand_in.headers[0]["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in done.stdout + done.stderr


def test_upload_refusals_say_what_is_missing(
    cli: Callable[..., CliResult],
    tmp_path: Path,
    httpserver: HTTPServer,
    actions_env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    CodeScanning(httpserver, status=403)
    (tmp_path / "r.sarif").write_text(json.dumps(SARIF))
    forbidden = cli("ci", "upload-sarif", "r.sarif", cwd=tmp_path)
    assert forbidden.exit_code == 2
    assert "answered 403" in forbidden.stderr and "security-events: write" in forbidden.stderr
    assert TOKEN not in forbidden.stderr
    (tmp_path / "bad.sarif").write_text("{not json")
    assert "not JSON" in cli("ci", "upload-sarif", "bad.sarif", cwd=tmp_path).stderr
    bad_category = cli("ci", "upload-sarif", "r.sarif", "--category", "a b\n", cwd=tmp_path)
    assert bad_category.exit_code == 2 and "category" in bad_category.stderr
    monkeypatch.setenv("GITHUB_SHA", "main")
    assert "GITHUB_SHA" in cli("ci", "upload-sarif", "r.sarif", cwd=tmp_path).stderr
    monkeypatch.delenv("GITHUB_TOKEN")
    no_token = cli("ci", "upload-sarif", "r.sarif", cwd=tmp_path)
    assert no_token.exit_code == 2 and "GITHUB_TOKEN" in no_token.stderr
    assert len(httpserver.log) == 1  # only the first call reached the API
