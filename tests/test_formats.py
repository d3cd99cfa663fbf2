"""Renderers: golden files, SARIF schema validity, JUnit parsing, GitLab Code Quality shape.

Regenerate the golden files after an intended change with ``UPDATE_GOLDEN=1 pytest tests/test_formats.py``.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from mlops_ci.formats import FORMATS, render
from tests.reports import sample_report

GOLDEN = Path(__file__).parent / "golden"
SARIF_SCHEMA = Path(__file__).parent / "data" / "sarif-2.1.0.json"
SUFFIX = {
    "json": "json",
    "markdown": "md",
    "sarif": "sarif",
    "junit": "xml",
    "gitlab-codequality": "cq.json",
    "html": "html",
    "text": "txt",
}


def validate_sarif(text: str) -> dict:  # type: ignore[type-arg]
    log = json.loads(text)
    schema = json.loads(SARIF_SCHEMA.read_text())
    jsonschema.Draft4Validator(schema).validate(log)
    return log  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_golden(name: str) -> None:
    text = render(name, sample_report())
    golden = GOLDEN / f"sample.{SUFFIX[name]}"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()
    assert render(name, sample_report()) == text  # deterministic


def test_sarif_is_valid_and_complete() -> None:
    log = validate_sarif(render("sarif", sample_report()))
    run = log["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert {"CARD001", "ONNX001", "DEP-PYSEC-2018-28"} <= set(rule_ids)
    for res in run["results"]:
        assert rule_ids[res["ruleIndex"]] == res["ruleId"]
        assert res["partialFingerprints"]["mlopsCi/v1"]
    waived = [r for r in run["results"] if r.get("suppressions")]
    assert [r["ruleId"] for r in waived] == ["CARD002"]
    assert run["invocations"][0]["executionSuccessful"] is False
    assert "boom" in run["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"]


def test_junit_parses_with_one_case_per_check_and_model() -> None:
    root = ET.fromstring(render("junit", sample_report()))
    cases = root.findall("./testsuite/testcase")
    assert [c.get("name") for c in cases] == [
        "card [fraud]",
        "onnx-model [fraud]",
        "deps",
        "bench [fraud]",
        "boom [fraud]",
    ]
    assert root.get("errors") == "1"
    assert cases[4].find("error") is not None
    assert cases[3].find("skipped") is not None
    assert "DEP-PYSEC-2018-28" in (cases[2].find("failure").text or "")  # type: ignore[union-attr]


def test_codequality_shape() -> None:
    issues = json.loads(render("gitlab-codequality", sample_report()))
    assert all(
        {"description", "check_name", "fingerprint", "severity", "location"} <= set(i)
        for i in issues
    )
    assert all(i["location"]["lines"]["begin"] >= 1 for i in issues)
    assert {i["severity"] for i in issues} <= {"info", "minor", "major", "critical", "blocker"}
    assert "CARD002" not in {i["check_name"] for i in issues}  # waived
    assert "mlops-ci/errored" in {i["check_name"] for i in issues}
    assert len({i["fingerprint"] for i in issues}) == len(issues)


def test_markdown_reads_as_a_summary() -> None:
    text = render("markdown", sample_report())
    assert text.startswith("<!-- mlops-ci:report -->\n## 💥 mlops-ci: ERROR")
    assert "| card | fraud | ❌ failed | 1 (+1 waived) |" in text
    assert "card has no front matter \\| use ---" in text
    assert "&lt;fix&gt;" in text
    assert "<details><summary>💥 errored: boom [fraud]</summary>" in text
