"""The ``sast`` check: real bandit runs, findings at the right lines, valid SARIF."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from mlops_ci.findings import Report
from tests.conftest import CliResult
from tests.test_formats import validate_sarif

Cli = Callable[..., CliResult]
RISKY = '''"""Risky helpers."""
import pickle
import subprocess


def run(cmd: str) -> int:
    return subprocess.call(cmd, shell=True)


def restore(data: bytes) -> object:
    return pickle.loads(data)
'''


def test_bandit_findings_lines_cwe_and_sarif(cli: Cli, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "risky.py").write_text(RISKY)
    sarif_path = tmp_path / "out.sarif"
    result = cli(
        "scan", "--source", "src", "--format", "json", "--format", f"sarif={sarif_path}",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.exit_code == 1, result.stderr
    report = Report.from_dict(json.loads(result.stdout))
    (sast,) = [r for r in report.results if r.check == "sast"]
    by_rule = {f.rule_id: f for f in sast.findings}
    b602, b301 = by_rule["SAST-B602"], by_rule["SAST-B301"]
    assert b602.location is not None and (b602.location.path, b602.location.line) == (
        "src/risky.py", 7,
    )  # fmt: skip
    assert b301.location is not None and (b301.location.path, b301.location.line) == (
        "src/risky.py", 11,
    )  # fmt: skip
    assert b602.severity.label == "high" and "CWE-78" in b602.message
    assert "CWE-502" in b301.message and "confidence high" in b301.message
    assert sast.facts["counts"]["high"] >= 1 and sast.facts["total"] == len(sast.findings)
    log = validate_sarif(sarif_path.read_text())
    results = log["runs"][0]["results"]
    assert {r["ruleId"] for r in results} >= {"SAST-B602", "SAST-B301"}
    located = {
        r["ruleId"]: r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in results
    }
    assert located["SAST-B602"] == 7 and located["SAST-B301"] == 11
    # The other checks had nothing to do: skipped, with the reason.
    skipped = {r.check: r.detail for r in report.results if r.status == "skipped"}
    assert "deps" in skipped and "scan.requirements" in str(skipped["deps"])

    # Moving the code keeps the fingerprints (they do not contain line numbers).
    (src / "risky.py").write_text("# moved down\n\n" + RISKY)
    moved = Report.from_dict(json.loads(cli("scan", "--source", "src", "-f", "json").stdout))
    (moved_sast,) = [r for r in moved.results if r.check == "sast"]
    assert {f.fingerprint for f in moved_sast.findings} == {f.fingerprint for f in sast.findings}


def test_tool_bandit_config_is_honoured(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "risky.py").write_text(RISKY)
    (tmp_path / "pyproject.toml").write_text('[tool.bandit]\nskips = ["B602", "B301", "B403"]\n')
    (tmp_path / "mlops-ci.yaml").write_text("version: 1\nscan: {source: [src]}\n")
    result = cli("scan", "-f", "json", cwd=tmp_path)
    report = Report.from_dict(json.loads(result.stdout))
    (sast,) = [r for r in report.results if r.check == "sast"]
    rules = {f.rule_id for f in sast.findings}
    assert "SAST-B602" not in rules and "SAST-B301" not in rules
    assert "SAST-B404" in rules  # import subprocess: not skipped


def test_missing_source_path_exits_2(cli: Cli, tmp_path: Path) -> None:
    result = cli("scan", "--source", "nope", cwd=tmp_path)
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: {tmp_path / 'nope'}: source path does not exist; fix 'scan.source' or --source"
    )
