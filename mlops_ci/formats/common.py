"""Helpers shared by the renderers."""

from __future__ import annotations

from mlops_ci.findings import CheckResult, Report, Severity

STATUS_ICONS = {"passed": "✅", "failed": "❌", "skipped": "⏭️", "errored": "💥"}
SEVERITY_ICONS = {
    Severity.CRITICAL: "🟣",
    Severity.HIGH: "🔴",
    Severity.MEDIUM: "🟠",
    Severity.LOW: "🟡",
    Severity.INFO: "🔵",
}
VERDICT_TEXT = {"pass": "PASS", "fail": "FAIL", "error": "ERROR"}


def case_name(result: CheckResult) -> str:
    """``check`` or ``check [model]``: how one result is named in every format."""
    return f"{result.check} [{result.model}]" if result.model else result.check


def fallback_path(report: Report, result: CheckResult) -> str:
    """A file to pin a location-less finding to: the model's path, else the configuration."""
    for model in report.models:
        if model.name == result.model:
            return model.path
    return report.config_path or "mlops-ci.yaml"
