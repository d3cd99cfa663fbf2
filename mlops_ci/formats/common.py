"""Helpers shared by the renderers."""

from __future__ import annotations

from collections.abc import Callable

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


def duration(seconds: float) -> str:
    """``12 ms`` under a second, ``1.2 s`` from one second on."""
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def headline_parts(
    report: Report,
    *,
    plain: Callable[[str], str],
    code: Callable[[str], str],
    strong: Callable[[str], str],
) -> list[str]:
    """The run in a few phrases (results, threshold, target, commit, time), marked up by the caller.

    ``plain`` escapes ordinary text, ``code`` marks a name or a commit, ``strong`` the threshold:
    each format passes its own, so every format says the same thing in its own markup.
    """
    counts: dict[str, int] = {}
    for r in report.results:
        counts[r.status] = counts.get(r.status, 0) + 1
    tally = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no checks ran"
    models = len(report.models)
    parts = [
        f"{len(report.results)} results on {models} model{'s' if models != 1 else ''}: "
        + plain(tally),
        f"fail on {strong(report.fail_on.label)}",
    ]
    if report.environment:
        parts.append(f"target {code(report.environment)}")
    if report.git.commit:
        branch = f" on {code(report.git.branch)}" if report.git.branch else ""
        parts.append(f"commit {code(report.git.commit[:12])}{branch}")
    parts.append(duration(report.duration_s))
    return parts
