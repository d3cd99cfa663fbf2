"""Plain text: the summary a person reads in a terminal, a CI log or a pipe.

Pure and colourless: colour and the live view are :mod:`mlops_ci.terminal`'s job, added only
when the text goes to a terminal that renders them. Every text taken from the report (model
names, messages, rule IDs) is flattened to one line of printable characters, so a message
cannot carry an escape sequence or a fake line into the terminal.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from mlops_ci.findings import CheckResult, Finding, Report
from mlops_ci.formats.common import duration, headline_parts

# At most this many findings per list ("blocking", "other"); the full report has them all.
BLOCKING_SHOWN = 20
OTHERS_SHOWN = 10
TOP_SLICES = 3

VERDICT_LINES = {
    0: "PASS  every gate passed (exit 0)",
    1: "FAIL  a gate failed (exit 1)",
    2: "ERROR  a check could not read its input (exit 2)",
    3: "ERROR  a check crashed (exit 3)",
}


def clean(text: object) -> str:
    """One line of printable text: whitespace runs become one space, control characters ``?``."""
    flat = " ".join(str(text).split())
    return "".join(
        "?" if (ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 or ch in "\u2028\u2029") else ch
        for ch in flat
    )


def verdict_line(report: Report) -> str:
    """``PASS  every gate passed (exit 0)``: the verdict and what the exit code means."""
    return VERDICT_LINES.get(report.exit_code, f"ERROR  (exit {report.exit_code})")


def _headline(report: Report) -> str:
    parts = headline_parts(report, plain=clean, code=clean, strong=clean)
    return " · ".join(parts)


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns two spaces apart; trailing blanks trimmed."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _figures(result: CheckResult) -> str:
    return ", ".join(f"{clean(k)} {clean(v)}" for k, v in result.summary.items())


def _checks(report: Report) -> list[str]:
    if not report.results:
        return []
    rows = [["check", "model", "status", "duration", "key figures"]]
    rows += [
        [clean(r.check), clean(r.model or "-"), r.status, duration(r.duration_s), _figures(r)]
        for r in report.results
    ]
    return ["", *_table(rows)]


def _finding_line(result: CheckResult, finding: Finding) -> str:
    where = clean(finding.location) if finding.location else clean(result.model or result.check)
    line = f"  {finding.severity.label.upper():<8} {where}  {clean(finding.rule_id)}"
    line += f"  {clean(finding.message)}"
    if finding.suppressed_by:
        line += f"  (waived: {clean(finding.suppressed_by)})"
    return line


def _finding_block(
    title: str, pairs: Sequence[tuple[CheckResult, Finding]], shown: int
) -> list[str]:
    if not pairs:
        return []
    lines = ["", f"{title} ({len(pairs)})"]
    lines += [_finding_line(r, f) for r, f in pairs[:shown]]
    if len(pairs) > shown:
        lines.append(f"  ... and {len(pairs) - shown} more in the full report (--format json)")
    return lines


def _findings(report: Report) -> list[str]:
    pairs = report.all_findings()
    blocking = [(r, f) for r, f in pairs if f.blocks(report.fail_on)]
    others = [(r, f) for r, f in pairs if not f.blocks(report.fail_on)]
    return [
        *_finding_block("Blocking findings", blocking, BLOCKING_SHOWN),
        *_finding_block("Other findings", others, OTHERS_SHOWN),
    ]


def _problems(report: Report) -> list[str]:
    lines = [
        f"  {r.status:<8} {clean(r.check)}{f' [{clean(r.model)}]' if r.model else ''}:"
        f" {clean(r.detail)}"
        for r in report.results
        if r.status in ("errored", "skipped") and r.detail
    ]
    return ["", "Errors and skipped checks", *lines] if lines else []


def _num(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return "-"
    return f"{value:.4g}"


def _delta(entry: Any) -> str:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("value"), int | float):
        return "-"
    text = f"{entry['value']:+.4g}"
    low, high = entry.get("low"), entry.get("high")
    if isinstance(low, int | float) and isinstance(high, int | float):
        text += f" [{low:+.4g}, {high:+.4g}]"
    return text


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _eval_block(result: CheckResult) -> list[str]:
    facts = result.facts
    metrics = facts.get("metrics")
    if not isinstance(metrics, Mapping):
        return []
    baseline, delta, gate = (_dict(facts.get(key)) for key in ("baseline", "delta", "gate"))
    against = clean(facts.get("baseline_label") or "no baseline")
    lines = [
        "",
        f"Evaluation of {clean(result.model or '-')}: {clean(facts.get('rows', '?'))} rows"
        f" against {against}: {clean(str(facts.get('verdict', 'none')).upper())}",
    ]
    rows = [["  metric", "baseline", "candidate", "delta [CI]", "verdict"]]
    for name, value in metrics.items():
        verdict = _dict(gate.get(name)).get("verdict", "-")
        rows.append(
            [
                f"  {clean(name)}",
                _num(baseline.get(name)),
                _num(value),
                _delta(delta.get(name)),
                clean(verdict),
            ]
        )
    lines += _table(rows)
    slices = facts.get("slice_results")
    moved = sorted(
        (
            s
            for s in (slices if isinstance(slices, list) else [])
            if isinstance(s, Mapping) and isinstance(s.get("value"), int | float)
        ),
        key=lambda s: (-abs(float(s["value"])), str(s.get("column")), str(s.get("group"))),
    )[:TOP_SLICES]
    lines += [
        f"  slice {clean(s.get('column'))}={clean(s.get('group'))}: {clean(s.get('metric'))}"
        f" {_delta(s)} ({clean(s.get('verdict', '-'))})"
        for s in moved
    ]
    return lines


def render(report: Report) -> str:
    """The report as plain text: verdict, checks, blocking findings first, then the rest."""
    lines = [f"mlops-ci: {verdict_line(report)}", _headline(report), *_checks(report)]
    for result in report.results:
        if result.check == "eval":
            lines += _eval_block(result)
    lines += [*_findings(report), *_problems(report)]
    return "\n".join(lines) + "\n"
