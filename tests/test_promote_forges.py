"""A model's second release through the GitHub and GitLab stand-ins: rollback, unpin, roll forward.

Every requested transition is a new PR/MR (one branch name per transition), and after the merge
the environment runs exactly what was asked. The git side is real (a bare origin); the forge
side is the REST stand-in, whose "merge" the test performs on both.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from mlops_ci.demo import DEMO_MODEL, create_demo
from mlops_ci.gitops import commit_all, merge_and_push, push_current
from tests.conftest import CliResult, copy_demo, retrain_demo_model
from tests.forges import FakeGitHub, FakeGitLab
from tests.test_promote_e2e import promote_and_merge, sign_and_commit, state_on_main

Cli = Callable[..., CliResult]


def _quiet_cli(*args: str, cwd: Path | None = None) -> CliResult:
    """``mlops-ci ARGS`` in-process for a module-scoped fixture (capsys is per test)."""
    from mlops_ci.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(cwd or Path.cwd()), redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def _two_releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo with 1.0.0 and then the retrained 1.1.0 promoted to dev and merged."""

    repo = create_demo(tmp_path_factory.mktemp("releases") / "repo")
    sign_and_commit(repo)
    promote_and_merge(_quiet_cli, repo, "dev")
    card = repo / "models/fraud-detector/README.md"
    card.write_text(card.read_text().replace("version: 1.0.0", "version: 1.1.0", 1))
    retrain_demo_model(repo / "models/fraud-detector/model.onnx", 8)
    sign_and_commit(repo, "Model 1.1.0")
    promote_and_merge(_quiet_cli, repo, "dev", "1.1.0")
    return repo


@dataclass
class Forge:
    """One stand-in behind one interface: its requests, and its merge button (plus the git merge)."""

    kind: str
    fake: Any

    def requests(self) -> list[dict[str, Any]]:
        return list(self.fake.pulls if self.kind == "github" else self.fake.mrs)

    def head(self, request: dict[str, Any]) -> str:
        return str(request["head"]["ref"] if self.kind == "github" else request["source_branch"])

    def is_open(self, request: dict[str, Any]) -> bool:
        return bool(request["state"] == ("open" if self.kind == "github" else "opened"))

    def merge(self, repo: Path, number: int) -> None:
        request = self.requests()[number - 1]
        assert self.is_open(request), request
        merge_and_push(repo, self.head(request), f"Merge {self.head(request)}")
        self.fake.merge(number)


@pytest.fixture(params=["github", "gitlab"])
def forge_repo(
    request: pytest.FixtureRequest,
    _two_releases: Path,
    tmp_path: Path,
    httpserver: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Path, Forge]]:
    repo = copy_demo(_two_releases, tmp_path / "repo")
    kind = str(request.param)
    fake: Any = (FakeGitHub if kind == "github" else FakeGitLab)(httpserver).install()
    name = fake.repository if kind == "github" else fake.project
    config = repo / "mlops-ci.yaml"
    config.write_text(
        config.read_text().replace(
            "forge: {kind: none}",
            f"forge: {{kind: {kind}, repository: {name}, api_url: '{fake.url}'}}",
        )
    )
    commit_all(repo, f"use {kind}")
    push_current(repo)
    monkeypatch.setenv("GITHUB_TOKEN" if kind == "github" else "GITLAB_TOKEN", fake.token)
    yield repo, Forge(kind, fake)


def _dev(repo: Path) -> tuple[str, bool]:
    entry = state_on_main(repo, "dev")[DEMO_MODEL]
    return entry.version, entry.pinned


def _rollback(cli: Cli, repo: Path) -> CliResult:
    return cli("rollback", DEMO_MODEL, "--env", "dev", "--to", "1.0.0", cwd=repo)


def _opened_one(forge: Forge, before: int, result: CliResult, kind: str) -> int:
    """The command opened exactly one new PR/MR, on a branch of this ``kind``; its number."""
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("opened: "), result.stdout
    requests = forge.requests()
    assert len(requests) == before + 1
    new = requests[-1]
    assert forge.is_open(new) and f"-{kind}-" in forge.head(new)
    return len(requests)


def test_rollback_through_a_forge_opens_a_new_request(cli: Cli, forge_repo: Any) -> None:
    """issue 13: the rollback used to reuse the merged promotion's branch and do nothing."""
    repo, forge = forge_repo
    assert _dev(repo) == ("1.1.0", False)
    number = _opened_one(forge, 0, _rollback(cli, repo), "rollback")
    head = forge.head(forge.requests()[-1])
    assert head.startswith("mlops-ci/promote/fraud-detector/dev/1.0.0-rollback-")
    again = _rollback(cli, repo)  # the same request, still open: adopted, not duplicated
    assert again.exit_code == 0 and again.stdout.startswith("updated: "), again.stdout
    assert len(forge.requests()) == 1
    forge.merge(repo, number)
    assert _dev(repo) == ("1.0.0", True)
    done = _rollback(cli, repo)  # now the environment runs it: a refusal, not a silent "done"
    assert done.exit_code == 1 and "already pinned to fraud-detector 1.0.0" in done.stderr


def test_unpin_rolls_forward_and_a_second_rollback_is_new(cli: Cli, forge_repo: Any) -> None:
    """Roll back, roll forward with --unpin, roll back again: three new requests, each merged."""
    repo, forge = forge_repo
    forge.merge(repo, _opened_one(forge, 0, _rollback(cli, repo), "rollback"))
    assert _dev(repo) == ("1.0.0", True)
    forward = cli("promote", DEMO_MODEL, "--to", "dev", "--unpin", cwd=repo)
    number = _opened_one(forge, 1, forward, "unpin")
    assert forge.head(forge.requests()[-1]).startswith(
        "mlops-ci/promote/fraud-detector/dev/1.1.0-unpin-"
    )
    forge.merge(repo, number)
    assert _dev(repo) == ("1.1.0", False)
    same = cli("promote", DEMO_MODEL, "--to", "dev", cwd=repo)
    assert same.exit_code == 0 and same.stdout.startswith("already promoted"), same.stdout
    # the very transition merged before (1.1.0 -> 1.0.0), asked again: a new branch and request
    second = _opened_one(forge, 2, _rollback(cli, repo), "rollback")
    heads = [forge.head(r) for r in forge.requests()]
    assert heads[2] != heads[0]
    forge.merge(repo, second)
    assert _dev(repo) == ("1.0.0", True)
    history = cli("history", DEMO_MODEL, "--env", "dev", "--format", "json", cwd=repo)
    versions = [c["entry"]["version"] for c in json.loads(history.stdout)]
    assert versions == ["1.0.0", "1.1.0", "1.0.0", "1.1.0", "1.0.0"]


def test_rollback_then_promote_forward_through_staging(cli: Cli, forge_repo: Any) -> None:
    """A roll-forward after a rollback, through the next rung: staging takes what dev runs."""
    repo, forge = forge_repo
    staged = cli("promote", DEMO_MODEL, "--to", "staging", cwd=repo)
    forge.merge(repo, _opened_one(forge, 0, staged, "promote"))
    forge.merge(repo, _opened_one(forge, 1, _rollback(cli, repo), "rollback"))
    forward = cli("promote", DEMO_MODEL, "--to", "dev", "--unpin", cwd=repo)
    forge.merge(repo, _opened_one(forge, 2, forward, "unpin"))
    assert _dev(repo) == ("1.1.0", False)
    assert state_on_main(repo, "staging")[DEMO_MODEL].version == "1.1.0"
