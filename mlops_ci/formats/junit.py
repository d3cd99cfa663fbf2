"""JUnit XML for GitLab's test report: one testcase per check and model."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from mlops_ci.findings import CheckResult, Report
from mlops_ci.formats.common import case_name


def _finding_lines(result: CheckResult, blocking: bool, report: Report) -> str:
    lines = []
    for f in result.findings:
        if f.blocks(report.fail_on) != blocking:
            continue
        where = f" at {f.location}" if f.location else ""
        waived = f" (waived by {f.suppressed_by})" if f.suppressed_by else ""
        lines.append(f"[{f.severity.label}] {f.rule_id}{where}: {f.message}{waived}")
    return "\n".join(lines)


def render(report: Report) -> str:
    """The report as a JUnit XML document."""
    results = report.results
    failures = sum(1 for r in results if r.status == "failed")
    errors = sum(1 for r in results if r.status == "errored")
    skipped = sum(1 for r in results if r.status == "skipped")
    totals = {
        "tests": str(len(results)),
        "failures": str(failures),
        "errors": str(errors),
        "skipped": str(skipped),
        "time": f"{sum(r.duration_s for r in results):.3f}",
    }
    suites = ET.Element("testsuites", {"name": "mlops-ci", **totals})
    suite = ET.SubElement(
        suites, "testsuite", {"name": "mlops-ci", "timestamp": report.started_at, **totals}
    )
    for r in results:
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": f"mlops-ci.{r.check}",
                "name": case_name(r),
                "time": f"{r.duration_s:.3f}",
            },
        )
        if r.status == "failed":
            blocking = [f for f in r.findings if f.blocks(report.fail_on)]
            failure = ET.SubElement(
                case,
                "failure",
                {
                    "message": f"{len(blocking)} finding(s) at or above {report.fail_on.label}",
                    "type": blocking[0].rule_id if blocking else "failed",
                },
            )
            failure.text = _finding_lines(r, True, report)
        elif r.status == "errored":
            error = ET.SubElement(
                case,
                "error",
                {"message": (r.detail or "errored")[:500], "type": r.error_kind or "error"},
            )
            error.text = r.detail or ""
        elif r.status == "skipped":
            ET.SubElement(case, "skipped", {"message": r.detail or "skipped"})
        others = _finding_lines(r, False, report)
        if others:
            ET.SubElement(case, "system-out").text = others
    ET.indent(suites)
    body = ET.tostring(suites, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
