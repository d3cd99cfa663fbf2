"""The composite actions run for real by nektos/act (optional tier: skipped, saying why, without
act), in its self-hosted mode and offline: check, promote and verify end to end in one job of a
workflow that uses this checkout's actions, against local stand-ins of GitHub's API."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from pytest_httpserver import HTTPServer

from tests.actions_harness import ROOT
from tests.forges import FakeGitHub
from tests.test_code_scanning import CodeScanning
from tests.test_promote_e2e import _signed_template, signed_repo
from tests.tools import require

SHARED_FIXTURES = (_signed_template, signed_repo)  # the signed demo of the promotion tests
VENV_BIN = str(Path(sys.executable).parent)
ACTIONS = ".mlops-ci-actions"  # where the workflow finds this checkout's actions

# One job, as a user would write it; `install: "false"` because mlops-ci is this virtualenv's
# (the install from the action checkout is the harness's test_install_from_the_action_checkout).
WORKFLOW = f"""\
name: act
on: push
permissions: {{}}
jobs:
  gates:
    runs-on: ubuntu-latest
    permissions:
      contents: write
      pull-requests: write
      security-events: write
    steps:
      - uses: actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0
        with:
          persist-credentials: false
      - uses: ./{ACTIONS}/actions/check
        id: check
        with:
          install: "false"
          offline: "true"
          sign: "false"
          upload-sarif: "true"
      - name: Fingerprint the check report
        run: sha256sum reports/mlops-ci.* | tee "$RUNNER_TEMP/check.sha256"
      - uses: ./{ACTIONS}/actions/promote
        id: promote
        with:
          install: "false"
          models: fraud-detector
          to: dev
          forge: github
          token: ${{{{ github.token }}}}
      - name: Check out the promotion branch
        run: |
          git fetch -q origin
          branch="$(git for-each-ref --format='%(refname:lstrip=3)' refs/remotes/origin/mlops-ci/promote)"
          git checkout -q -b review "origin/$branch"
      - uses: ./{ACTIONS}/actions/verify
        id: verify
        with:
          install: "false"
          base: main
      - name: Every action passed and the check report is intact
        env:
          CHECK: ${{{{ steps.check.outputs.verdict }}}}
          PROMOTE: ${{{{ steps.promote.outputs.verdict }}}}
          VERIFY: ${{{{ steps.verify.outputs.verdict }}}}
          VERIFY_REPORT: ${{{{ steps.verify.outputs.report }}}}
        run: |
          echo "verdicts: check=$CHECK promote=$PROMOTE verify=$VERIFY"
          test "$CHECK" = pass && test "$PROMOTE" = pass && test "$VERIFY" = pass
          sha256sum --check "$RUNNER_TEMP/check.sha256"
          test "$(basename "$VERIFY_REPORT")" = mlops-ci-verify.json
          ls reports
"""


def test_check_promote_verify_in_one_job_under_act(
    signed_repo: Path, tmp_path: Path, httpserver: HTTPServer
) -> None:
    act = require("act")
    repo = signed_repo
    shutil.copytree(ROOT / "actions", repo / ACTIONS / "actions")
    (repo / ".github" / "workflows").mkdir(parents=True, exist_ok=True)
    (repo / ".github" / "workflows" / "act.yml").write_text(WORKFLOW)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "CI under act"], cwd=repo, check=True)
    subprocess.run(["git", "push", "-q", "origin", "main"], cwd=repo, check=True)
    code_scanning = CodeScanning(httpserver)  # before the catch-all /repos/ handler
    github = FakeGitHub(httpserver).install()
    home = tmp_path / "home"  # act's cache (its copy of the workspace) and config stay here
    home.mkdir()
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
    }
    started = time.monotonic()
    done = subprocess.run(
        [
            act,
            "push",
            "--workflows",
            ".github/workflows/act.yml",
            "-P",
            "ubuntu-latest=-self-hosted",  # run on this machine: no image is pulled
            "--action-offline-mode",  # nothing is cloned: every action is local
            "--env",
            f"GITHUB_API_URL={httpserver.url_for('').rstrip('/')}",
            "--env",
            f"GITHUB_REPOSITORY={github.repository}",
            "--secret",
            f"GITHUB_TOKEN={github.token}",
        ],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    elapsed = time.monotonic() - started
    log = done.stdout + done.stderr
    assert done.returncode == 0, log
    assert "🏁  Job succeeded" in log
    assert "verdicts: check=pass promote=pass verify=pass" in log
    for name in ("json", "md", "sarif", "junit.xml"):
        assert f"reports/mlops-ci.{name}: OK" in log  # verify left check's reports alone
    assert "git clone" not in log  # offline: no action was fetched
    (pull,) = github.pulls
    assert pull["head"]["ref"].startswith("mlops-ci/promote/fraud-detector/dev/1.0.0-promote-")
    (upload,) = code_scanning.uploads
    assert upload["ref"] == "refs/heads/main"
    assert github.token not in log
    steps = [
        line.split("Success - Main ")[1] for line in log.splitlines() if "Success - Main ./" in line
    ]
    print(f"act: one job, check + promote + verify, {elapsed:.1f} s: {'; '.join(steps)}")
