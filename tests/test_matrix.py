"""Monorepo fan-out: `mlops-ci matrix` and `mlops-ci check --changed-only` on real git history."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.conftest import CliResult

Cli = Callable[..., CliResult]
DEMO_MODEL = Path("models/fraud-detector")


def add_models(repo: Path, names: Sequence[str]) -> None:
    """Add models (a copy of the demo model and card each) to the demo repository's config."""
    yaml = YAML()
    config_path = repo / "mlops-ci.yaml"
    config = yaml.load(config_path.read_text())
    template = dict(config["models"][0])
    for name in names:
        target = repo / "models" / name
        target.mkdir(parents=True)
        shutil.copy(repo / DEMO_MODEL / "model.onnx", target / "model.onnx")
        shutil.copy(repo / DEMO_MODEL / "README.md", target / "README.md")
        entry = dict(template)
        entry.update(name=name, path=f"models/{name}/model.onnx", card=f"models/{name}/README.md")
        config["models"].append(entry)
    with config_path.open("w") as handle:
        yaml.dump(config, handle)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD")


def matrix_models(cli: Cli, repo: Path, *args: str) -> list[str]:
    result = cli("matrix", *args, cwd=repo)
    assert result.exit_code == 0, result.stderr
    return [entry["model"] for entry in json.loads(result.stdout)["include"]]


@pytest.fixture
def monorepo(demo_repo: Path) -> tuple[Path, str]:
    """The demo repository with 50 models in all (49 added), committed; returns it and the base."""
    add_models(demo_repo, [f"model-{i:02d}" for i in range(1, 50)])
    return demo_repo, commit(demo_repo, "49 more models")


def test_fifty_models_three_changed(cli: Cli, monorepo: tuple[Path, str]) -> None:
    repo, base = monorepo
    (repo / "models/model-07/model.onnx").write_bytes(b"retrained")
    card = repo / "models/model-23/README.md"
    card.write_text(card.read_text() + "\nA new limitation.\n")
    yaml = YAML()
    config = yaml.load((repo / "mlops-ci.yaml").read_text())
    (entry,) = [m for m in config["models"] if m["name"] == "model-41"]
    entry["bench"] = {"inputs": {"input": {"shape": ["batch", 64]}}, "dims": {"batch": 8}}
    with (repo / "mlops-ci.yaml").open("w") as handle:
        yaml.dump(config, handle)
    commit(repo, "Change three models")
    result = cli("matrix", "--base", base, cwd=repo)
    assert result.exit_code == 0, result.stderr
    matrix = json.loads(result.stdout)
    assert [m["model"] for m in matrix["include"]] == ["model-07", "model-23", "model-41"]
    assert matrix["include"][0] == {
        "model": "model-07",
        "path": "models/model-07/model.onnx",
        "card": "models/model-07/README.md",
    }
    assert result.stdout.count("\n") == 1  # one line, ready for $GITHUB_OUTPUT
    assert "model-23: models/model-23/README.md" in result.stderr


def test_without_base_every_model(cli: Cli, monorepo: tuple[Path, str]) -> None:
    repo, _ = monorepo
    assert len(matrix_models(cli, repo)) == 50


def test_shared_files_change_every_model(cli: Cli, demo_repo: Path) -> None:
    add_models(demo_repo, ["alpha", "beta"])
    yaml = YAML()
    config = yaml.load((demo_repo / "mlops-ci.yaml").read_text())
    config.setdefault("scan", {})["requirements"] = ["requirements.txt"]
    with (demo_repo / "mlops-ci.yaml").open("w") as handle:
        yaml.dump(config, handle)
    (demo_repo / "requirements.txt").write_text("numpy==2.0.0\n")
    base = commit(demo_repo, "Models and requirements")
    assert matrix_models(cli, demo_repo, "--base", base) == []
    (demo_repo / "requirements.txt").write_text("numpy==2.1.0\n")
    assert matrix_models(cli, demo_repo, "--base", base) == ["fraud-detector", "alpha", "beta"]
    git(demo_repo, "checkout", "-q", "--", "requirements.txt")
    (demo_repo / "mlops-ci.yaml").write_text(
        (demo_repo / "mlops-ci.yaml").read_text().replace("fail_on: high", "fail_on: medium")
    )
    assert len(matrix_models(cli, demo_repo, "--base", base)) == 3


def test_new_renamed_and_uncommitted(cli: Cli, demo_repo: Path) -> None:
    base = git(demo_repo, "rev-parse", "HEAD")
    add_models(demo_repo, ["fresh"])  # uncommitted and untracked files count too
    assert matrix_models(cli, demo_repo, "--base", base) == ["fresh"]
    commit(demo_repo, "fresh")
    git(demo_repo, "mv", "models/fresh/README.md", "models/fresh/CARD.md")
    assert matrix_models(cli, demo_repo, "--base", base) == ["fresh"]
    unrelated = demo_repo / "docs" / "notes.md"
    unrelated.parent.mkdir()
    unrelated.write_text("notes")
    assert matrix_models(cli, demo_repo, "--base", "HEAD") == ["fresh"]  # only the rename


def test_bad_base_is_exit_2(cli: Cli, demo_repo: Path) -> None:
    result = cli("matrix", "--base", "no-such-ref", cwd=demo_repo)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --base 'no-such-ref': no such commit")
    result = cli("check", "--changed-only", "--base", "no-such-ref", cwd=demo_repo)
    assert result.exit_code == 2 and "no such commit" in result.stderr
    result = cli("check", "--changed-only", cwd=demo_repo)
    assert result.exit_code == 2 and "--changed-only needs --base REF" in result.stderr


def test_unrelated_history_says_to_fetch(cli: Cli, demo_repo: Path) -> None:
    git(demo_repo, "checkout", "-q", "--orphan", "other")
    commit(demo_repo, "unrelated root")
    result = cli("matrix", "--base", "main", cwd=demo_repo)
    assert result.exit_code == 2
    assert "no common history with HEAD; fetch the full history" in result.stderr


def test_check_changed_only(cli: Cli, demo_repo: Path) -> None:
    add_models(demo_repo, ["alpha", "beta"])
    base = commit(demo_repo, "two more")
    nothing = cli("check", "--changed-only", "--base", base, "--format", "json", cwd=demo_repo)
    assert nothing.exit_code == 0, nothing.stderr
    assert json.loads(nothing.stdout)["results"] == []
    card = demo_repo / "models/beta/README.md"
    card.write_text(card.read_text().replace("risk_level: limited", "risk_level: extreme"))
    result = cli("check", "--changed-only", "--base", base, "--format", "json", cwd=demo_repo)
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert [m["name"] for m in report["models"]] == ["beta"]
    assert {r["model"] for r in report["results"]} == {"beta", None}  # None: repository checks
    scoped = cli("check", "--changed-only", "--base", base, "--model", "alpha", cwd=demo_repo)
    assert scoped.exit_code == 0  # beta changed, but only alpha was asked for


def test_gitlab_child_pipeline(cli: Cli, demo_repo: Path) -> None:
    add_models(demo_repo, ["alpha"])
    base = commit(demo_repo, "alpha")
    empty = YAML(typ="safe").load(cli("matrix", "--gitlab", "--base", base, cwd=demo_repo).stdout)
    assert list(empty) == ["stages", ".mlops-ci-check", "mlops-ci: no model changed"]
    (demo_repo / "models/alpha/model.onnx").write_bytes(b"x")
    result = cli("matrix", "--gitlab", "--base", base, "--image", "python:3.12", cwd=demo_repo)
    child = YAML(typ="safe").load(result.stdout)
    assert child["mlops-ci: alpha"] == {
        "extends": ".mlops-ci-check",
        "variables": {"MLOPS_CI_MODEL": "alpha"},
    }
    template = child[".mlops-ci-check"]
    assert template["image"] == "python:3.12"
    assert template["variables"]["MLOPS_CI_INSTALL"].startswith("mlops-ci @ git+$CI_SERVER_URL/")
    assert template["artifacts"]["reports"]["junit"] == "reports/*.junit.xml"
    assert all("$[[" not in line and "alpha" not in line for line in template["script"])
