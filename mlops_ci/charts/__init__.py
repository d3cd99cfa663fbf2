"""Charts for the reports, drawn by the project itself: no image host, no JavaScript.

:mod:`~mlops_ci.charts.data` reads a check result's facts into :class:`BarChart` values (what
is compared with what); :mod:`~mlops_ci.charts.mermaid` writes one as a Mermaid ``xychart-beta``
block for the Markdown report (GitHub and GitLab draw it), :mod:`~mlops_ci.charts.svg` as an
inline SVG for the HTML report. All three are pure: the same result gives the same text.
"""

from __future__ import annotations

from mlops_ci.charts.model import BarChart, Series

__all__ = ["BarChart", "Series"]
