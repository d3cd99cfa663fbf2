"""Helpers shared by the commands: option parsing and report delivery."""

from __future__ import annotations

import sys

from mlops_ci.errors import UsageError
from mlops_ci.findings import Report, Severity
from mlops_ci.outputs import OutputSpec, deliver


def parse_severity(text: str | None, option: str = "--fail-on") -> Severity | None:
    """The severity an option names (None when not given); a usage error otherwise."""
    if text is None:
        return None
    try:
        return Severity.parse(text)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


def emit_report(report: Report, specs: list[OutputSpec]) -> int:
    """Write the report's outputs, print input errors as one line each, return the exit code."""
    for text in deliver(report, specs):
        sys.stdout.write(text)
    sys.stdout.flush()
    printed: set[str] = set()
    for result in report.results:
        if result.status == "errored":
            kind = "error" if result.error_kind == "input" else "internal error"
            line = f"{kind}: {result.detail}"
            if line not in printed:  # one broken file can break several checks
                printed.add(line)
                print(line, file=sys.stderr)
    return report.exit_code
