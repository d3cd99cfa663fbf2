"""The ``text`` format, its colouring and delivery: plain, one line per thing, no markup."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from mlops_ci.findings import CheckResult, Finding, Location, Severity
from mlops_ci.formats import FORMATS, render
from mlops_ci.formats.text import BLOCKING_SHOWN, OTHERS_SHOWN
from mlops_ci.outputs import parse_format_specs
from mlops_ci.terminal import color_enabled, colorize, live_enabled
from mlops_ci.terminal.live import LiveView
from tests.conftest import CliResult
from tests.reports import sample_report

ESC = "\x1b"


def test_text_is_registered_and_the_default() -> None:
    assert "text" in FORMATS
    assert [s.format for s in parse_format_specs([])] == ["text"]


def test_text_shows_verdict_checks_and_blocking_findings_first() -> None:
    text = render("text", sample_report())
    assert text.startswith("mlops-ci: ERROR  a check crashed (exit 3)\n")
    for markup in ("<!--", "<details>", "<sub>", "**", "| ---", "```", ESC):
        assert markup not in text, markup
    lines = text.splitlines()
    table = lines[lines.index("check       model  status   duration  key figures") :]
    assert table[1].split()[:3] == ["card", "fraud", "failed"]
    blocking = text.index("Blocking findings (2)")
    others = text.index("Other findings (2)")
    assert blocking < others
    # file:line and rule id on the blocking line; the waived finding is not blocking.
    assert "  CRITICAL requirements.txt:3  DEP-PYSEC-2018-28  requests" in text[blocking:others]
    assert "(waived: waiver-7)" in text[others:]
    assert "  errored  boom [fraud]: RuntimeError: kaboom" in text
    assert "  skipped  bench [fraud]: no GPU" in text


def test_long_finding_lists_are_capped() -> None:
    many = tuple(
        Finding(f"R{i:03}", sev, f"m{i}", Location("f.py", i), f"{i:032}")
        for i in range(40)
        for sev in (Severity.HIGH, Severity.LOW)
    )
    report = replace(sample_report(), results=(CheckResult("sast", "failed", None, many),))
    text = render("text", report)
    assert f"  ... and {40 - BLOCKING_SHOWN} more in the full report" in text
    assert f"  ... and {40 - OTHERS_SHOWN} more in the full report" in text
    assert len(text.splitlines()) < BLOCKING_SHOWN + OTHERS_SHOWN + 15


def test_hostile_names_and_messages_cannot_reach_the_terminal() -> None:
    """An escape sequence or a line break in a message or model name is neutralised."""
    hostile = f"x{ESC}]8;;http://evil{ESC}\\\r\nmlops-ci: PASS {ESC}[2J[red]"
    result = CheckResult(
        f"card{ESC}[1A",
        "failed",
        hostile,
        (Finding("R1", Severity.HIGH, hostile, Location(f"a{ESC}.md", 2), "0" * 32),),
        summary={hostile: hostile},
    )
    report = replace(sample_report(), results=(result,))
    text = render("text", report)
    assert ESC not in text and "\r" not in text
    assert not any(line.startswith("mlops-ci: PASS") for line in text.splitlines())
    coloured = colorize(text)
    assert "[red]" in coloured  # rich markup stays text
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == text  # colour only, text unchanged


def test_eval_and_bench_figures() -> None:
    facts = {
        "metrics": {"roc_auc": 0.93, "f1": 0.8},
        "baseline": {"roc_auc": 0.95},
        "delta": {"roc_auc": {"value": -0.02, "low": -0.03, "high": -0.01}},
        "gate": {"roc_auc": {"verdict": "fail"}},
        "rows": 500,
        "baseline_label": "main",
        "verdict": "fail",
        "slice_results": [{"column": "c", "group": "g", "metric": "f1", "value": -0.1}],
    }
    results = (
        CheckResult("eval", "failed", "m", facts=facts, summary={"verdict": "FAIL"}),
        CheckResult("bench", "passed", "m", summary={"p50": "1.20 ms", "p90": "1.50 ms"}),
    )
    text = render("text", replace(sample_report(), results=results))
    assert "Evaluation of m: 500 rows against main: FAIL" in text
    assert re.search(r"roc_auc\s+0\.95\s+0\.93\s+-0\.02 \[-0\.03, -0\.01\]\s+fail", text)
    assert "slice c=g: f1 -0.1 (-)" in text
    assert "p50 1.20 ms, p90 1.50 ms" in text


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(
    ("tty", "env", "flag", "colour", "live"),
    [
        (True, {"TERM": "xterm"}, False, True, True),
        (True, {"TERM": "xterm"}, True, False, True),
        (True, {"TERM": "xterm", "NO_COLOR": "1"}, False, False, True),
        (True, {"TERM": "xterm", "NO_COLOR": ""}, False, True, True),
        (True, {"TERM": "dumb"}, False, False, False),
        (False, {}, False, False, False),
        (False, {"GITHUB_ACTIONS": "true"}, False, True, False),
        (False, {"GITLAB_CI": "true"}, False, True, False),
        (False, {"GITLAB_CI": "true", "NO_COLOR": "1"}, False, False, False),
        (False, {"GITHUB_ACTIONS": "true"}, True, False, False),
    ],
)
def test_colour_and_live_rules(
    tty: bool, env: dict[str, str], flag: bool, colour: bool, live: bool
) -> None:
    stream = _Stream(tty)
    assert color_enabled(stream, no_color=flag, environ=env) is colour
    assert live_enabled(stream, environ=env) is live


def test_live_view_frames() -> None:
    view = LiveView("mlops-ci check")
    assert view.lines() == []
    view.started("card", "m")
    view.started("deps", None)
    frame = [text for text, _ in view.lines(now=0.0)]
    assert frame[0] == "mlops-ci check: 0 of 2 checks finished"
    assert "running  card [m]" in frame[1]
    view.finished(CheckResult("card", "passed", "m", duration_s=0.01))
    view.finished(CheckResult("deps", "failed", None, duration_s=1.5))
    frame = [text for text, _ in view.lines()]
    assert frame == [
        "mlops-ci check: 2 of 2 checks finished",
        "  ✔ passed   card [m]  10 ms",
        "  ✘ failed   deps  1.5 s",
    ]


def test_files_only_still_print_the_summary_and_quiet_silences_it(
    cli: Callable[..., CliResult], demo_repo: Path
) -> None:
    args = ("check", "--offline", "--only", "card", "--format", "json=out.json")
    result = cli(*args, cwd=demo_repo)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("mlops-ci: PASS  every gate passed (exit 0)\n")
    assert result.stdout.endswith("reports written to: out.json\n")
    assert (demo_repo / "out.json").is_file()
    assert cli(*args, "--quiet", cwd=demo_repo).stdout == ""
    # --format markdown prints the Markdown report, exactly as the file gets it.
    shown = cli("check", "--offline", "--only", "card", "--format", "markdown", cwd=demo_repo)
    assert shown.stdout.startswith("<!-- mlops-ci:report -->")
    assert ESC not in shown.stdout and "reports written to" not in shown.stdout
