"""HTML: one self-contained page for people (a CI artifact to download and open).

The same content as the Markdown report: the verdict, the checks, the key figures, the latency
and evaluation sections with their charts (inline SVG drawn by :mod:`mlops_ci.charts.svg`),
the findings (blocking first, each with its rule and file:line), errors, skips and metrics.

Self-contained and inert: inline CSS, no script, no font, image, stylesheet or link that
fetches, and a Content-Security-Policy (``default-src 'none'``) that keeps it so should any
markup slip through. Every piece of report text goes through :func:`html.escape`. Pure and
deterministic: the same report gives the same bytes (no clock).
"""

from __future__ import annotations

from mlops_ci.findings import CheckResult, Finding, Report
from mlops_ci.formats.common import (
    SEVERITY_ICONS,
    STATUS_ICONS,
    VERDICT_TEXT,
    case_name,
    duration,
    headline_parts,
)
from mlops_ci.formats.html_sections import eval_sections, latency_sections, table, text

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
VERDICT_ICONS = {"pass": "✅", "fail": "❌", "error": "💥"}
STYLE = """
:root { color-scheme: light; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; }
body { font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
  margin: 0; background: #f6f8fa; }
main { max-width: 980px; margin: 0 auto; padding: 24px; background: #fff; }
h1 { margin: 0 0 4px; font-size: 24px; } h2 { margin-top: 32px; font-size: 18px; }
h3 { font-size: 15px; margin: 20px 0 8px; }
.verdict { border-radius: 6px; padding: 16px 20px; border: 1px solid; }
.verdict-pass { background: #dafbe1; border-color: #1a7f37; }
.verdict-fail { background: #ffebe9; border-color: #cf222e; }
.verdict-error { background: #fbefff; border-color: #8250df; }
.meta { color: var(--muted); margin: 0; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.message { max-width: 520px; overflow-wrap: anywhere; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: #eff2f5;
  padding: 1px 4px; border-radius: 4px; overflow-wrap: anywhere; }
pre { background: #f6f8fa; padding: 8px; white-space: pre-wrap; overflow-wrap: anywhere; }
.chart { display: block; margin: 8px 0 16px; max-width: 100%; height: auto; }
.chart text { fill: var(--fg); }
.blocking { color: #cf222e; font-weight: 600; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
""".strip()


def _headline(report: Report) -> str:
    verdict = report.verdict
    parts = headline_parts(
        report,
        plain=text,
        code=lambda name: f"<code>{text(name)}</code>",
        strong=lambda name: f"<strong>{text(name)}</strong>",
    )
    return (
        f'<header class="verdict verdict-{verdict}" id="verdict">'
        f"<h1>{VERDICT_ICONS[verdict]} mlops-ci: {VERDICT_TEXT[verdict]}</h1>"
        f'<p class="meta">{" · ".join(parts)}</p></header>'
    )


def _checks(report: Report) -> str:
    rows = []
    for r in report.results:
        active = sum(1 for f in r.findings if f.suppressed_by is None)
        waived = len(r.findings) - active
        count = f"{active}" + (f" (+{waived} waived)" if waived else "")
        rows.append(
            [
                text(r.check),
                text(r.model or "—"),
                f"{STATUS_ICONS[r.status]} {text(r.status)}",
                count,
                duration(r.duration_s),
            ]
        )
    return "<h2>Checks</h2>" + table(
        ["Check", "Model", "Status", "Findings", "Duration"], rows, numeric=(3, 4)
    )


def _key_figures(report: Report) -> str:
    rows = [
        [
            text(r.check),
            text(r.model or "—"),
            " · ".join(f"{text(k)} <strong>{text(v)}</strong>" for k, v in r.summary.items()),
        ]
        for r in report.results
        if r.summary
    ]
    if not rows:
        return ""
    return "<h2>Key figures</h2>" + table(["Check", "Model", "Figures"], rows)


def _finding_row(report: Report, result: CheckResult, finding: Finding) -> list[str]:
    severity = finding.severity
    where = f"<code>{text(finding.location)}</code>" if finding.location else "—"
    waived = f"✔ <code>{text(finding.suppressed_by)}</code>" if finding.suppressed_by else ""
    return [
        f"{SEVERITY_ICONS[severity]} {text(severity.label)}",
        f"<code>{text(finding.rule_id)}</code>",
        text(result.model or "—"),
        where,
        f'<span class="message">{text(finding.message)}</span>',
        waived,
    ]


def _findings(report: Report) -> str:
    pairs = report.all_findings()
    if not pairs:
        return ""
    blocking = [(r, f) for r, f in pairs if f.blocks(report.fail_on)]
    others = [(r, f) for r, f in pairs if not f.blocks(report.fail_on)]
    headers = ["Severity", "Rule", "Model", "Location", "Message", "Waived"]
    parts = [f"<h2>Findings ({len(pairs)}, {len(blocking)} blocking)</h2>"]
    for title, group, css in (
        (f"Blocking (at {report.fail_on.label} and above)", blocking, ' class="blocking"'),
        ("Not blocking", others, ""),
    ):
        if group:
            parts.append(f"<h3{css}>{text(title)} ({len(group)})</h3>")
            parts.append(table(headers, [_finding_row(report, r, f) for r, f in group]))
    return "".join(parts)


def _problems(report: Report) -> str:
    parts = []
    for r in report.results:
        if r.status not in ("errored", "skipped") or not r.detail:
            continue
        label = "errored" if r.status == "errored" else "skipped"
        parts.append(
            f"<details><summary>{STATUS_ICONS[r.status]} {label}: {text(case_name(r))}</summary>"
            f"<pre>{text(r.detail)}</pre></details>"
        )
    return "".join(parts)


def _metrics(report: Report) -> str:
    rows = [
        [text(r.check), text(r.model or "—"), text(k), text(f"{v:g}")]
        for r in report.results
        for k, v in sorted(r.metrics.items())
    ]
    if not rows:
        return ""
    return (
        "<details><summary>Metrics</summary>"
        + table(["Check", "Model", "Metric", "Value"], rows, numeric=(3,))
        + "</details>"
    )


def render(report: Report) -> str:
    """The report as one self-contained HTML document."""
    verdict = VERDICT_TEXT[report.verdict]
    body = "".join(
        [
            _headline(report),
            _checks(report),
            _key_figures(report),
            latency_sections(report),
            eval_sections(report),
            _findings(report),
            _problems(report),
            _metrics(report),
        ]
    )
    footer = f"mlops-ci {text(report.tool_version)} · started {text(report.started_at)}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>mlops-ci: {verdict}</title>\n<style>\n{STYLE}\n</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n<footer>{footer}</footer>\n</main>\n</body>\n</html>\n"
    )
