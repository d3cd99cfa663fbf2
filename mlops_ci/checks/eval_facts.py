"""The ``eval`` check's facts (for policies, the JSON report, the attestation and the SBOM) and
its key figures.

Facts (``facts.eval``; a value that is unknown, or not a finite number, is absent):

- ``verdict`` (pass, fail, inconclusive, none), ``task``, ``rows``, ``data`` (the path),
  ``data_digest``, ``candidate_digest``; with a baseline ``baseline_label``, ``baseline_digest``;
- ``metrics.<name>``: the candidate's value; ``baseline.<name>``: the baseline's;
  ``delta.<name>``: ``{value, low, high}`` (candidate minus baseline and its interval);
  ``gate.<name>``: ``{limit, verdict, higher_is_better}`` for gated metrics;
- ``slices.<column>.<group>.<metric>``: the candidate's value on a group; ``slice_results``:
  every slice result with rows, baseline, delta, interval and verdict;
- ``fairness.<metric>``: the candidate's value (the worst one when several columns use the same
  metric); ``fairness_results``: metric, by, candidate, baseline, max/min, passed;
- ``importance.<feature>``: the candidate's permutation importance; ``importance_results``
  (with std and the baseline's), ``importance_metric``;
- ``thresholds``: each absolute threshold applied (metric, threshold, value, source, passed);
- ``confidence``, ``resamples``, ``seed``, ``notes``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mlops_ci.findings import JsonValue

if TYPE_CHECKING:
    from mlops_ci.eval.types import EvalOutcome, FairnessResult, Importance


def finite(value: float | None) -> float | None:
    """``value`` when it is a finite number, else None (NaN never reaches JSON or a comparison)."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def figure(value: float | None) -> str:
    """A number for messages and key figures: 4 significant digits, ``n/a`` when not finite."""
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.4g}"


def signed(value: float | None) -> str:
    """A difference for messages: with its sign, ``n/a`` when not finite."""
    return "n/a" if value is None or not math.isfinite(value) else f"{value:+.4g}"


def _put(target: dict[str, JsonValue], key: str, value: float | None) -> None:
    number = finite(value)
    if number is not None:
        target[key] = number


def _interval(value: float | None, low: float | None, high: float | None) -> dict[str, JsonValue]:
    found: dict[str, JsonValue] = {}
    _put(found, "value", value)
    _put(found, "low", low)
    _put(found, "high", high)
    return found


def eval_facts(
    outcome: EvalOutcome, thresholds: list[dict[str, JsonValue]], notes: Sequence[str]
) -> dict[str, JsonValue]:
    """The ``eval`` facts (layout in the module docstring)."""
    metrics: dict[str, JsonValue] = {}
    baseline: dict[str, JsonValue] = {}
    delta: dict[str, JsonValue] = {}
    gate: dict[str, JsonValue] = {}
    for m in outcome.metrics:
        _put(metrics, m.name, m.candidate)
        _put(baseline, m.name, m.baseline)
        interval = _interval(m.delta, m.low, m.high)
        if interval:
            delta[m.name] = interval
        if m.limit is not None:
            gate[m.name] = {
                "limit": m.limit,
                "verdict": m.verdict,
                "higher_is_better": m.higher_is_better,
            }
    facts: dict[str, JsonValue] = {
        "verdict": outcome.verdict,
        "task": outcome.task,
        "rows": outcome.rows,
        "data": outcome.data_display,
        "data_digest": outcome.data_digest,
        "metrics": metrics,
        "baseline": baseline,
        "delta": delta,
        "gate": gate,
        "slices": _slices(outcome),
        "slice_results": [
            {
                "column": s.column,
                "group": s.group,
                "rows": s.rows,
                "metric": s.metric,
                "verdict": s.verdict,
                **_interval(s.delta, s.low, s.high),
                **{k: v for k, v in (("candidate", finite(s.candidate)),) if v is not None},
                **{k: v for k, v in (("baseline", finite(s.baseline)),) if v is not None},
            }
            for s in outcome.slices
        ],
        "fairness": _fairness(outcome),
        "fairness_results": [_fairness_entry(f) for f in outcome.fairness],
        "importance": {
            i.feature: v for i in outcome.importance if (v := finite(i.candidate)) is not None
        },
        "importance_results": [_importance_entry(i) for i in outcome.importance],
        "thresholds": list(thresholds),
        "confidence": outcome.confidence,
        "resamples": outcome.resamples,
        "seed": outcome.seed,
        "notes": list(notes),
    }
    for key, value in (
        ("candidate_digest", outcome.candidate_digest),
        ("baseline_label", outcome.baseline_label),
        ("baseline_digest", outcome.baseline_digest),
        ("importance_metric", outcome.importance_metric),
    ):
        if value is not None:
            facts[key] = value
    return facts


def _slices(outcome: EvalOutcome) -> dict[str, JsonValue]:
    slices: dict[str, dict[str, dict[str, JsonValue]]] = {}
    for s in outcome.slices:
        value = finite(s.candidate)
        if value is not None:
            slices.setdefault(s.column, {}).setdefault(s.group, {})[s.metric] = value
    return {column: dict(groups) for column, groups in slices.items()}


def _fairness(outcome: EvalOutcome) -> dict[str, JsonValue]:
    worst: dict[str, float] = {}
    for f in outcome.fairness:
        value = finite(f.candidate)
        if value is None:
            continue
        ratio = f.metric.endswith("_ratio")  # 1 is parity for ratios, 0 for differences
        current = worst.get(f.metric)
        if current is None or (value < current if ratio else value > current):
            worst[f.metric] = value
    return dict(worst)


def _fairness_entry(f: FairnessResult) -> dict[str, JsonValue]:
    entry: dict[str, JsonValue] = {"metric": f.metric, "by": f.by, "passed": f.passed}
    _put(entry, "candidate", f.candidate)
    _put(entry, "baseline", f.baseline)
    _put(entry, "max", f.max)
    _put(entry, "min", f.min)
    return entry


def _importance_entry(i: Importance) -> dict[str, JsonValue]:
    entry: dict[str, JsonValue] = {"feature": i.feature}
    _put(entry, "candidate", i.candidate)
    _put(entry, "candidate_std", i.candidate_std)
    _put(entry, "baseline", i.baseline)
    _put(entry, "baseline_std", i.baseline_std)
    return entry


def eval_summary(outcome: EvalOutcome) -> dict[str, str]:
    """Key figures for the Markdown headline table: verdict, rows, the gated metrics."""
    verdict = outcome.verdict.upper() if outcome.verdict != "none" else "no baseline"
    figures = {"verdict": verdict, "rows": f"{outcome.rows:,}"}
    gated = [m for m in outcome.metrics if m.limit is not None] or list(outcome.metrics[:3])
    for m in gated:
        text = figure(m.candidate)
        if m.delta is not None:
            text += f" ({signed(m.delta)})"
        figures[m.name] = text
    return figures
