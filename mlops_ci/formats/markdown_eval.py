"""The Markdown section of the ``eval`` gate: per model, what was measured against what.

Read from each ``eval`` result's facts (see :mod:`mlops_ci.checks.eval_report`): a table
metric / baseline / candidate / delta [low, high] / verdict, the slices that moved most, the
fairness figures, and the features that matter most and those whose importance moved most.
With a baseline, Mermaid charts of the metrics and of the slices that moved most follow their
tables (:mod:`mlops_ci.charts.data` says what they compare).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from mlops_ci.charts.data import TOP, metric_charts, moved_slices, slice_charts
from mlops_ci.findings import CheckResult, Report
from mlops_ci.formats.markdown_charts import chart_blocks

VERDICT_TEXT = {
    "pass": "✅ pass",
    "fail": "❌ fail",
    "inconclusive": "⚠️ inconclusive",
    "none": "—",
}


def _cell(text: object) -> str:
    flat = " ".join(str(text).split())
    return flat.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def num(value: Any) -> str:
    """A figure with 4 significant digits, ``—`` when it is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return "—"
    return f"{value:.4g}"


def signed(value: Any) -> str:
    """A difference with its sign, ``—`` when it is not a finite number."""
    text = num(value)
    return text if text == "—" else f"{value:+.4g}"


def interval(entry: Mapping[str, Any]) -> str:
    """``value [low, high]`` of a delta entry, ``—`` without a value."""
    if "value" not in entry:
        return "—"
    text = signed(entry["value"])
    if "low" in entry and "high" in entry:
        text += f" [{signed(entry['low'])}, {signed(entry['high'])}]"
    return text


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> Sequence[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def render_eval(report: Report) -> list[str]:
    """The eval section of the report (no lines when no ``eval`` result has facts)."""
    lines: list[str] = []
    for result in report.results:
        if result.check == "eval" and result.facts.get("metrics") is not None:
            lines += _model_section(result)
    return lines


def _model_section(result: CheckResult) -> list[str]:
    facts = result.facts
    metrics, baseline = _dict(facts.get("metrics")), _dict(facts.get("baseline"))
    delta, gate = _dict(facts.get("delta")), _dict(facts.get("gate"))
    against = facts.get("baseline_label") or "no baseline"
    level = facts.get("confidence")
    confidence = f"{level:.0%} " if isinstance(level, float) else ""
    lines = [
        f"### Evaluation: {_cell(result.model or '—')}",
        "",
        f"{_cell(facts.get('rows', '?'))} rows of `{_cell(facts.get('data', '?'))}`"
        f" (`{_cell(str(facts.get('data_digest', ''))[:19])}…`) against"
        f" {_cell(against)}: **{_cell(str(facts.get('verdict', 'none')).upper())}**",
        "",
        f"| Metric | Baseline | Candidate | Delta [{confidence}CI] | Verdict |",
        "| --- | ---: | ---: | --- | --- |",
    ]
    for name in metrics:
        verdict = str(_dict(gate.get(name)).get("verdict", "none"))
        lines.append(
            f"| {_cell(name)} | {num(baseline.get(name))} | {num(metrics[name])}"
            f" | {interval(_dict(delta.get(name)))} | {VERDICT_TEXT.get(verdict, verdict)} |"
        )
    lines.append("")
    lines += chart_blocks(metric_charts(result))
    lines += _slices(_list(facts.get("slice_results")))
    lines += chart_blocks(slice_charts(result))
    lines += _fairness(_list(facts.get("fairness_results")))
    lines += _importance(_list(facts.get("importance_results")))
    return lines


def _slices(results: Sequence[Mapping[str, Any]]) -> list[str]:
    moved = moved_slices(results)
    if not moved:
        return []
    lines = [
        "**Slices that moved most**",
        "",
        "| Slice | Rows | Metric | Baseline | Candidate | Delta [CI] | Verdict |",
        "| --- | ---: | --- | ---: | ---: | --- | --- |",
    ]
    for s in moved:
        verdict = str(s.get("verdict", "none"))
        lines.append(
            f"| {_cell(s.get('column'))}={_cell(s.get('group'))} | {num(s.get('rows'))}"
            f" | {_cell(s.get('metric'))} | {num(s.get('baseline'))} | {num(s.get('candidate'))}"
            f" | {interval(s)} | {VERDICT_TEXT.get(verdict, verdict)} |"
        )
    return [*lines, ""]


def _fairness(results: Sequence[Mapping[str, Any]]) -> list[str]:
    if not results:
        return []
    lines = [
        "**Fairness**",
        "",
        "| Metric | By | Baseline | Candidate | Limit | |",
        "| --- | --- | ---: | ---: | --- | --- |",
    ]
    for f in results:
        limit = f"max {num(f['max'])}" if "max" in f else f"min {num(f.get('min'))}"
        mark = "✅" if f.get("passed") else "❌"
        lines.append(
            f"| {_cell(f.get('metric'))} | {_cell(f.get('by'))} | {num(f.get('baseline'))}"
            f" | {num(f.get('candidate'))} | {limit} | {mark} |"
        )
    return [*lines, ""]


def _importance(results: Sequence[Mapping[str, Any]]) -> list[str]:
    measured = [i for i in results if isinstance(i.get("candidate"), int | float)]
    if not measured:
        return []
    top = sorted(measured, key=lambda i: (-float(i["candidate"]), str(i.get("feature"))))[:TOP]
    lines = [
        "**Features that matter most** (permutation importance)",
        "",
        "| Feature | Candidate | Baseline |",
        "| --- | ---: | ---: |",
        *(
            f"| {_cell(i.get('feature'))} | {num(i['candidate'])} | {num(i.get('baseline'))} |"
            for i in top
        ),
        "",
    ]
    compared = [i for i in measured if isinstance(i.get("baseline"), int | float)]
    moved = sorted(
        compared,
        key=lambda i: (-abs(float(i["candidate"]) - float(i["baseline"])), str(i.get("feature"))),
    )[:TOP]
    if moved:
        lines += [
            "**Importance that moved most**",
            "",
            "| Feature | Baseline | Candidate | Change |",
            "| --- | ---: | ---: | ---: |",
            *(
                f"| {_cell(i.get('feature'))} | {num(i['baseline'])} | {num(i['candidate'])}"
                f" | {signed(float(i['candidate']) - float(i['baseline']))} |"
                for i in moved
            ),
            "",
        ]
    return lines
