"""JUnit XML for GitLab's test report (and Jenkins, Azure, CircleCI): one testcase per check and
model, valid against the common JUnit schema (Jenkins xunit's ``junit-10.xsd``, which
``tests/test_formats.py`` validates against).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from mlops_ci.findings import CheckResult, Report
from mlops_ci.formats.common import case_name

# Characters XML 1.0 cannot carry at all, even escaped (C0 controls but tab, CR and LF; lone
# surrogates; U+FFFE and U+FFFF): a tool's ANSI colours in an error detail would make the whole
# report unparsable, so each is written as a visible \xNN or \uNNNN escape instead.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(text: str) -> str:
    """``text`` with every character XML 1.0 forbids replaced by a visible escape."""

    def escape(match: re.Match[str]) -> str:
        code = ord(match.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _NOT_XML.sub(escape, text)


def _finding_lines(result: CheckResult, blocking: bool, report: Report) -> str:
    lines = []
    for f in result.findings:
        if f.blocks(report.fail_on) != blocking:
            continue
        where = f" at {f.location}" if f.location else ""
        waived = f" (waived by {f.suppressed_by})" if f.suppressed_by else ""
        lines.append(f"[{f.severity.label}] {f.rule_id}{where}: {f.message}{waived}")
    return _xml_text("\n".join(lines))


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
        "time": f"{sum(r.duration_s for r in results):.3f}",
    }
    # The schema allows 'skipped' on a testsuite only, not on testsuites.
    suites = ET.Element("testsuites", {"name": "mlops-ci", **totals})
    suite = ET.SubElement(
        suites,
        "testsuite",
        {
            "name": "mlops-ci",
            **totals,
            "skipped": str(skipped),
            "timestamp": _xml_text(report.started_at),
        },
    )
    for r in results:
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": _xml_text(f"mlops-ci.{r.check}"),
                "name": _xml_text(case_name(r)),
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
                    "type": _xml_text(blocking[0].rule_id if blocking else "failed"),
                },
            )
            failure.text = _finding_lines(r, True, report)
        elif r.status == "errored":
            detail = _xml_text(r.detail or "")
            error = ET.SubElement(
                case,
                "error",
                {"message": detail[:500] or "errored", "type": _xml_text(r.error_kind or "error")},
            )
            error.text = detail
        elif r.status == "skipped":
            ET.SubElement(case, "skipped", {"message": _xml_text(r.detail or "skipped")})
        others = _finding_lines(r, False, report)
        if others:
            ET.SubElement(case, "system-out").text = others
    ET.indent(suites)
    body = ET.tostring(suites, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
