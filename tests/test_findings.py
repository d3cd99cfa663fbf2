"""The report model and its JSON form."""

from __future__ import annotations

import json

import pytest

from mlops_ci.findings import REPORT_VERSION, Report, Severity
from mlops_ci.formats import render
from tests.reports import sample_report


def test_severity_order_and_parse() -> None:
    assert Severity.CRITICAL > Severity.HIGH > Severity.MEDIUM > Severity.LOW > Severity.INFO
    assert Severity.parse(" High ") is Severity.HIGH
    with pytest.raises(ValueError, match="use one of info, low"):
        Severity.parse("severe")


def test_json_round_trips() -> None:
    report = sample_report()
    data = json.loads(render("json", report))
    assert data["report_version"] == REPORT_VERSION
    assert Report.from_dict(data) == report


def test_unknown_report_version_is_refused() -> None:
    data = sample_report().to_dict()
    data["report_version"] = 99
    with pytest.raises(ValueError, match="unsupported report_version 99"):
        Report.from_dict(data)


def test_verdict_and_exit_code() -> None:
    report = sample_report()
    assert report.verdict == "error"
    assert report.exit_code == 3
    ok = Report("0", "t", report.git, (), tuple(r for r in report.results if r.status == "skipped"))
    assert (ok.verdict, ok.exit_code) == ("pass", 0)


def test_waived_finding_does_not_block() -> None:
    waived = sample_report().results[0].findings[0]
    assert waived.suppressed_by == "waiver-7"
    assert not waived.blocks(Severity.INFO)
