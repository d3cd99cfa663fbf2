"""Charts: what is compared (charts.data), the Mermaid blocks of the Markdown report (labels
that cannot break out), the SVG charts, and a cut comment that never leaves a fence open."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from mlops_ci.charts import BarChart, Series, mermaid, svg
from mlops_ci.charts.data import latency_chart, metric_charts, slice_charts
from mlops_ci.comment import MAX_BODY, comment_body
from mlops_ci.findings import CheckResult
from mlops_ci.formats import render
from tests.chart_reports import ATTACK, bench_facts, charted_report, eval_facts

BREAKERS = ['"', "`", "\n", "\r", "]", "[", "<", ">", "%%", "#", ";", "&", "\u2028", "\u202e"]


def mermaid_blocks(markdown: str) -> list[list[str]]:
    """The body lines of each ```mermaid block."""
    blocks, current = [], None
    for line in markdown.split("\n"):
        if current is None and line == "```mermaid":
            current = []
        elif current is not None and line == "```":
            blocks.append(current)
            current = None
        elif current is not None:
            current.append(line)
    assert current is None, "a mermaid block is left open"
    return blocks


def test_latency_chart_compares_the_percentiles_with_the_baseline() -> None:
    chart = latency_chart(CheckResult("bench", "passed", "m", facts=bench_facts()))
    assert chart is not None
    assert chart.categories == ("p50", "p90", "p95", "p99")
    assert [s.name for s in chart.series] == ["baseline", "candidate"]
    assert chart.series[1].values == (1.25, 1.5, 1.75, 2.5)
    assert latency_chart(CheckResult("bench", "passed", "m", facts=bench_facts(False))) is None
    broken = {**bench_facts(), "baseline_p90_ms": float("nan"), "p95_ms": True}
    partial = latency_chart(CheckResult("bench", "passed", "m", facts=broken))
    assert partial is not None and partial.categories == ("p50", "p99")


def test_eval_charts_share_a_scale_or_stand_alone() -> None:
    result = CheckResult("eval", "passed", "m", facts=eval_facts())
    unit, mae = metric_charts(result)
    assert unit.categories == ("accuracy", "f1")
    assert mae.categories == ("mae",) and mae.title.endswith(": mae")
    (slices,) = slice_charts(result)
    assert slices.categories[0] == "region=north accuracy"  # moved most first
    assert len(slices.categories) == 3
    no_baseline = CheckResult("eval", "passed", "m", facts=eval_facts(False))
    assert metric_charts(no_baseline) == [] and slice_charts(no_baseline) == []


@pytest.mark.parametrize("breaker", BREAKERS)
def test_mermaid_labels_cannot_break_out(breaker: str) -> None:
    text = mermaid.label(f"a{breaker}b{breaker * 3}```</script>")
    assert re.fullmatch(r"[\w .,:=+\-/()@…]+", text), text
    assert breaker not in text or breaker in " "


def test_mermaid_block_with_hostile_names_stays_one_block() -> None:
    chart = BarChart(
        ATTACK,
        ATTACK,
        (ATTACK, ATTACK, "", "x" * 200),
        (Series("baseline", (1, 2, 3, 4)), Series(ATTACK, (1e-7, 2e9, -3, 0))),
    )
    lines = mermaid.render(chart)
    assert lines[0] == "```mermaid" and lines[-1] == "```"
    assert all("`" not in line and "<" not in line for line in lines[1:-1])
    # every quoted string is closed on its line, and categories stay distinct
    assert all(line.count('"') % 2 == 0 for line in lines)
    slots = re.findall(r'"([^"]*)"', lines[3])
    assert len(slots) == 8 and len(set(slots)) == 8
    assert lines[5] == "    bar [1, 0, 2, 0, 3, 0, 4, 0]"
    assert lines[6] == "    bar [0, 0.0000001, 0, 2000000000, 0, -3, 0, 0]"
    assert lines[4].endswith(" -3.3 --> 2200000000")


def test_mermaid_numbers_have_no_exponent() -> None:
    assert [mermaid.number(v) for v in (0, 1.0, 1.5e-9, -2.5e12, 1234.5678)] == [
        "0",
        "1",
        "0.0000000015",
        "-2500000000000",
        "1235",
    ]


def test_markdown_carries_the_charts_only_where_there_is_a_baseline() -> None:
    text = render("markdown", charted_report(model=ATTACK))
    blocks = mermaid_blocks(text)
    assert len(blocks) == 4  # latency, metrics (rates), metrics (mae), slices
    assert all(b[0] == "xychart-beta horizontal" for b in blocks)
    assert '"p99 baseline", "p99 candidate"' in blocks[0][2]
    assert blocks[0][3] == '    y-axis "ms" 0 --> 2.75'
    assert blocks[1][3] == '    y-axis "value" 0 --> 1.023'
    assert "<script>" not in text  # the model name is escaped in the headings too
    assert mermaid_blocks(render("markdown", charted_report(baseline=False))) == []


def test_a_cut_comment_never_leaves_a_chart_open() -> None:
    chart = "\n".join(
        mermaid.render(latency_chart(CheckResult("bench", "passed", facts=bench_facts())))
    )  # type: ignore[arg-type]
    body = "\n".join(["<!-- mlops-ci:report -->", *[chart] * 400]) + "\n"
    assert len(body) > MAX_BODY
    cut = comment_body(body, None)
    assert len(cut) <= MAX_BODY
    assert cut.count("```") % 2 == 0
    assert cut.split("\n\n… cut")[0].endswith("```")


def test_svg_escapes_every_text_and_fetches_nothing() -> None:
    chart = BarChart(ATTACK, ATTACK, (ATTACK, "ok"), (Series(ATTACK, (1.0, -2.0)),))
    drawn = svg.render(chart)
    assert drawn.startswith("<svg") and drawn.endswith("</svg>")
    assert "<script" not in drawn and "<img" not in drawn and "</style" not in drawn
    assert "href" not in drawn and "url(" not in drawn
    assert drawn == svg.render(replace(chart))  # deterministic


def test_bar_chart_refuses_values_that_cannot_be_drawn() -> None:
    with pytest.raises(ValueError, match="not finite"):
        BarChart("t", "", ("a",), (Series("s", (float("inf"),)),))
    with pytest.raises(ValueError, match="1 values for 2"):
        BarChart("t", "", ("a", "b"), (Series("s", (1.0,)),))


def test_bench_facts_carry_the_compared_baselines_percentiles(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from mlops_ci.bench.baseline import StoredBaseline
    from mlops_ci.bench.results import StoredResults
    from mlops_ci.bench.stats import summarise
    from mlops_ci.checks.bench import _baseline_percentiles

    samples = tuple(range(1_000_000, 2_000_000, 10_000))  # 1 ms to 2 ms
    measured = SimpleNamespace(baseline=SimpleNamespace(summary=summarise(samples)))
    facts = _baseline_percentiles(measured)  # type: ignore[arg-type]
    assert facts["baseline_p50_ms"] == pytest.approx(1.495)
    assert set(facts) == {f"baseline_{p}_ms" for p in ("p50", "p90", "p95", "p99")}
    stored = StoredBaseline("stored.json", StoredResults(tmp_path, {}, samples, "stored.json"))
    from_file = SimpleNamespace(baseline=None, plan=SimpleNamespace(baseline=stored))
    assert _baseline_percentiles(from_file) == facts  # type: ignore[arg-type]
    nothing = SimpleNamespace(baseline=None, plan=SimpleNamespace(baseline=None))
    assert _baseline_percentiles(nothing) == {}  # type: ignore[arg-type]
