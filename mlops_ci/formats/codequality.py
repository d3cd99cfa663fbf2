"""GitLab Code Quality report: a JSON array of issues (waived findings are left out).

Each issue's category comes from the rule catalog (:func:`mlops_ci.rules.category`: a card
finding is Clarity, an ONNX validity finding Bug Risk, a latency one Performance, and only the
supply-chain checks Security), and its location is the file the finding is about: the model file
for a finding without a location of its own, never the configuration when a model is named.
"""

from __future__ import annotations

import json
from typing import Any

from mlops_ci.findings import Report, Severity, fingerprint
from mlops_ci.formats.common import case_name, fallback_path
from mlops_ci.rules import category

_SEVERITY = {
    Severity.INFO: "info",
    Severity.LOW: "minor",
    Severity.MEDIUM: "major",
    Severity.HIGH: "critical",
    Severity.CRITICAL: "blocker",
}


def render(report: Report) -> str:
    """The report as a GitLab Code Quality JSON array."""
    issues: list[dict[str, Any]] = []
    for result, finding in report.all_findings():
        if finding.suppressed_by is not None:
            continue
        location = finding.location
        issues.append(
            {
                "type": "issue",
                "description": f"{finding.rule_id}: {finding.message}",
                "check_name": finding.rule_id,
                "fingerprint": fingerprint(finding.fingerprint, result.model or ""),
                "severity": _SEVERITY[finding.severity],
                "categories": [category(finding.rule_id, result.check)],
                "location": {
                    "path": location.path if location else fallback_path(report, result),
                    "lines": {"begin": location.line if location and location.line else 1},
                },
            }
        )
    for result in report.results:
        if result.status != "errored":
            continue
        issues.append(
            {
                "type": "issue",
                "description": f"check {case_name(result)} errored: {result.detail or 'no detail'}",
                "check_name": "mlops-ci/errored",
                "fingerprint": fingerprint("errored", result.check, result.model or ""),
                "severity": "blocker",
                "categories": ["Bug Risk"],
                "location": {"path": fallback_path(report, result), "lines": {"begin": 1}},
            }
        )
    return json.dumps(issues, indent=2) + "\n"
