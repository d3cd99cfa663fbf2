"""Inline SVG bar charts for the HTML report: horizontal grouped bars with a legend.

Plain SVG elements with fill attributes: no script, no external font, image or stylesheet, so
the chart draws under a ``default-src 'none'`` Content-Security-Policy. Every text (title,
labels, legend, the tooltip of each bar) is escaped with :func:`html.escape`.
"""

from __future__ import annotations

from html import escape

from mlops_ci.charts.model import BarChart

WIDTH = 640
LABEL_WIDTH = 200  # room for the category labels on the left
VALUE_ROOM = 80  # room for the value printed after the longest bar
BAR = 14
BAR_GAP = 2
GROUP_GAP = 10
TOP = 52  # title and legend
MAX_LABEL = 28
COLOURS = ("#8b95a5", "#2f6fdf", "#d9822b", "#3c9d5d")  # baseline grey, candidate blue, ...


def _text(value: object) -> str:
    return escape(str(value), quote=True)


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_LABEL else flat[: MAX_LABEL - 1].rstrip() + "…"


def figure(value: float) -> str:
    """A value as printed beside its bar: 4 significant digits."""
    return f"{value:.4g}"


def render(chart: BarChart) -> str:
    """The chart as one ``<svg>`` element, sized to its content."""
    low, high = chart.bounds()
    plot_x = LABEL_WIDTH + 8
    plot_w = WIDTH - plot_x - VALUE_ROOM
    span = high - low

    def x_of(value: float) -> float:
        return plot_x + (value - low) / span * plot_w

    group_h = len(chart.series) * (BAR + BAR_GAP) - BAR_GAP
    height = TOP + len(chart.categories) * (group_h + GROUP_GAP) + 8
    unit = f" {chart.unit}" if chart.unit else ""
    zero = x_of(0.0)
    parts = [
        f'<svg class="chart" role="img" width="{WIDTH}" height="{height}"'
        f' viewBox="0 0 {WIDTH} {height}">',
        f"<title>{_text(chart.title)}</title>",
        f'<text x="0" y="16" font-size="14" font-weight="600">{_text(chart.title)}</text>',
    ]
    legend_x = 0
    for index, s in enumerate(chart.series):
        colour = COLOURS[index % len(COLOURS)]
        parts.append(
            f'<rect x="{legend_x}" y="28" width="12" height="12" fill="{colour}"/>'
            f'<text x="{legend_x + 16}" y="38" font-size="12">{_text(s.name)}</text>'
        )
        legend_x += 24 + 8 * len(s.name)
    for row, category in enumerate(chart.categories):
        y = TOP + row * (group_h + GROUP_GAP)
        parts.append(
            f'<text x="{LABEL_WIDTH}" y="{y + group_h / 2 + 4:.1f}" font-size="12"'
            f' text-anchor="end"><title>{_text(category)}</title>{_text(_short(category))}</text>'
        )
        for index, s in enumerate(chart.series):
            value = s.values[row]
            top = y + index * (BAR + BAR_GAP)
            left, right = sorted((zero, x_of(value)))
            colour = COLOURS[index % len(COLOURS)]
            tip = f"{category}, {s.name}: {figure(value)}{unit}"
            parts.append(
                f'<rect x="{left:.1f}" y="{top}" width="{max(right - left, 0.5):.1f}"'
                f' height="{BAR}" fill="{colour}"><title>{_text(tip)}</title></rect>'
                f'<text x="{right + 4:.1f}" y="{top + BAR - 3}" font-size="11">'
                f"{_text(figure(value) + unit)}</text>"
            )
    bottom = height - 8
    parts.append(
        f'<line x1="{zero:.1f}" y1="{TOP - 4}" x2="{zero:.1f}" y2="{bottom}"'
        ' stroke="#555" stroke-width="1"/>'
    )
    parts.append("</svg>")
    return "".join(parts)
