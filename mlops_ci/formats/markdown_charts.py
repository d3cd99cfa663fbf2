"""The Markdown report's charts: Mermaid blocks (:mod:`mlops_ci.charts.mermaid`), each with a
line of text above it saying what it shows, for readers whose viewer does not draw Mermaid.

The latency section of a ``bench`` result appears only when it was compared with a baseline;
without one the key figures already give the candidate's percentiles.
"""

from __future__ import annotations

from collections.abc import Iterable

from mlops_ci.charts import BarChart, mermaid
from mlops_ci.charts.data import PERCENTILES, finite, latency_chart
from mlops_ci.findings import CheckResult, Report


def _cell(text: object) -> str:
    flat = " ".join(str(text).split())
    return flat.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def chart_blocks(charts: Iterable[BarChart]) -> list[str]:
    """Each chart as a Mermaid block after an italic line saying what the bars are (a Mermaid
    XY chart has no legend; the table above it carries the same numbers as text)."""
    lines: list[str] = []
    for chart in charts:
        names = " and ".join(s.name for s in chart.series)
        lines += [
            f"_Chart of the table above: the {names} bars of each row, side by side._",
            "",
            *mermaid.render(chart),
            "",
        ]
    return lines


def _ms(value: object) -> str:
    number = finite(value)
    return "—" if number is None else f"{number:.4g}"


def _latency(result: CheckResult) -> list[str]:
    chart = latency_chart(result)
    if chart is None:
        return []
    facts = result.facts
    against = _cell(facts.get("baseline") or "the baseline")
    header = " | ".join(f"{p} (ms)" for p in PERCENTILES)
    return [
        f"### Latency: {_cell(result.model or '—')}",
        "",
        f"Against {against}, on {_cell(facts.get('provider', '?'))}:",
        "",
        f"| | {header} |",
        "| --- |" + " ---: |" * len(PERCENTILES),
        "| baseline | "
        + " | ".join(_ms(facts.get(f"baseline_{p}_ms")) for p in PERCENTILES)
        + " |",
        "| candidate | " + " | ".join(_ms(facts.get(f"{p}_ms")) for p in PERCENTILES) + " |",
        "",
        *chart_blocks([chart]),
    ]


def render_latency(report: Report) -> list[str]:
    """The latency sections of the ``bench`` results compared with a baseline."""
    lines: list[str] = []
    for result in report.results:
        if result.check == "bench":
            lines += _latency(result)
    return lines
