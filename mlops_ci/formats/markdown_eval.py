"""The Markdown section of the ``eval`` gate: per model, what was measured against what.

Read from each ``eval`` result's facts (see :mod:`mlops_ci.checks.eval_report`): a table
metric / baseline / candidate / delta [low, high] / verdict, the slices that moved most, the
fairness figures, and the features that matter most and those whose importance moved most.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from mlops_ci.findings import CheckResult, Report

TOP = 5
VERDICT_TEXT = {
    "pass": "✅ pass",
    "fail": "❌ fail",
    "inconclusive": "⚠️ inconclusive",
    "none": "—",
}


def _cell(text: object) -> str:
    flat = " ".join(str(text).split())
    return flat.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _num(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return "—"
    return f"{value:.4g}"


def _signed(value: Any) -> str:
    text = _num(value)
    return text if text == "—" else f"{value:+.4g}"


def _interval(entry: Mapping[str, Any]) -> str:
    if "value" not in entry:
        return "—"
    text = _signed(entry["value"])
    if "low" in entry and "high" in entry:
        text += f" [{_signed(entry['low'])}, {_signed(entry['high'])}]"
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
            f"| {_cell(name)} | {_num(baseline.get(name))} | {_num(metrics[name])}"
            f" | {_interval(_dict(delta.get(name)))} | {VERDICT_TEXT.get(verdict, verdict)} |"
        )
    lines.append("")
    lines += _slices(_list(facts.get("slice_results")))
    lines += _fairness(_list(facts.get("fairness_results")))
    lines += _importance(_list(facts.get("importance_results")))
    return lines


def _slices(results: Sequence[Mapping[str, Any]]) -> list[str]:
    moved = sorted(
        (s for s in results if isinstance(s.get("value"), int | float)),
        key=lambda s: (-abs(float(s["value"])), str(s.get("column")), str(s.get("group"))),
    )[:TOP]
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
            f"| {_cell(s.get('column'))}={_cell(s.get('group'))} | {_num(s.get('rows'))}"
            f" | {_cell(s.get('metric'))} | {_num(s.get('baseline'))} | {_num(s.get('candidate'))}"
            f" | {_interval(s)} | {VERDICT_TEXT.get(verdict, verdict)} |"
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
        limit = f"max {_num(f['max'])}" if "max" in f else f"min {_num(f.get('min'))}"
        mark = "✅" if f.get("passed") else "❌"
        lines.append(
            f"| {_cell(f.get('metric'))} | {_cell(f.get('by'))} | {_num(f.get('baseline'))}"
            f" | {_num(f.get('candidate'))} | {limit} | {mark} |"
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
            f"| {_cell(i.get('feature'))} | {_num(i['candidate'])} | {_num(i.get('baseline'))} |"
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
                f"| {_cell(i.get('feature'))} | {_num(i['baseline'])} | {_num(i['candidate'])}"
                f" | {_signed(float(i['candidate']) - float(i['baseline']))} |"
                for i in moved
            ),
            "",
        ]
    return lines
