"""SARIF 2.1.0 for GitHub code scanning and other SARIF consumers."""

from __future__ import annotations

import json
from typing import Any

from mlops_ci.findings import CheckResult, Finding, Report, Severity
from mlops_ci.formats.common import case_name, fallback_path
from mlops_ci.rules import all_rules, describe

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/mlops-ci/mlops-ci"
FINGERPRINT_KEY = "mlopsCi/v1"

_LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub ranks code-scanning alerts by this number (CVSS-like, as a string).
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "2.0",
    Severity.INFO: "0.0",
}


def _rule_docs(report: Report) -> dict[str, Any]:
    """Descriptions of rules defined at run time (policy pack rules), from the results' facts."""
    docs: dict[str, Any] = {}
    for result in report.results:
        found = result.facts.get("rule_docs")
        if isinstance(found, dict):
            docs.update(found)
    return docs


def _rule_descriptor(
    rule_id: str, fallback: Finding | None, docs: dict[str, Any]
) -> dict[str, Any]:
    rule = describe(rule_id)
    if rule is None and rule_id in docs:
        doc = docs[rule_id]
        return {
            "id": rule_id,
            "shortDescription": {"text": str(doc.get("title", rule_id))},
            "fullDescription": {"text": str(doc.get("description", rule_id))},
            "help": {
                "text": str(doc.get("remediation", "")),
                "markdown": str(doc.get("remediation", "")),
            },
            "properties": {"tags": ["mlops-ci", "policy"]},
        }
    if rule is None:
        text = fallback.message if fallback else rule_id
        return {
            "id": rule_id,
            "shortDescription": {"text": rule_id},
            "fullDescription": {"text": text},
        }
    severity = fallback.severity if fallback is not None else rule.severity
    descriptor: dict[str, Any] = {
        "id": rule_id,
        "name": "".join(w.capitalize() for w in rule.title.split()),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.description},
        "help": {"text": rule.remediation, "markdown": rule.remediation},
        "defaultConfiguration": {"level": _LEVELS[rule.severity]},
        "properties": {
            "security-severity": _SECURITY_SEVERITY[severity],
            "tags": ["security", "mlops-ci", rule.check],
        },
    }
    if rule.cwe is not None:
        descriptor["properties"]["tags"].append(f"external/cwe/cwe-{rule.cwe}")
    return descriptor


def _result(report: Report, check: CheckResult, finding: Finding, index: int) -> dict[str, Any]:
    location = finding.location
    physical: dict[str, Any] = {
        "artifactLocation": {
            "uri": location.path if location else fallback_path(report, check),
            "uriBaseId": "%SRCROOT%",
        }
    }
    if location is not None and location.line is not None and location.line >= 1:
        region: dict[str, int] = {"startLine": location.line}
        if location.column is not None and location.column >= 1:
            region["startColumn"] = location.column
        physical["region"] = region
    out: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": index,
        "level": _LEVELS[finding.severity],
        "message": {"text": finding.message},
        "locations": [{"physicalLocation": physical}],
        "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint},
        "properties": {
            "check": check.check,
            "model": check.model,
            "severity": finding.severity.label,
        },
    }
    if finding.suppressed_by is not None:
        out["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": f"waived by {finding.suppressed_by}",
            }
        ]
    return out


def render(report: Report) -> str:
    """The report as a SARIF 2.1.0 log with one run."""
    pairs = report.all_findings()
    examples: dict[str, Finding] = {}
    for _, finding in pairs:
        examples.setdefault(finding.rule_id, finding)
    rule_ids = sorted({r.id for r in all_rules() if not r.id.endswith("*")} | set(examples))
    index = {rule_id: n for n, rule_id in enumerate(rule_ids)}
    docs = _rule_docs(report)
    rules = [_rule_descriptor(rule_id, examples.get(rule_id), docs) for rule_id in rule_ids]
    notifications = [
        {
            "level": "error",
            "message": {"text": f"check {case_name(r)} errored: {r.detail or 'no detail'}"},
            "descriptor": {"id": r.check},
        }
        for r in report.results
        if r.status == "errored"
    ]
    invocation: dict[str, Any] = {"executionSuccessful": not notifications}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "mlops-ci",
                "version": report.tool_version,
                "semanticVersion": report.tool_version,
                "informationUri": INFORMATION_URI,
                "rules": rules,
            }
        },
        "invocations": [invocation],
        "results": [_result(report, r, f, index[f.rule_id]) for r, f in pairs],
        "properties": {"verdict": report.verdict, "failOn": report.fail_on.label},
    }
    remote = report.git.remote_url
    if report.git.commit and remote and "://" in remote:
        run["versionControlProvenance"] = [
            {
                "repositoryUri": remote,
                "revisionId": report.git.commit,
                **({"branch": report.git.branch} if report.git.branch else {}),
            }
        ]
    log = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2) + "\n"
