"""Markdown: a GitHub step summary and a PR/MR comment in one."""

from __future__ import annotations

from mlops_ci.findings import CheckResult, Finding, Report, Severity
from mlops_ci.formats.common import (
    SEVERITY_ICONS,
    STATUS_ICONS,
    VERDICT_TEXT,
    case_name,
    duration,
    headline_parts,
)
from mlops_ci.formats.markdown_charts import render_latency
from mlops_ci.formats.markdown_eval import render_eval

# Hidden marker that lets the sticky PR/MR comment be found and updated in place.
MARKER = "<!-- mlops-ci:report -->"
VERDICT_ICONS = {"pass": "✅", "fail": "❌", "error": "💥"}


def _cell(text: str) -> str:
    """Text safe inside a table cell: one line, no pipe, no raw HTML."""
    flat = " ".join(str(text).split())
    return flat.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _headline(report: Report) -> list[str]:
    verdict = report.verdict
    parts = headline_parts(
        report, plain=str, code=lambda name: f"`{name}`", strong=lambda name: f"**{name}**"
    )
    return [
        MARKER,
        f"## {VERDICT_ICONS[verdict]} mlops-ci: {VERDICT_TEXT[verdict]}",
        "",
        " · ".join(parts),
        "",
    ]


def _checks_table(report: Report) -> list[str]:
    lines = [
        "| Check | Model | Status | Findings | Duration |",
        "| --- | --- | --- | ---: | ---: |",
    ]
    for r in report.results:
        active = sum(1 for f in r.findings if f.suppressed_by is None)
        waived = len(r.findings) - active
        count = f"{active}" + (f" (+{waived} waived)" if waived else "")
        lines.append(
            f"| {_cell(r.check)} | {_cell(r.model or '—')} | {STATUS_ICONS[r.status]} {r.status}"
            f" | {count} | {duration(r.duration_s)} |"
        )
    return [*lines, ""]


def _key_figures(report: Report) -> list[str]:
    """One line per result that reports key figures (``CheckResult.summary``)."""
    rows = [
        f"| {_cell(r.check)} | {_cell(r.model or '—')} | "
        + " · ".join(f"{_cell(k)} **{_cell(v)}**" for k, v in r.summary.items())
        + " |"
        for r in report.results
        if r.summary
    ]
    if not rows:
        return []
    return ["### Key figures", "", "| Check | Model | Figures |", "| --- | --- | --- |", *rows, ""]


def _findings(report: Report) -> list[str]:
    pairs = report.all_findings()
    if not pairs:
        return []
    blocking = sum(1 for _, f in pairs if f.blocks(report.fail_on))
    lines = [f"### Findings ({len(pairs)}, {blocking} blocking)", ""]
    for severity in sorted(Severity, reverse=True):
        group = [(r, f) for r, f in pairs if f.severity == severity]
        if not group:
            continue
        lines += [
            f"#### {SEVERITY_ICONS[severity]} {severity.label.capitalize()} ({len(group)})",
            "",
            "| Rule | Model | Location | Message | Waived |",
            "| --- | --- | --- | --- | --- |",
        ]
        lines += [_finding_row(r, f) for r, f in group]
        lines.append("")
    return lines


def _finding_row(result: CheckResult, finding: Finding) -> str:
    where = f"`{_cell(str(finding.location))}`" if finding.location else "—"
    waived = f"✔ `{_cell(finding.suppressed_by)}`" if finding.suppressed_by else ""
    return (
        f"| `{_cell(finding.rule_id)}` | {_cell(result.model or '—')} | {where}"
        f" | {_cell(finding.message)} | {waived} |"
    )


def _problems(report: Report) -> list[str]:
    lines: list[str] = []
    for r in report.results:
        if r.status not in ("errored", "skipped") or not r.detail:
            continue
        label = "errored" if r.status == "errored" else "skipped"
        lines += [
            f"<details><summary>{STATUS_ICONS[r.status]} {label}: {_cell(case_name(r))}</summary>",
            "",
            "```text",
            r.detail.replace("```", "'''"),
            "```",
            "",
            "</details>",
            "",
        ]
    return lines


def _metrics(report: Report) -> list[str]:
    rows = [
        f"| {_cell(r.check)} | {_cell(r.model or '—')} | {_cell(k)} | {v:g} |"
        for r in report.results
        for k, v in sorted(r.metrics.items())
    ]
    if not rows:
        return []
    return [
        "<details><summary>Metrics</summary>",
        "",
        "| Check | Model | Metric | Value |",
        "| --- | --- | --- | ---: |",
        *rows,
        "",
        "</details>",
        "",
    ]


def render(report: Report) -> str:
    """The report as GitHub-flavoured Markdown."""
    lines = [
        *_headline(report),
        *_checks_table(report),
        *_key_figures(report),
        *render_latency(report),
        *render_eval(report),
        *_findings(report),
        *_problems(report),
        *_metrics(report),
        f"<sub>mlops-ci {report.tool_version} · started {report.started_at}</sub>",
    ]
    return "\n".join(lines) + "\n"
