"""What a chart shows: categories, and one value per category in each series."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Series:
    """One set of bars (``baseline`` or ``candidate``): a finite value per category."""

    name: str
    values: tuple[float, ...]


@dataclass(frozen=True)
class BarChart:
    """A grouped bar chart: each category has one bar per series.

    The labels are report text (model, slice and metric names): every renderer escapes them
    for its own syntax. Values are finite (a category with a missing value is left out by
    :mod:`mlops_ci.charts.data`).
    """

    title: str
    unit: str
    categories: tuple[str, ...]
    series: tuple[Series, ...]

    def __post_init__(self) -> None:
        for s in self.series:
            if len(s.values) != len(self.categories):
                raise ValueError(
                    f"series {s.name!r} has {len(s.values)} values for"
                    f" {len(self.categories)} categories"
                )
            if not all(math.isfinite(v) for v in s.values):
                raise ValueError(f"series {s.name!r} holds a value that is not finite")

    def bounds(self) -> tuple[float, float]:
        """The value range to draw: always includes 0, never empty."""
        values = [v for s in self.series for v in s.values]
        low, high = min([0.0, *values]), max([0.0, *values])
        if low == high:
            high = low + 1.0
        return low, high
