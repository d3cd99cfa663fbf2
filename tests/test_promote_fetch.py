"""``mlops-ci fetch`` and the README's deploy block: a state entry names immutable bytes."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from mlops_ci.demo import DEMO_MODEL
from mlops_ci.gitops import commit_all, merge_and_push, push_current
from mlops_ci.signing import model_digest
from tests.conftest import CliResult, copy_demo
from tests.gitrepos import git as run_git
from tests.test_promote_e2e import (
    branch_of,
    origin,
    promote_and_merge,
    sign_and_commit,
    state_on_main,
)
from tests.test_promote_forges import _two_releases  # noqa: F401  (the module-scoped template)

Cli = Callable[..., CliResult]
MODEL_FILE = "models/fraud-detector/model.onnx"


@pytest.fixture
def rolled_back(_two_releases: Path, tmp_path: Path, cli: Cli) -> Path:  # noqa: F811
    """dev rolled back to 1.0.0 and merged; the model path on main holds 1.1.0."""
    repo = copy_demo(_two_releases, tmp_path / "repo")
    rolled = cli(
        "rollback", DEMO_MODEL, "--env", "dev", "--to", "1.0.0", "--forge", "none", cwd=repo
    )
    assert rolled.exit_code == 0, rolled.stderr
    merge_and_push(repo, branch_of(rolled), "Merge the rollback")
    return repo


def test_fetch_writes_the_rolled_back_bytes_not_the_path_on_main(
    cli: Cli, rolled_back: Path, tmp_path: Path
) -> None:
    entry = state_on_main(rolled_back, "dev")[DEMO_MODEL]
    assert entry.version == "1.0.0" and entry.pinned
    on_main = model_digest(rolled_back / MODEL_FILE)
    assert on_main != entry.digest  # the issue: `artifact` on main is the newer model
    out = tmp_path / "out"
    result = cli("fetch", DEMO_MODEL, "--env", "dev", "--to", str(out), cwd=rolled_back)
    assert result.exit_code == 0, result.stderr
    assert model_digest(out / "model.onnx") == entry.digest
    commit = entry.promoted_from["commit"]
    assert f"from: {commit}:{MODEL_FILE}" in result.stdout
    shown = subprocess.run(
        ["git", "show", f"{commit}:{MODEL_FILE}"], cwd=rolled_back, capture_output=True, check=True
    ).stdout
    assert shown == (out / "model.onnx").read_bytes()
    status = json.loads(cli("status", "--format", "json", cwd=rolled_back).stdout)
    assert status[DEMO_MODEL]["dev"]["bytes"] == f"{commit}:{MODEL_FILE}"
    text = cli("history", DEMO_MODEL, "--env", "dev", cwd=rolled_back).stdout
    assert f"{commit[:10]}:{MODEL_FILE}" in text.splitlines()[1]


def _hand_edit_main(repo: Path, edit: Callable[[str], str]) -> None:
    state = repo / "deploy" / "dev.yaml"
    run_git(repo, "pull", "--quiet", "origin", "main")
    state.write_text(edit(state.read_text()))
    commit_all(repo, "a hand edit of the state file")
    push_current(repo)


def test_fetch_refuses_bytes_that_are_not_the_entrys(
    cli: Cli, rolled_back: Path, tmp_path: Path
) -> None:
    """An entry whose commit holds other bytes than its digest: exit 1, nothing left behind."""
    entry = state_on_main(rolled_back, "dev")[DEMO_MODEL]
    newer = run_git(rolled_back, "rev-parse", "HEAD")  # holds 1.1.0 at the same path
    _hand_edit_main(rolled_back, lambda t: t.replace(entry.promoted_from["commit"], newer))
    out = tmp_path / "out"
    result = cli("fetch", DEMO_MODEL, "--env", "dev", "--to", str(out), cwd=rolled_back)
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "has digest" in result.stderr and f"not the entry's {entry.digest}" in result.stderr
    assert not (out / "model.onnx").exists()


def test_fetch_refuses_a_commit_the_default_branch_does_not_hold(
    cli: Cli, rolled_back: Path, tmp_path: Path
) -> None:
    entry = state_on_main(rolled_back, "dev")[DEMO_MODEL]
    run_git(rolled_back, "checkout", "--quiet", "-b", "side", entry.promoted_from["commit"])
    run_git(rolled_back, "commit", "--quiet", "--allow-empty", "-m", "only on a side branch")
    side = run_git(rolled_back, "rev-parse", "HEAD")
    run_git(rolled_back, "push", "--quiet", "origin", "side")
    run_git(rolled_back, "checkout", "--quiet", "main")
    _hand_edit_main(rolled_back, lambda t: t.replace(entry.promoted_from["commit"], side))
    result = cli("fetch", DEMO_MODEL, "--env", "dev", "--to", str(tmp_path / "o"), cwd=rolled_back)
    assert result.exit_code == 1 and "is not in the history of origin/main" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--env", "prod"), "prod runs no fraud-detector on origin/main"),
        (("--env", "qa"), "unknown environment 'qa'"),
        (("--env", "dev", "--to", "mlops-ci.yaml"), "cannot create the directory"),
    ],
)
def test_fetch_bad_input_exits_2(
    cli: Cli, rolled_back: Path, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    if "--to" not in args:
        args = (*args, "--to", str(tmp_path / "o"))
    result = cli("fetch", DEMO_MODEL, *args, cwd=rolled_back)
    assert result.exit_code == 2 and message in result.stderr
    assert result.stderr.count("\n") == 1


def test_fetch_replaces_a_planted_link_instead_of_writing_through_it(
    cli: Cli, rolled_back: Path, tmp_path: Path
) -> None:
    out, victim = tmp_path / "out", tmp_path / "victim.txt"
    out.mkdir()
    victim.write_text("keep me")
    (out / "model.onnx").symlink_to(victim)
    result = cli("fetch", DEMO_MODEL, "--env", "dev", "--to", str(out), cwd=rolled_back)
    assert result.exit_code == 0, result.stderr
    assert victim.read_text() == "keep me" and not (out / "model.onnx").is_symlink()


def test_readme_deploy_block_runs_as_written(rolled_back: Path) -> None:
    from tests.readme_blocks import run_readme_block

    done = run_readme_block("deploy", rolled_back, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    entry = state_on_main(rolled_back, "dev")[DEMO_MODEL]
    assert model_digest(rolled_back / "deploy-out" / "model.onnx") == entry.digest
    assert model_digest(rolled_back / "dev-model.onnx") == entry.digest
    assert origin(rolled_back).is_dir()


def test_fetch_writes_the_external_data_of_the_entrys_commit(
    cli: Cli, tmp_path: Path, _demo_template: Path
) -> None:
    """A single ONNX file's signed file set includes its external data: fetched from the same
    commit, after a rollback when the default branch holds other weights under the same name."""
    from tests.external_data import DATA_NAME, save_external, use_external_data

    repo = copy_demo(_demo_template, tmp_path / "repo")
    use_external_data(repo)
    sign_and_commit(repo, "Keep the weights in model.onnx.data")
    promote_and_merge(cli, repo, "dev")
    card = repo / "models/fraud-detector/README.md"
    card.write_text(card.read_text().replace("version: 1.0.0", "version: 1.1.0", 1))
    save_external(repo / MODEL_FILE, retrain=8)
    sign_and_commit(repo, "Model 1.1.0")
    promote_and_merge(cli, repo, "dev", "1.1.0")
    rolled = cli(
        "rollback", DEMO_MODEL, "--env", "dev", "--to", "1.0.0", "--forge", "none", cwd=repo
    )
    merge_and_push(repo, branch_of(rolled), "Merge the rollback")
    entry = state_on_main(repo, "dev")[DEMO_MODEL]
    out = tmp_path / "out"
    result = cli("fetch", DEMO_MODEL, "--env", "dev", "--to", str(out), cwd=repo)
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["model.onnx", DATA_NAME]
    assert model_digest(out / "model.onnx") == entry.digest
    data = f"{entry.promoted_from['commit']}:models/fraud-detector/{DATA_NAME}"
    old = subprocess.run(["git", "show", data], cwd=repo, capture_output=True, check=True).stdout
    assert (
        (out / DATA_NAME).read_bytes()
        == old
        != (repo / f"models/fraud-detector/{DATA_NAME}").read_bytes()
    )


def test_fetch_of_an_entry_without_a_commit_exits_2(
    cli: Cli, rolled_back: Path, tmp_path: Path
) -> None:
    """A hand-written entry that names no commit says nothing about which bytes it means."""
    _hand_edit_main(rolled_back, lambda t: re.sub(r"\n *promoted_from:[^\n]*", "", t))
    result = cli("fetch", DEMO_MODEL, "--env", "dev", "--to", str(tmp_path / "o"), cwd=rolled_back)
    assert result.exit_code == 2 and "names no promoted_from.commit" in result.stderr
    assert not (tmp_path / "o").exists()


def test_fetch_refuses_bytes_whose_signature_is_about_other_bytes(
    cli: Cli, rolled_back: Path, tmp_path: Path
) -> None:
    """The digest matches, but the signature at that commit vouches for another model: exit 1."""
    entry = state_on_main(rolled_back, "dev")[DEMO_MODEL]
    newer_digest = model_digest(rolled_back / MODEL_FILE)
    run_git(rolled_back, "pull", "--quiet", "origin", "main")
    sig = f"{MODEL_FILE}.sig"
    old_sig = subprocess.run(
        ["git", "show", f"{entry.promoted_from['commit']}:{sig}"],
        cwd=rolled_back,
        capture_output=True,
        check=True,
    ).stdout
    (rolled_back / sig).write_bytes(old_sig)  # a valid signature, of 1.0.0
    commit_all(rolled_back, "swap the signature")
    push_current(rolled_back)
    swapped = run_git(rolled_back, "rev-parse", "HEAD")
    _hand_edit_main(
        rolled_back,
        lambda t: t.replace(entry.promoted_from["commit"], swapped).replace(
            entry.digest, newer_digest
        ),
    )
    out = tmp_path / "out"
    result = cli("fetch", DEMO_MODEL, "--env", "dev", "--to", str(out), cwd=rolled_back)
    assert result.exit_code == 1, result.stdout + result.stderr
    assert result.stderr.startswith("refused: ") and not (out / "model.onnx").exists()
    assert "does not match its signature" in result.stderr
