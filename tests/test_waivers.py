"""Waivers: accepted findings stay visible; expired waivers fail; unused ones warn."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from mlops_ci.findings import Report
from tests.conftest import CliResult
from tests.test_formats import validate_sarif

Cli = Callable[..., CliResult]
CARD = Path("models/fraud-detector/README.md")
TODAY = dt.datetime.now(dt.UTC).date()


def gpl_demo(repo: Path) -> Path:
    card = repo / CARD
    card.write_text(card.read_text().replace("license: apache-2.0", "license: gpl-3.0", 1))
    return repo


def write_waivers(repo: Path, rule: str, expires: dt.date, model: str = "fraud-detector") -> None:
    (repo / "waivers.yaml").write_text(
        "waivers:\n"
        "  - id: W-001\n"
        f"    rule: {rule}\n"
        f"    model: {model}\n"
        "    reason: Legal approved the GPL for this internal model.\n"
        "    owner: legal@example.com\n"
        f"    expires: {expires.isoformat()}\n"
    )


def check(cli: Cli, repo: Path, tmp_path: Path) -> tuple[CliResult, Report]:
    out = tmp_path / "out"
    result = cli(
        "check",
        "--format",
        f"json={out / 'r.json'}",
        "--format",
        f"sarif={out / 'r.sarif'}",
        "--format",
        "markdown",
        cwd=repo,
    )
    return result, Report.from_dict(json.loads((out / "r.json").read_text()))


def test_unwaived_finding_fails(cli: Cli, demo_repo: Path, tmp_path: Path) -> None:
    result, _ = check(cli, gpl_demo(demo_repo), tmp_path)
    assert result.exit_code == 1


def test_waived_finding_passes_but_stays_visible(cli: Cli, demo_repo: Path, tmp_path: Path) -> None:
    repo = gpl_demo(demo_repo)
    write_waivers(repo, "BASE-LICENSE-ALLOWED", TODAY + dt.timedelta(days=30))
    result, report = check(cli, repo, tmp_path)
    assert result.exit_code == 0, result.stdout
    (waived,) = [f for _, f in report.all_findings() if f.rule_id == "BASE-LICENSE-ALLOWED"]
    assert waived.suppressed_by == "W-001"
    assert "| ✔ `W-001` |" in result.stdout
    sarif = validate_sarif((tmp_path / "out" / "r.sarif").read_text())
    (res,) = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "BASE-LICENSE-ALLOWED"]
    assert res["suppressions"] == [
        {"kind": "external", "status": "accepted", "justification": "waived by W-001"}
    ]


def test_waiver_by_fingerprint(cli: Cli, demo_repo: Path, tmp_path: Path) -> None:
    repo = gpl_demo(demo_repo)
    _, report = check(cli, repo, tmp_path)
    (finding,) = [f for _, f in report.all_findings() if f.rule_id == "BASE-LICENSE-ALLOWED"]
    (repo / "waivers.yaml").write_text(
        "waivers:\n  - id: W-FP\n"
        f"    fingerprint: {finding.fingerprint}\n"
        "    reason: accepted\n    owner: me@example.com\n"
        f"    expires: {(TODAY + dt.timedelta(days=1)).isoformat()}\n"
    )
    result, _ = check(cli, repo, tmp_path)
    assert result.exit_code == 0


def test_expired_waiver_fails_the_gate(cli: Cli, demo_repo: Path, tmp_path: Path) -> None:
    repo = gpl_demo(demo_repo)
    write_waivers(repo, "BASE-LICENSE-ALLOWED", TODAY - dt.timedelta(days=1))
    result, report = check(cli, repo, tmp_path)
    assert result.exit_code == 1
    rules = {f.rule_id: f for _, f in report.all_findings()}
    assert rules["BASE-LICENSE-ALLOWED"].suppressed_by is None
    expired = rules["WAIVER-EXPIRED"]
    assert expired.location is not None
    assert (expired.location.path, expired.location.line) == ("waivers.yaml", 2)
    assert "expired on" in expired.message


def test_waiver_applies_through_its_expiry_day(cli: Cli, demo_repo: Path, tmp_path: Path) -> None:
    repo = gpl_demo(demo_repo)
    write_waivers(repo, "BASE-LICENSE-ALLOWED", TODAY)
    assert check(cli, repo, tmp_path)[0].exit_code == 0


def test_typo_in_rule_id_warns(cli: Cli, demo_repo: Path, tmp_path: Path) -> None:
    write_waivers(demo_repo, "BASE-LICENCE-ALLOWED", TODAY + dt.timedelta(days=30))
    result, report = check(cli, demo_repo, tmp_path)
    assert result.exit_code == 0  # a warning, not a failure
    (unused,) = [f for _, f in report.all_findings() if f.rule_id == "WAIVER-UNUSED"]
    assert unused.severity.label == "low"
    assert "did you mean 'BASE-LICENSE-ALLOWED'?" in unused.message


def test_waiver_for_a_check_that_did_not_run_is_not_unused(
    cli: Cli, demo_repo: Path, tmp_path: Path
) -> None:
    write_waivers(demo_repo, "ONNX001", TODAY + dt.timedelta(days=30))
    result = cli("check", "--only", "card", "--format", "json", cwd=demo_repo)
    report = Report.from_dict(json.loads(result.stdout))
    assert not [f for _, f in report.all_findings() if f.rule_id == "WAIVER-UNUSED"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "waivers:\n  - {id: W1, reason: r1r, owner: o, expires: 2030-01-01}\n",
            "give exactly one of 'rule' or 'fingerprint'",
        ),
        (
            "waivers:\n  - {id: W1, rule: X, reason: r1r, owner: o, expires: soon}\n",
            "waivers[0].expires: expected a date (YYYY-MM-DD)",
        ),
        (
            "waivers:\n  - {id: W1, rule: X, reason: r1r, owner: o, expires: 2030-01-01, ownr: x}\n",
            "unknown key 'ownr'; did you mean 'owner'?",
        ),
    ],
    ids=["no-target", "bad-date", "unknown-key"],
)
def test_bad_waivers_file_exits_2(cli: Cli, demo_repo: Path, text: str, message: str) -> None:
    (demo_repo / "waivers.yaml").write_text(text)
    result = cli("check", cwd=demo_repo)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: waivers.yaml:2:")
    assert message in result.stderr
