"""Mermaid ``xychart-beta`` bar charts for the Markdown report (GitHub and GitLab draw them).

Mermaid's XY chart draws every ``bar`` series at the same place, each over the one before: a
candidate taller than its baseline would hide it. So each category gets two labelled slots
(``p90 baseline``, ``p90 candidate``) and each series is 0 in the other's slots: the bars
stand side by side in the two series' colours, and the labels say which is which (the chart
has no legend). The chart is horizontal, so long slice names read without overlapping.

Labels are report text. Only letters, digits and a few harmless punctuation marks reach the
block; everything else (quotes, backticks, brackets, ``<``, ``%``, line breaks) becomes ``_``,
so a label can neither end its string, nor the block, nor the Markdown fence around it.
"""

from __future__ import annotations

import re
from decimal import Decimal

from mlops_ci.charts.model import BarChart

MAX_LABEL = 32
# Word characters (any script), spaces and punctuation with no meaning in a quoted Mermaid
# string, in Markdown or in HTML.
_UNSAFE = re.compile(r"[^\w .,:=+\-/()@]")


def label(text: str, limit: int = MAX_LABEL) -> str:
    """``text`` safe inside a double-quoted Mermaid string: one line, at most ``limit`` chars."""
    flat = " ".join(str(text).split())
    safe = _UNSAFE.sub("_", flat) or "_"  # "" is no token in Mermaid's grammar
    return safe if len(safe) <= limit else safe[: limit - 1].rstrip() + "…"


def number(value: float) -> str:
    """``value`` with 4 significant digits and no exponent (Mermaid's grammar has none)."""
    if value == 0:
        return "0"
    text = format(Decimal(f"{value:.4g}"), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _unique(labels: list[str]) -> list[str]:
    """Distinct labels (Mermaid merges equal categories): a repeat gets `` #2``, ``#3``..."""
    seen: dict[str, int] = {}
    unique = []
    for text in labels:
        count = seen.get(text, 0) + 1
        seen[text] = count
        unique.append(text if count == 1 else f"{text} #{count}")
    return unique


def render(chart: BarChart) -> list[str]:
    """The chart as the lines of a fenced ``mermaid`` block (fences included)."""
    slots = _unique(
        [
            f"{label(category)} {label(s.name, 12)}"
            for category in chart.categories
            for s in chart.series
        ]
    )
    width = len(chart.series)
    low, high = chart.bounds()
    bars = []
    for index, s in enumerate(chart.series):
        values = ["0"] * len(slots)
        for position, value in enumerate(s.values):
            values[position * width + index] = number(value)
        bars.append(f"    bar [{', '.join(values)}]")
    axis = label(chart.unit) if chart.unit.strip() else "value"
    return [
        "```mermaid",
        "xychart-beta horizontal",
        f'    title "{label(chart.title, 80)}"',
        "    x-axis [" + ", ".join(f'"{slot}"' for slot in slots) + "]",
        f'    y-axis "{axis}" {number(_padded(low))} --> {number(_padded(high))}',
        *bars,
        "```",
    ]


def _padded(bound: float) -> float:
    """A bound with 10% room, so the longest bar does not touch the edge."""
    return bound * 1.1
