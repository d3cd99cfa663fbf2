"""The pre-push gate through pre-commit, for real: the README's config, install, run and push."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.conftest import REPO_ROOT
from tests.pre_commit_support import (
    PRE_COMMIT,
    git,
    git_push,
    hook_environment,
    pre_commit,
    snapshot_checkout,
    use_readme_config,
)

CARD = Path("models/fraud-detector/README.md")


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path]:
    """This checkout as a hook repository, its commit, and a PRE_COMMIT_HOME shared by the tests."""
    if not Path(PRE_COMMIT).exists():
        pytest.skip("pre-commit is not installed in this environment (it is in the dev extra)")
    repo = tmp_path_factory.mktemp("hook-repo")
    return repo, snapshot_checkout(repo), tmp_path_factory.mktemp("pre-commit-home")


def test_hook_definitions_match_the_issue() -> None:
    hooks = YAML(typ="safe").load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())
    by_id = {hook["id"]: hook for hook in hooks}
    assert by_id["mlops-ci"]["stages"] == ["pre-push"]
    assert by_id["mlops-ci"]["language"] == "python"
    assert all(hook["entry"] == "mlops-ci hook run" for hook in hooks)
    assert all(hook["pass_filenames"] is False for hook in hooks)


def test_readme_config_passes_then_fails_on_a_broken_card(
    hook_repo: tuple[Path, str, Path], demo_repo: Path
) -> None:
    repo, rev, home = hook_repo
    use_readme_config(demo_repo, repo, rev)
    installed = pre_commit(demo_repo, home, "install", "--hook-type", "pre-push")
    assert installed.returncode == 0, installed.stderr
    passed = pre_commit(demo_repo, home, "run", "--hook-stage", "pre-push")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "mlops-ci gates" in passed.stdout and "Passed" in passed.stdout

    card = demo_repo / CARD
    card.write_text(card.read_text().replace("risk_level: limited", "risk_level: extreme"))
    git(demo_repo, "add", "-A")  # pre-commit stashes unstaged changes: what is pushed is committed
    git(demo_repo, "commit", "-qm", "a broken card")
    failed = pre_commit(demo_repo, home, "run", "--hook-stage", "pre-push")
    assert failed.returncode == 1
    assert "Failed" in failed.stdout
    assert re.search(rf"{CARD.as_posix()}:\d+:\d+: CARD003 \[high\]", failed.stdout)
    assert "mlops-ci pre-push: FAIL" in failed.stdout


def test_git_push_runs_the_installed_hook(
    hook_repo: tuple[Path, str, Path], demo_repo: Path
) -> None:
    repo, rev, home = hook_repo
    use_readme_config(demo_repo, repo, rev)
    assert pre_commit(demo_repo, home, "install", "--hook-type", "pre-push").returncode == 0
    git(demo_repo, "add", "-A")
    git(demo_repo, "commit", "-qm", "pre-commit config")
    env = hook_environment(home)
    pushed = git_push(demo_repo, env)
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr

    card = demo_repo / CARD
    card.write_text(card.read_text().replace("risk_level: limited", "risk_level: extreme"))
    git(demo_repo, "commit", "-qam", "a broken card")
    refused = git_push(demo_repo, env)
    assert refused.returncode != 0
    assert "CARD003" in refused.stdout + refused.stderr
    remote_head = git(demo_repo, "rev-parse", "origin/main")
    assert remote_head != git(demo_repo, "rev-parse", "HEAD")  # the broken commit never left
