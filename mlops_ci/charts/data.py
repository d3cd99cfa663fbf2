"""The charts of a check result, read from its facts: what is compared with what.

A chart compares a baseline with a candidate; where there is no baseline there is nothing to
compare and no chart (the tables beside it still give the candidate's figures). A category
whose baseline or candidate value is missing or not a finite number is left out.

- ``bench``: latency percentiles p50, p90, p95, p99 in ms (facts ``p50_ms`` ... and
  ``baseline_p50_ms`` ...), when the baseline was measured or its stored samples compared.
- ``eval``: the metrics (facts ``metrics`` and ``baseline``), and the slices that moved most
  (``slice_results``, the :data:`TOP` largest deltas, as in the report's table). Metrics on
  one scale share a chart: values within [-1, 1] (rates, scores) go together, any other metric
  gets a chart of its own, so an error in thousands does not flatten an accuracy to nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from mlops_ci.charts.model import BarChart, Series
from mlops_ci.findings import CheckResult

PERCENTILES = ("p50", "p90", "p95", "p99")
TOP = 5  # slices charted: the same ones the Markdown table lists
MAX_BARS = 8  # categories per chart: more would not read at a glance
SERIES = ("baseline", "candidate")


def finite(value: Any) -> float | None:
    """``value`` as a float when it is a finite number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def mapping(value: Any) -> Mapping[str, Any]:
    """``value`` when it is a mapping, else an empty one (facts are JSON from anywhere)."""
    return value if isinstance(value, Mapping) else {}


def mappings(value: Any) -> list[Mapping[str, Any]]:
    """The mappings in ``value`` when it is a list, else none."""
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _chart(title: str, unit: str, pairs: Sequence[tuple[str, float, float]]) -> BarChart:
    kept = list(pairs)[:MAX_BARS]
    return BarChart(
        title=title,
        unit=unit,
        categories=tuple(label for label, _, _ in kept),
        series=(
            Series(SERIES[0], tuple(base for _, base, _ in kept)),
            Series(SERIES[1], tuple(cand for _, _, cand in kept)),
        ),
    )


def latency_chart(result: CheckResult) -> BarChart | None:
    """Latency percentiles, baseline vs candidate; None without a measured baseline."""
    facts = result.facts
    pairs = []
    for name in PERCENTILES:
        base = finite(facts.get(f"baseline_{name}_ms"))
        cand = finite(facts.get(f"{name}_ms"))
        if base is not None and cand is not None:
            pairs.append((name, base, cand))
    if not pairs:
        return None
    return _chart("Latency percentiles, baseline vs candidate (ms)", "ms", pairs)


def _by_scale(
    title: str, pairs: Sequence[tuple[str, float, float]], scale_of: Mapping[str, str]
) -> list[BarChart]:
    """One chart for the values within [-1, 1], one per other scale (in first-seen order)."""
    groups: dict[str, list[tuple[str, float, float]]] = {}
    for label, base, cand in pairs:
        unit = max(abs(base), abs(cand)) <= 1.0
        groups.setdefault("" if unit else scale_of[label], []).append((label, base, cand))
    charts = []
    for key, group in groups.items():
        heading = title if not key else f"{title}: {key}"
        charts.append(_chart(heading, "", group))
    return charts


def metric_charts(result: CheckResult) -> list[BarChart]:
    """The eval metrics, baseline vs candidate (none without a baseline)."""
    metrics, baseline = mapping(result.facts.get("metrics")), mapping(result.facts.get("baseline"))
    pairs = [
        (str(name), base, cand)
        for name in metrics
        if (cand := finite(metrics[name])) is not None
        and (base := finite(baseline.get(name))) is not None
    ]
    return _by_scale("Metrics, baseline vs candidate", pairs, {p[0]: p[0] for p in pairs})


def moved_slices(results: Sequence[Mapping[str, Any]], top: int = TOP) -> list[Mapping[str, Any]]:
    """The ``top`` slice results with the largest absolute delta (ties by column, group)."""
    return sorted(
        (s for s in results if finite(s.get("value")) is not None),
        key=lambda s: (-abs(float(s["value"])), str(s.get("column")), str(s.get("group"))),
    )[:top]


def slice_label(entry: Mapping[str, Any]) -> str:
    """How a slice is named: ``column=group metric``."""
    return f"{entry.get('column')}={entry.get('group')} {entry.get('metric')}"


def slice_charts(result: CheckResult) -> list[BarChart]:
    """The slices that moved most, baseline vs candidate (none without a baseline)."""
    pairs, scale_of = [], {}
    for entry in moved_slices(mappings(result.facts.get("slice_results"))):
        base, cand = finite(entry.get("baseline")), finite(entry.get("candidate"))
        if base is None or cand is None:
            continue
        label = slice_label(entry)
        pairs.append((label, base, cand))
        scale_of[label] = str(entry.get("metric"))
    return _by_scale("Slices that moved most, baseline vs candidate", pairs, scale_of)
