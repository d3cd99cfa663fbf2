"""SARIF 2.1.0 for GitHub code scanning and other SARIF consumers.

The log passes Microsoft's SARIF multitool with GitHub's rules (``validate --rule-kind
"Gh;Sarif"``, tests/test_sarif_multitool.py): every result has a region, every rule a
Pascal-case ``name`` and a ``help``, and the run an ``automationDetails.id`` whose category
keeps a check upload and a scan upload (or two models' matrix jobs) apart in code scanning.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any
from urllib.parse import quote

from mlops_ci.findings import CheckResult, Finding, Report, Severity, fingerprint
from mlops_ci.formats.common import case_name, fallback_path
from mlops_ci.rules import all_rules, category, describe

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/mlops-ci/mlops-ci"
FINGERPRINT_KEY = "mlopsCi/v1"
SRCROOT = "%SRCROOT%"
#: The checks ``mlops-ci scan`` runs; a report of only these is a scan, not a check.
SCAN_CHECKS = frozenset({"deps", "sast", "artifacts"})

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
_MAX_MODELS_TEXT = 100
_ARTICLES = frozenset({"a", "an", "the"})
# The multitool's test for a "friendly name" (SARIF2012): words of one capital and at least one
# lower-case letter or digit each.
_PASCAL = re.compile(r"^(?:[A-Z][a-z0-9]+)+$")


def pascal_name(text: str) -> str:
    """``text`` (a rule title or ID) as a Pascal-case identifier: ``ModelCardMissing``.

    ASCII letters and digits only, articles dropped; a word of one letter or one that starts with
    a digit is joined to the word before it (``SIG-2FA`` gives ``Sig2fa``, ``X-INFO`` ``Xinfo``).
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = [w.lower() for w in re.split(r"[^A-Za-z0-9]+", ascii_text) if w]
    words = [w for w in words if w not in _ARTICLES] or words
    name, carry = "", ""
    for word in words:
        if not name:  # the first word must be a capital and at least one more character
            carry += word
            if len(carry) >= 2:
                name = ("rule" + carry if carry[0].isdigit() else carry).capitalize()
        elif word[0].isdigit() or len(word) == 1:
            name += word
        else:
            name += word.capitalize()
    if not name:
        name = ("rule" + carry).capitalize()
    return name if _PASCAL.match(name) else "Rule"


def _run_category(report: Report) -> str:
    """``mlops-ci/<kind>/<models>``: what ran, on which models (the code-scanning category)."""
    checks = {r.check for r in report.results} - {"waivers"}  # the ledger rides along with any run
    if checks and checks <= SCAN_CHECKS:
        kind = "scan"
    elif checks == {"promote-verify"}:
        kind = "promote-verify"
    else:
        kind = "check"
    models = sorted({m.name for m in report.models} or {r.model for r in report.results if r.model})
    parts = ["mlops-ci", kind]
    if models:
        names = ",".join(re.sub(r"[^A-Za-z0-9._-]+", "-", m) for m in models)
        if len(names) > _MAX_MODELS_TEXT:  # a monorepo's whole list: still stable, still short
            names = f"{len(models)}-models-{fingerprint(*models)[:12]}"
        parts.append(names)
    return "/".join(parts)


def _rule_docs(report: Report) -> dict[str, Any]:
    """Descriptions of rules defined at run time (policy pack rules), from the results' facts."""
    docs: dict[str, Any] = {}
    for result in report.results:
        found = result.facts.get("rule_docs")
        if isinstance(found, dict):
            docs.update(found)
    return docs


def _text(value: object, fallback: str) -> str:
    text = str(value).strip() if value is not None else ""
    return text or fallback


def _rule_descriptor(
    rule_id: str, example: tuple[CheckResult, Finding] | None, docs: dict[str, Any]
) -> dict[str, Any]:
    rule = describe(rule_id)
    check = example[0].check if example else None
    finding = example[1] if example else None
    doc = docs.get(rule_id)
    if rule is None and isinstance(doc, dict):
        title = _text(doc.get("title"), rule_id)
        remediation = _text(doc.get("remediation"), "See the policy pack that defines the rule.")
        descriptor: dict[str, Any] = {
            "id": rule_id,
            "name": pascal_name(rule_id),
            "shortDescription": {"text": title},
            "fullDescription": {"text": _text(doc.get("description"), title)},
            "help": {"text": remediation, "markdown": remediation},
        }
        severity = finding.severity if finding else Severity.HIGH
        tags = ["mlops-ci", "policy"]
    elif rule is None:
        text = finding.message if finding else rule_id
        descriptor = {
            "id": rule_id,
            "name": pascal_name(rule_id),
            "shortDescription": {"text": rule_id},
            "fullDescription": {"text": text},
            "help": {"text": text, "markdown": text},
        }
        severity = finding.severity if finding else Severity.MEDIUM
        tags = ["mlops-ci"] + ([check] if check else [])
    else:
        descriptor = {
            "id": rule_id,
            "name": pascal_name(rule.title),
            "shortDescription": {"text": rule.title},
            "fullDescription": {"text": rule.description},
            "help": {"text": rule.remediation, "markdown": rule.remediation},
        }
        severity = finding.severity if finding else rule.severity
        tags = ["mlops-ci", rule.check]
    descriptor["defaultConfiguration"] = {"level": _LEVELS[severity]}
    properties: dict[str, Any] = {}
    # GitHub treats a rule as a security rule (and ranks it by security-severity) only with the
    # "security" tag: a card or a latency finding is not a vulnerability.
    if category(rule_id, check) == "Security":
        properties["security-severity"] = _SECURITY_SEVERITY[severity]
        tags = ["security", *tags]
    properties["tags"] = tags
    if rule is not None and rule.cwe is not None:
        properties["tags"].append(f"external/cwe/cwe-{rule.cwe}")
    descriptor["properties"] = properties
    return descriptor


def _artifact(path: str) -> dict[str, str]:
    """An ``artifactLocation``: repository-relative under %SRCROOT%, else an absolute file URI
    (a file outside the repository, e.g. ``scan -r /elsewhere/requirements.txt``)."""
    # A file name that is not UTF-8 reaches us with surrogate escapes (os.fsdecode): its
    # original bytes are percent-encoded, as a URI carries them.
    uri = quote(path, errors="surrogateescape")
    if path.startswith("/"):
        return {"uri": "file://" + uri}
    return {"uri": uri, "uriBaseId": SRCROOT}


def _result(report: Report, check: CheckResult, finding: Finding, index: int) -> dict[str, Any]:
    location = finding.location
    region: dict[str, int] = {"startLine": 1}  # a binary file or a finding about a whole file
    if location is not None and location.line is not None and location.line >= 1:
        region["startLine"] = location.line
        if location.column is not None and location.column >= 1:
            region["startColumn"] = location.column
    path = location.path if location else fallback_path(report, check)
    out: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": index,
        "level": _LEVELS[finding.severity],
        "message": {"text": finding.message},
        "locations": [
            {"physicalLocation": {"artifactLocation": _artifact(path), "region": region}}
        ],
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
    examples: dict[str, tuple[CheckResult, Finding]] = {}
    for result, finding in pairs:
        examples.setdefault(finding.rule_id, (result, finding))
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
                "fullName": f"mlops-ci {report.tool_version}, the GitOps CI/CD gate for ML models",
                "version": report.tool_version,
                "semanticVersion": report.tool_version,
                "informationUri": INFORMATION_URI,
                "rules": rules,
            }
        },
        # Trailing slash: all of it is the category, as github/codeql-action writes it.
        "automationDetails": {"id": _run_category(report) + "/"},
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
                "mappedTo": {"uriBaseId": SRCROOT},
            }
        ]
    log = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2) + "\n"
