"""The canonical JSON report (``report_version`` 1)."""

from __future__ import annotations

import json

from mlops_ci.findings import Report


def render(report: Report) -> str:
    """The report as indented JSON with a trailing newline."""
    return json.dumps(report.to_dict(), indent=2, sort_keys=False, default=str) + "\n"
