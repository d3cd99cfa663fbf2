"""The HTML report's latency and evaluation sections (the Markdown report's tables, with the
charts of :mod:`mlops_ci.charts.data` drawn as inline SVG), and the escaping they share with
:mod:`mlops_ci.formats.html`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

from mlops_ci.charts import BarChart, svg
from mlops_ci.charts.data import (
    PERCENTILES,
    TOP,
    finite,
    latency_chart,
    mapping,
    mappings,
    metric_charts,
    moved_slices,
    slice_charts,
)
from mlops_ci.findings import CheckResult, Report
from mlops_ci.formats.markdown_eval import VERDICT_TEXT, interval, num, signed


def text(value: object) -> str:
    """Report text as HTML: escaped, quotes included (safe in content and in attributes)."""
    return escape(str(value), quote=True)


def table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: Sequence[int] = ()
) -> str:
    """A table of already-escaped cells; the columns in ``numeric`` are right-aligned."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{cell}</td>' if index in numeric else f"<td>{cell}</td>"
            for index, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _charts(charts: Iterable[BarChart]) -> str:
    return "".join(svg.render(chart) for chart in charts)


def _latency(result: CheckResult) -> str:
    facts = result.facts
    measured = [p for p in PERCENTILES if finite(facts.get(f"{p}_ms")) is not None]
    if not measured:
        return ""
    rows = [["candidate", *(num(facts.get(f"{p}_ms")) for p in measured)]]
    chart = latency_chart(result)
    if chart is not None:
        rows.insert(0, ["baseline", *(num(facts.get(f"baseline_{p}_ms")) for p in measured)])
        against = f"Against {text(facts.get('baseline') or 'the baseline')}"
    else:
        against = "No baseline to compare with"
    columns = range(1, len(measured) + 1)
    return (
        f"<h3>Latency: {text(result.model or '—')}</h3>"
        f"<p>{against}, on {text(facts.get('provider', '?'))}.</p>"
        + table(["", *(f"{p} (ms)" for p in measured)], rows, numeric=tuple(columns))
        + (svg.render(chart) if chart is not None else "")
    )


def latency_sections(report: Report) -> str:
    """A section per ``bench`` result that measured latency (a chart when compared)."""
    parts = [_latency(r) for r in report.results if r.check == "bench"]
    body = "".join(parts)
    return f"<h2>Latency</h2>{body}" if body else ""


def _verdict(value: object) -> str:
    verdict = str(value)
    return text(VERDICT_TEXT.get(verdict, verdict))


def _eval(result: CheckResult) -> str:
    facts = result.facts
    metrics, baseline = mapping(facts.get("metrics")), mapping(facts.get("baseline"))
    delta, gate = mapping(facts.get("delta")), mapping(facts.get("gate"))
    against = facts.get("baseline_label") or "no baseline"
    level = facts.get("confidence")
    confidence = f"{level:.0%} " if isinstance(level, float) else ""
    rows = [
        [
            text(name),
            num(baseline.get(name)),
            num(metrics[name]),
            text(interval(mapping(delta.get(name)))),
            _verdict(mapping(gate.get(name)).get("verdict", "none")),
        ]
        for name in metrics
    ]
    digest = str(facts.get("data_digest", ""))[:19]
    parts = [
        f"<h3>Evaluation: {text(result.model or '—')}</h3>",
        f"<p>{text(facts.get('rows', '?'))} rows of <code>{text(facts.get('data', '?'))}</code>"
        f" (<code>{text(digest)}…</code>) against {text(against)}:"
        f" <strong>{text(str(facts.get('verdict', 'none')).upper())}</strong></p>",
        table(
            ["Metric", "Baseline", "Candidate", f"Delta [{confidence}CI]", "Verdict"],
            rows,
            numeric=(1, 2),
        ),
        _charts(metric_charts(result)),
        _slices(mappings(facts.get("slice_results"))),
        _charts(slice_charts(result)),
        _fairness(mappings(facts.get("fairness_results"))),
        _importance(mappings(facts.get("importance_results"))),
    ]
    return "".join(parts)


def _slices(results: Sequence[Mapping[str, Any]]) -> str:
    moved = moved_slices(results)
    if not moved:
        return ""
    rows = [
        [
            f"{text(s.get('column'))}={text(s.get('group'))}",
            num(s.get("rows")),
            text(s.get("metric")),
            num(s.get("baseline")),
            num(s.get("candidate")),
            text(interval(s)),
            _verdict(s.get("verdict", "none")),
        ]
        for s in moved
    ]
    headers = ["Slice", "Rows", "Metric", "Baseline", "Candidate", "Delta [CI]", "Verdict"]
    return "<h4>Slices that moved most</h4>" + table(headers, rows, numeric=(1, 3, 4))


def _fairness(results: Sequence[Mapping[str, Any]]) -> str:
    if not results:
        return ""
    rows = []
    for f in results:
        limit = f"max {num(f['max'])}" if "max" in f else f"min {num(f.get('min'))}"
        rows.append(
            [
                text(f.get("metric")),
                text(f.get("by")),
                num(f.get("baseline")),
                num(f.get("candidate")),
                limit,
                "✅" if f.get("passed") else "❌",
            ]
        )
    headers = ["Metric", "By", "Baseline", "Candidate", "Limit", ""]
    return "<h4>Fairness</h4>" + table(headers, rows, numeric=(2, 3))


def _importance(results: Sequence[Mapping[str, Any]]) -> str:
    measured = [i for i in results if finite(i.get("candidate")) is not None]
    if not measured:
        return ""
    top = sorted(measured, key=lambda i: (-float(i["candidate"]), str(i.get("feature"))))[:TOP]
    rows = [[text(i.get("feature")), num(i["candidate"]), num(i.get("baseline"))] for i in top]
    parts = [
        "<h4>Features that matter most (permutation importance)</h4>",
        table(["Feature", "Candidate", "Baseline"], rows, numeric=(1, 2)),
    ]
    compared = [i for i in measured if finite(i.get("baseline")) is not None]
    moved = sorted(
        compared,
        key=lambda i: (-abs(float(i["candidate"]) - float(i["baseline"])), str(i.get("feature"))),
    )[:TOP]
    if moved:
        rows = [
            [
                text(i.get("feature")),
                num(i["baseline"]),
                num(i["candidate"]),
                signed(float(i["candidate"]) - float(i["baseline"])),
            ]
            for i in moved
        ]
        parts += [
            "<h4>Importance that moved most</h4>",
            table(["Feature", "Baseline", "Candidate", "Change"], rows, numeric=(1, 2, 3)),
        ]
    return "".join(parts)


def eval_sections(report: Report) -> str:
    """A section per ``eval`` result with facts (tables, and charts with a baseline)."""
    body = "".join(
        _eval(r) for r in report.results if r.check == "eval" and r.facts.get("metrics") is not None
    )
    return f"<h2>Evaluation</h2>{body}" if body else ""
