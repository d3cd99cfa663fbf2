"""`mlops-ci hook install|uninstall|run` on real repositories, with real `git push`es."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult
from tests.pre_commit_support import git_push
from tests.test_matrix import commit, git

Cli = Callable[..., CliResult]
CARD = Path("models/fraud-detector/README.md")


def push(repo: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return git_push(repo, env)


def break_card(repo: Path) -> None:
    card = repo / CARD
    card.write_text(card.read_text().replace("risk_level: limited", "risk_level: extreme"))


def test_installed_hook_gates_git_push(cli: Cli, demo_repo: Path) -> None:
    result = cli("hook", "install", cwd=demo_repo)
    assert result.exit_code == 0, result.stderr
    hook = demo_repo / ".git" / "hooks" / "pre-push"
    assert result.stdout.strip() == f"created  {hook}"
    assert os.access(hook, os.X_OK)
    assert "# mlops-ci-hook" in hook.read_text()
    (demo_repo / "notes.txt").write_text("a change to push\n")
    commit(demo_repo, "notes")
    pushed = push(demo_repo)
    assert pushed.returncode == 0, pushed.stderr
    assert "mlops-ci pre-push: PASS (card, onnx-model, artifacts, policy on 1 model(s))" in (
        pushed.stdout + pushed.stderr
    )
    break_card(demo_repo)
    commit(demo_repo, "broken card")
    refused = push(demo_repo)
    assert refused.returncode != 0
    assert "CARD003 [high]" in refused.stderr
    assert "push with --no-verify" in refused.stderr
    assert git(demo_repo, "rev-parse", "origin/main") != git(demo_repo, "rev-parse", "HEAD")


def test_a_foreign_hook_is_kept_unless_forced(cli: Cli, demo_repo: Path) -> None:
    hook = demo_repo / ".git" / "hooks" / "pre-push"
    hook.write_text("#!/bin/sh\necho mine\n")
    refused = cli("hook", "install", cwd=demo_repo)
    assert refused.exit_code == 2
    assert "exists and was not written by mlops-ci; pass --force" in refused.stderr
    assert hook.read_text() == "#!/bin/sh\necho mine\n"
    forced = cli("hook", "install", "--force", cwd=demo_repo)
    assert forced.exit_code == 0 and forced.stdout.startswith("replaced")
    assert (hook.parent / "pre-push.mlops-ci-backup").read_text() == "#!/bin/sh\necho mine\n"
    again = cli("hook", "install", cwd=demo_repo)
    assert again.exit_code == 0 and again.stdout.startswith("updated")
    removed = cli("hook", "uninstall", cwd=demo_repo)
    assert removed.stdout.startswith("removed")
    assert hook.read_text() == "#!/bin/sh\necho mine\n"  # the old hook is back
    assert cli("hook", "uninstall", cwd=demo_repo).stdout.startswith("no mlops-ci pre-push hook")


def test_core_hooks_path_is_honoured(cli: Cli, demo_repo: Path) -> None:
    git(demo_repo, "config", "core.hooksPath", ".githooks")
    assert cli("hook", "install", cwd=demo_repo).exit_code == 0
    assert (demo_repo / ".githooks" / "pre-push").is_file()


def test_outside_git_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    result = cli("hook", "install", cwd=tmp_path)
    assert result.exit_code == 2
    assert "is not inside a git repository" in result.stderr


def test_hook_run_replays_an_unchanged_run(cli: Cli, demo_repo: Path) -> None:
    first = cli("hook", "run", cwd=demo_repo)
    assert first.exit_code == 0, first.stderr
    assert "unchanged" not in first.stdout
    second = cli("hook", "run", cwd=demo_repo)
    assert "PASS (card, onnx-model, artifacts, policy on 1 model(s)), unchanged" in second.stdout
    break_card(demo_repo)
    failed = cli("hook", "run", cwd=demo_repo)
    assert failed.exit_code == 1 and "unchanged" not in failed.stdout
    assert "CARD003" in failed.stderr
    replayed = cli("hook", "run", cwd=demo_repo)  # failures replay too, with their findings
    assert replayed.exit_code == 1 and "unchanged" in replayed.stdout
    assert replayed.stderr == failed.stderr


@pytest.mark.parametrize(
    "change",
    ["model", "ignored file beside the model", "environment", "waivers", "untracked file"],
)
def test_the_stamp_notices_every_kind_of_change(
    cli: Cli, demo_repo: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    (demo_repo / ".git/info/exclude").write_text("*.bin\n")
    assert cli("hook", "run", cwd=demo_repo).exit_code == 0
    assert "unchanged" in cli("hook", "run", cwd=demo_repo).stdout
    if change == "model":
        (demo_repo / "models/fraud-detector/model.onnx").write_bytes(b"garbage")
    elif change == "ignored file beside the model":
        (demo_repo / "models/fraud-detector/weights.bin").write_bytes(b"\0")
    elif change == "environment":
        monkeypatch.setenv("MLOPS_CI_FAIL_ON", "critical")
    elif change == "waivers":
        (demo_repo / "waivers.yaml").write_text("waivers: []\n")
    else:
        (demo_repo / "docs.md").write_text("docs\n")
    assert "unchanged" not in cli("hook", "run", cwd=demo_repo).stdout


def test_configured_checks_and_no_stamp_for_uncacheable_ones(cli: Cli, demo_repo: Path) -> None:
    config = demo_repo / "mlops-ci.yaml"
    config.write_text(config.read_text() + "hook: {checks: [card, sbom]}\n")
    first = cli("hook", "run", cwd=demo_repo)
    assert "(card, sbom on 1 model(s))" in first.stdout, first.stderr
    second = cli("hook", "run", cwd=demo_repo)
    assert (
        "unchanged" not in second.stdout
    )  # the sbom result is keyed on the commit and tools too: never replayed from a stamp
    config.write_text(config.read_text().replace("[card, sbom]", "[crad]"))
    wrong = cli("hook", "run", cwd=demo_repo)
    assert wrong.exit_code == 2
    assert "unknown check 'crad'" in wrong.stderr and "did you mean 'card'" in wrong.stderr
