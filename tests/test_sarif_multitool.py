"""The SARIF log passes Microsoft's SARIF multitool with GitHub's rules (issue 15, acceptance 4).

Optional tier: needs ``sarif-multitool`` (``.ci/install-tools`` puts it under ``.tools/``); the
test is skipped, saying so, without it. It validates a rich report of a real run (the demo with
a broken card, a pickle that runs ``os.system``, vulnerable requirements, a ``shell=True`` call
and a waived finding: results with and without lines, from catalog, family and policy-pack
rules, suppressed and not) and the hand-built sample report (a binary file's finding, a rule
outside the catalog, an errored check), and asserts the multitool reports no error and no
warning from GitHub's rules (``GH*``) or SARIF's own (``SARIF*``).
"""

from __future__ import annotations

import datetime as dt
import json
import pickle
import subprocess
from collections.abc import Callable
from pathlib import Path

from mlops_ci.formats import render
from tests.conftest import CliResult
from tests.reports import sample_report
from tests.tools import require

Cli = Callable[..., CliResult]
CARD = Path("models/fraud-detector/README.md")
# The checks with findings to show (onnx-model, sbom, signature, bench and eval would pass here).
CHECKS = ("card", "deps", "sast", "artifacts", "policy")
# SARIF2006 (a note) fetches every URI in the log over HTTP; tests make no network request.
NO_NETWORK = """<?xml version="1.0" encoding="utf-8"?>
<Properties>
  <Properties Key="SARIF2006.UrisShouldBeReachable.Options">
    <Property Key="RuleEnabled" Value="Disabled" Type="Driver.RuleEnabledState" />
  </Properties>
</Properties>
"""


class _RunsACommand:
    """A pickle that runs a shell command when loaded (never loaded here: only scanned)."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.system, ("echo pwned",))


def multitool_binary(found: str) -> list[str]:
    """The command that runs the multitool. npm's ``bin.js`` wrapper hands its arguments to a
    shell (``spawnSync(..., {shell: true})``), which splits ``Gh;Sarif`` at the semicolon, so the
    native binary beside it is run directly when it is there."""
    resolved = Path(found).resolve()
    if resolved.name == "bin.js":
        native = resolved.parent.parent / "sarif-multitool-linux" / "Sarif.Multitool"
        if native.is_file():
            return [str(native)]
    return [found]


def break_demo(repo: Path) -> None:
    """Give the demo one finding of every kind a check run can report."""
    card = repo / CARD
    text = card.read_text().replace("license: apache-2.0", "license: gpl-3.0", 1)
    card.write_text(text.replace("risk_level: limited", "risk_level: catastrophic", 1))
    (repo / "models/fraud-detector/extra.pkl").write_bytes(pickle.dumps(_RunsACommand()))
    requirements = repo / "requirements.txt"
    requirements.write_text(
        requirements.read_text().replace("requests==2.32.3", "requests==2.19.0")
    )
    (repo / "src/fraud_detector/shell.py").write_text(
        '"""Runs a command."""\n\nimport subprocess\n\n\n'
        "def run(cmd: str) -> int:\n    return subprocess.call(cmd, shell=True)\n"
    )
    expires = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30)).isoformat()
    (repo / "waivers.yaml").write_text(
        "waivers:\n  - id: W-001\n    rule: SAST-B602\n    reason: The command is a constant.\n"
        f"    owner: sec@example.com\n    expires: {expires}\n"
    )
    config = repo / "mlops-ci.yaml"
    config.write_text(config.read_text() + "waivers: waivers.yaml\n")


def test_sarif_passes_the_multitool_with_githubs_rules(
    cli: Cli, demo_repo: Path, tmp_path: Path
) -> None:
    command = multitool_binary(require("sarif-multitool"))
    break_demo(demo_repo)
    rich = tmp_path / "check.sarif"
    result = cli(
        "check", "--offline", *(a for c in CHECKS for a in ("--only", c)),
        "--format", f"sarif={rich}", cwd=demo_repo,
    )  # fmt: skip
    assert result.exit_code == 1, result.stdout + result.stderr
    log = json.loads(rich.read_text())
    run = log["runs"][0]
    rule_ids = {r["ruleId"] for r in run["results"]}
    assert {"CARD003", "ART-PICKLE-UNSAFE", "BASE-LICENSE-ALLOWED", "SAST-B602"} <= rule_ids
    assert any(r["ruleId"].startswith("DEP-") for r in run["results"])
    assert any(r.get("suppressions") for r in run["results"])
    assert run["automationDetails"]["id"] == "mlops-ci/check/fraud-detector/"
    sample = tmp_path / "sample.sarif"
    sample.write_text(render("sarif", sample_report()))

    out = tmp_path / "validation.sarif"
    config = tmp_path / "no-network.xml"
    config.write_text(NO_NETWORK)
    done = subprocess.run(
        [
            *command, "validate", "--rule-kind", "Gh;Sarif", "--config", str(config),
            "--output", str(out), str(rich), str(sample),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    validation = json.loads(out.read_text())
    problems = [
        f"{r['ruleId']} {r.get('level', 'warning')}: {r['message'].get('arguments')}"
        for run in validation["runs"]
        for r in run.get("results", [])
        if r.get("level", "warning") in ("error", "warning")
    ]
    assert problems == [], "\n".join(problems)
    assert "2 files scanned" in done.stdout, done.stdout  # both logs were read
