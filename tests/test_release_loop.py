"""A model's second release through the actions (issue 13, acceptance 2): retrain, run the check
action (its gates, then its signing step), promote with the promote action: every step exits 0,
with no manual step between them. ``check → sign`` is the one order, on every release."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from mlops_ci.demo.model import save_mlp
from mlops_ci.signing import model_digest
from tests.conftest import CliResult, retrain_demo_model
from tests.test_actions import FAKE_TOKEN, VENV_BIN, git, run
from tests.test_promote_e2e import _signed_template, promote_and_merge, signed_repo

Cli = Callable[..., CliResult]
SHARED_FIXTURES = (_signed_template, signed_repo)  # the signed, committed first release
MODEL = Path("models/fraud-detector/model.onnx")
CARD = Path("models/fraud-detector/README.md")


def _key_mode_signer(tmp_path: Path, log: Path) -> str:
    """A ``mlops-ci`` earlier on PATH for the action's signing step.

    Keyless signing needs Fulcio and Rekor: this stand-in logs the action's own ``sign`` command
    and runs it in the demo's key mode instead (``--mode sigstore`` becomes ``--mode key``, every
    other argument as the action gave it); every other command is the real one.
    """
    shim_dir = tmp_path / "shim"
    shim_dir.mkdir()
    shim = shim_dir / "mlops-ci"
    shim.write_text(
        f'#!/bin/bash\nprintf "%s\\n" "$*" >> {log}\n'
        'if [ "$1" = sign ]; then\n'
        '  args=("$@"); args=("${args[@]/#sigstore/key}")\n'
        f'  exec {VENV_BIN}/mlops-ci "${{args[@]}}"\n'
        "fi\n"
        f'exec {VENV_BIN}/mlops-ci "$@"\n'
    )
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    return f"{shim_dir}{os.pathsep}{VENV_BIN}{os.pathsep}{os.environ['PATH']}"


def _retrain(repo: Path, seed: int, version: str) -> str:
    """Write a retrained model (new weights) and its card's new version; commit and push."""
    save_mlp(repo / MODEL, seed=seed)
    card = repo / CARD
    card.write_text(card.read_text().replace("  version: 1.0.0", f"  version: {version}", 1))
    git(repo, "commit", "-qam", f"Retrain fraud-detector ({version})")
    git(repo, "push", "-q", "origin", "main")
    return model_digest(repo / MODEL)


def test_second_release_retrain_check_sign_promote(
    cli: Cli, signed_repo: Path, tmp_path: Path
) -> None:
    """Acceptance 2: a retrained model goes through the check action, is signed by it, and is
    promoted by the promote action; its old signature was a fact for the gates, not a failure."""
    repo = signed_repo
    promote_and_merge(cli, repo, "dev")  # the first release runs in dev
    old = model_digest(repo / MODEL)
    new = _retrain(repo, seed=7, version="1.1.0")
    assert new != old

    log = tmp_path / "calls.log"
    env = {"PATH": _key_mode_signer(tmp_path, log), "ACTIONS_ID_TOKEN_REQUEST_URL": "http://x"}
    checked = run("check", repo, tmp_path / "check", env=env, models="fraud-detector")
    assert not checked.failed, checked.log
    assert checked.outputs["verdict"] == "pass"
    report = json.loads(Path(checked.outputs["report"]).read_text())
    (signature,) = [r for r in report["results"] if r["check"] == "signature"]
    assert signature["status"] == "passed"
    assert signature["facts"]["signed"] is False
    assert signature["facts"]["stale_digest"] == old  # signed for the older model
    assert signature["facts"]["digest"] == new
    assert [f["rule_id"] for f in signature["findings"]] == ["SIG005"]
    calls = log.read_text().splitlines()
    assert calls[-1] == "sign --mode sigstore --model fraud-detector"  # the action's command
    assert cli("verify", cwd=repo).exit_code == 0  # the action signed the new bytes

    promoted = run(
        "promote",
        repo,
        tmp_path / "promote",
        models="fraud-detector",
        to="dev",
        forge="none",
        commit_evidence="true",
        token=FAKE_TOKEN,
    )
    assert not promoted.failed, promoted.log
    assert promoted.outputs["verdict"] == "pass"
    assert "evidence: committed" in promoted.summary
    branches = git(repo, "ls-remote", "--heads", "origin")
    (branch,) = [
        line.split("refs/heads/")[1]
        for line in branches.splitlines()
        if "fraud-detector/dev" in line and "1.1.0" in line
    ]
    state = git(repo, "show", f"origin/{branch}:deploy/dev.yaml")
    assert new in state and "1.1.0" in state


def test_stale_signature_still_fails_verify_and_promote(cli: Cli, signed_repo: Path) -> None:
    """Before 'sign', the retrained model's old evidence passes the gates but nothing that relies
    on a signature: 'verify' and 'promote' refuse it."""
    repo = signed_repo
    old = model_digest(repo / MODEL)
    _retrain(repo, seed=11, version="1.2.0")
    checked = cli("check", "--only", "signature", "--format", "json", cwd=repo)
    assert checked.exit_code == 0, checked.stderr
    (signature,) = [r for r in json.loads(checked.stdout)["results"] if r["check"] == "signature"]
    assert signature["facts"]["stale_digest"] == old
    verified = cli("verify", cwd=repo)
    assert verified.exit_code == 1
    assert "FAILED    model" in verified.stderr
    refused = cli("promote", "fraud-detector", "--to", "dev", "--forge", "none", cwd=repo)
    assert refused.exit_code != 0
    assert "1.2.0" not in git(repo, "ls-remote", "--heads", "origin")


def test_the_production_pack_still_requires_a_verified_signature(
    cli: Cli, signed_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = signed_repo
    _retrain(repo, seed=13, version="1.3.0")
    monkeypatch.setenv("MLOPS_CI_POLICIES", "production")
    result = cli("check", "--only", "signature", "--only", "policy", "--format", "json", cwd=repo)
    assert result.exit_code == 1, result.stderr
    (policy,) = [r for r in json.loads(result.stdout)["results"] if r["check"] == "policy"]
    assert any("sign" in f["message"].lower() for f in policy["findings"]), policy["findings"]


def test_readme_release_loop_block_runs_as_written(signed_repo: Path, tmp_path: Path) -> None:
    """README's release-loop block, as written, after a retrain: every command exits 0 and the
    retrained model is on its way to dev (issue 13, acceptance 6)."""
    from tests.readme_blocks import run_mlops_ci, run_readme_block

    retrain_demo_model(signed_repo / MODEL, 11)
    card = signed_repo / CARD
    card.write_text(card.read_text().replace("  version: 1.0.0", "  version: 1.1.0", 1))
    done = run_readme_block("release-loop", signed_repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Promote fraud-detector 1.1.0 to dev" in done.stdout
    verify = run_mlops_ci(signed_repo, "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
