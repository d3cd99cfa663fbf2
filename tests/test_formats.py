"""Renderers: golden files, SARIF schema validity, JUnit parsing, GitLab Code Quality shape.

Regenerate the golden files after an intended change with ``UPDATE_GOLDEN=1 pytest tests/test_formats.py``.
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from mlops_ci.findings import CheckResult, Finding, Location, ModelRef, Report, Severity
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


# --- Reports other tools accept (issue 15) -------------------------------------------------

JUNIT_XSD = Path(__file__).parent / "data" / "junit-10.xsd"


def _junit_schema() -> Any:
    import xmlschema

    return xmlschema.XMLSchema(str(JUNIT_XSD))


def _hostile_report() -> Report:
    """Findings, details and names that a careless renderer would turn into broken output."""
    nasty = "\x1b[31mred\x1b[0m \x00nul \ud800 ]]> <script>&amp; \"q\" 'a' \ufffe end"
    finding = Finding(
        "BASE-OWNERS",
        Severity.HIGH,
        nasty,
        Location("models/my model/café.onnx"),
        "a" * 32,
    )
    undecodable = Finding("SAST-B1", Severity.LOW, "x", Location("src/b\udcff.py", 3, 2), "c" * 32)
    outside = Finding(
        "DEP-PYSEC-1", Severity.LOW, "low", Location("/elsewhere/req.txt", 2), "b" * 32
    )
    results = (
        CheckResult(
            "policy",
            "failed",
            "m-1",
            (finding,),
            facts={
                "rule_docs": {
                    "BASE-OWNERS": {"title": nasty, "description": "", "remediation": None}
                }
            },
        ),
        CheckResult("deps", "passed", None, (outside,)),
        CheckResult("sast", "passed", None, (undecodable,)),
        CheckResult("boom", "errored", "m-1", detail=nasty, error_kind="internal"),
        CheckResult("bench", "skipped", "m-1", detail=nasty),
    )
    return replace(
        sample_report(),
        models=(ModelRef("m-1", "models/my model/café.onnx", None),),
        results=results,
    )


@pytest.mark.parametrize("make", [sample_report, _hostile_report])
def test_junit_is_valid_against_the_common_junit_schema(make: Callable[[], Report]) -> None:
    text = render("junit", make())
    errors = [str(e).splitlines()[0] for e in _junit_schema().iter_errors(text)]
    assert errors == []
    root = ET.fromstring(text)
    assert root.get("skipped") is None and root.find("testsuite").get("skipped") == "1"  # type: ignore[union-attr]


def test_junit_escapes_what_xml_cannot_carry() -> None:
    root = ET.fromstring(render("junit", _hostile_report()))
    error = root.find("./testsuite/testcase/error")
    assert error is not None and error.text is not None
    # Messages are scrubbed of control characters before any format (findings.scrub_line);
    # a lone surrogate or U+FFFE survives that, and XML cannot carry them even escaped.
    assert error.text == "?[31mred?[0m ?nul \\ud800 ]]> <script>&amp; \"q\" 'a' \\ufffe end"
    assert error.get("type") == "internal"
    cases = root.findall("./testsuite/testcase")
    assert (cases[0].get("classname"), cases[0].get("name")) == (
        "mlops-ci.policy",
        "policy [m-1]",
    )
    assert cases[0].find("failure") is not None and cases[1].find("system-out") is not None


def test_sarif_every_result_has_a_region_and_every_rule_a_name_and_help() -> None:
    for report in (sample_report(), _hostile_report()):
        run = validate_sarif(render("sarif", report))["runs"][0]
        for res in run["results"]:
            region = res["locations"][0]["physicalLocation"]["region"]
            assert region["startLine"] >= 1
        for rule in run["tool"]["driver"]["rules"]:
            assert re.fullmatch(r"(?:[A-Z][a-z0-9]+)+", rule["name"]), rule
            assert rule["help"]["text"] and rule["shortDescription"]["text"]
            assert rule["fullDescription"]["text"]
        assert run["tool"]["driver"]["fullName"].startswith("mlops-ci 0.1.0")


def test_sarif_binary_file_is_line_one_and_policy_rules_are_named() -> None:
    run = validate_sarif(render("sarif", sample_report()))["runs"][0]
    (onnx,) = [r for r in run["results"] if r["ruleId"] == "ONNX001"]
    assert onnx["locations"][0]["physicalLocation"]["region"] == {"startLine": 1}
    hostile = validate_sarif(render("sarif", _hostile_report()))["runs"][0]
    rules = {r["id"]: r for r in hostile["tool"]["driver"]["rules"]}
    assert rules["BASE-OWNERS"]["name"] == "BaseOwners"
    assert "security" not in rules["BASE-OWNERS"]["properties"]["tags"]
    assert rules["DEP-PYSEC-1"]["properties"]["security-severity"] == "2.0"
    uris = {
        r["ruleId"]: r["locations"][0]["physicalLocation"]["artifactLocation"]
        for r in hostile["results"]
    }
    assert uris["BASE-OWNERS"] == {
        "uri": "models/my%20model/caf%C3%A9.onnx",
        "uriBaseId": "%SRCROOT%",
    }
    assert uris["DEP-PYSEC-1"] == {"uri": "file:///elsewhere/req.txt"}
    assert uris["SAST-B1"] == {"uri": "src/b%FF.py", "uriBaseId": "%SRCROOT%"}


@pytest.mark.parametrize(
    ("checks", "models", "expected"),
    [
        (("card", "onnx-model", "deps"), ("fraud",), "mlops-ci/check/fraud/"),
        (("deps", "sast", "artifacts"), ("b", "a"), "mlops-ci/scan/a,b/"),
        (("deps", "waivers"), ("a",), "mlops-ci/scan/a/"),
        (("deps",), (), "mlops-ci/scan/"),
        (("promote-verify",), (), "mlops-ci/promote-verify/"),
        ((), (), "mlops-ci/check/"),
        (("card",), tuple(f"model-{n:03}" for n in range(40)), "mlops-ci/check/40-models-"),
    ],
)
def test_sarif_automation_id_is_the_run_kind_and_models(
    checks: tuple[str, ...], models: tuple[str, ...], expected: str
) -> None:
    report = replace(
        sample_report(),
        models=tuple(ModelRef(m, f"models/{m}.onnx", None) for m in models),
        results=tuple(CheckResult(c, "passed", None) for c in checks),
    )
    run = validate_sarif(render("sarif", report))["runs"][0]
    got = run["automationDetails"]["id"]
    assert (
        got == expected
        if expected.endswith("/")
        else re.fullmatch(f"{expected}[0-9a-f]{{12}}/", got)
    )
    assert len(run["automationDetails"]["id"]) <= 140
    # the same run kind gives the same category on every run: nothing from the clock or commit
    assert (
        render("sarif", replace(report, started_at="2027-01-01T00:00:00+00:00")).count(expected)
        == 1
    )


@pytest.mark.parametrize(
    ("rule", "check", "expected"),
    [
        ("CARD003", "card", "Clarity"),
        ("ONNX001", "onnx-model", "Bug Risk"),
        ("ONNX002", "onnx-model", "Bug Risk"),
        ("BENCH-REGRESSION", "bench", "Performance"),
        ("BENCH-LOAD", "bench", "Bug Risk"),
        ("DEP-PYSEC-2018-28", "deps", "Security"),
        ("SAST-B602", "sast", "Security"),
        ("ART-PICKLE-UNSAFE", "artifacts", "Security"),
        ("ART-ONNX-CUSTOM-OP", "artifacts", "Compatibility"),
        ("BASE-LICENSE-ALLOWED", "policy", "Compatibility"),
        ("POLICY-BUDGET", "policy", "Complexity"),
        ("EVAL-REGRESSION", "eval", "Bug Risk"),
    ],
)
def test_codequality_category_matches_the_finding(rule: str, check: str, expected: str) -> None:
    finding = Finding(rule, Severity.HIGH, "m", None, "f" * 32)
    report = replace(sample_report(), results=(CheckResult(check, "failed", "fraud", (finding,)),))
    (issue,) = json.loads(render("gitlab-codequality", report))
    assert issue["categories"] == [expected]
    # about the model file when the finding has no location of its own, never the config
    assert issue["location"] == {"path": "models/a.onnx", "lines": {"begin": 1}}


def test_policy_findings_sit_on_the_file_they_are_about(
    cli: Callable[..., Any], tmp_path: Path
) -> None:
    """A pack rule that reads card facts points into the card; one about the model (valid,
    signed, scanned) points at the model file, not at the card's first line."""
    from mlops_ci.demo.model import save_mlp

    save_mlp(tmp_path / "model.onnx", (8, 4, 2))
    (tmp_path / "card.md").write_text(
        (Path(__file__).parent / "data/cards/complete.md").read_text()
    )
    (tmp_path / "local.yaml").write_text(
        "name: local\nversion: '1'\ndescription: d\nrules:\n"
        "  - {id: LOCAL-CARD, description: d, severity: high, message: m, remediation: r.,"
        " expr: 'lookup(\"card.valid\", false) == false'}\n"
        "  - {id: LOCAL-MODEL, description: d, severity: high, message: m, remediation: r.,"
        " expr: 'lookup(\"onnx_model.valid\", false) == true'}\n"
    )
    (tmp_path / "mlops-ci.yaml").write_text(
        "models:\n  - {name: m, path: model.onnx, card: card.md}\npolicies: [./local.yaml]\n"
    )
    out = tmp_path / "r.cq.json"
    result = cli(
        "check", "--only", "card", "--only", "policy", "--format", f"gitlab-codequality={out}",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.exit_code == 1, result.stdout + result.stderr
    where = {
        i["check_name"]: (i["location"]["path"], i["categories"])
        for i in json.loads(out.read_text())
    }
    assert where == {
        "LOCAL-CARD": ("card.md", ["Compatibility"]),
        "LOCAL-MODEL": ("model.onnx", ["Compatibility"]),
    }


@pytest.mark.parametrize("name", ["sarif", "junit", "gitlab-codequality"])
def test_hostile_report_renders_to_utf8(name: str) -> None:
    text = render(name, _hostile_report())
    text.encode("utf-8")  # what the file writer does: no lone surrogate survives
    assert "\x00" not in text and "\ufffe" not in text
