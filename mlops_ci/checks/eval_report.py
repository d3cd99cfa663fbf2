"""What the ``eval`` check concludes from an :class:`~mlops_ci.eval.types.EvalOutcome`.

Findings: ``EVAL-REGRESSION`` (a gated metric's verdict is fail), ``EVAL-INCONCLUSIVE`` (at
``eval.inconclusive_severity``), ``EVAL-THRESHOLD`` (``eval.thresholds`` and the card's
``governance.evaluation_metrics[].threshold``; where both set one metric, the stricter wins),
``EVAL-SLICE-REGRESSION`` (per failing group), ``EVAL-FAIRNESS`` (per fairness limit missed) and
``EVAL-CLAIM-MISMATCH`` (a card value further than ``eval.claim_tolerance`` from the measured
one). Data-driven findings point at the data file; claim and threshold findings from the card
point at the card's line.

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
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlops_ci.checks.base import Context, result
from mlops_ci.findings import CheckResult, Finding, JsonValue, Location, Severity

if TYPE_CHECKING:
    from mlops_ci.card.validate import ValidatedCard
    from mlops_ci.eval.settings import EvalSettings
    from mlops_ci.eval.types import EvalOutcome, FairnessResult, Importance, MetricResult


@dataclass(frozen=True)
class Threshold:
    """An absolute threshold on a measured metric, and where it was set."""

    metric: str
    value: float
    higher_is_better: bool
    source: str  # "mlops-ci.yaml eval.thresholds" or "model card"
    location: Location | None = None  # the card's line, for card thresholds


@dataclass(frozen=True)
class CardClaim:
    """A metric value the card declares (``governance.evaluation_metrics``)."""

    metric: str
    value: float
    location: Location
    dataset: str | None = None  # the dataset the card says it was measured on


def finite(value: float | None) -> float | None:
    """``value`` when it is a finite number, else None (NaN never reaches JSON or a comparison)."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def conclude(
    ctx: Context,
    check: str,
    settings: EvalSettings,
    outcome: EvalOutcome,
    notes: Sequence[str] = (),
) -> CheckResult:
    """The check result of ``outcome``: findings, facts, metrics and key figures."""
    card = load_card(ctx)
    claims = card_claims(card)
    thresholds = merged_thresholds(settings, outcome, card)
    all_notes = [*notes, *outcome.notes]
    findings = gate_findings(ctx, settings, outcome)
    applied, threshold_findings = threshold_findings_of(ctx, outcome, thresholds, all_notes)
    findings += threshold_findings
    findings += claim_findings(ctx, settings, outcome, claims, all_notes)
    facts = eval_facts(outcome, applied, all_notes)
    metrics = {m.name: v for m in outcome.metrics if (v := finite(m.candidate)) is not None}
    return result(
        ctx,
        check,
        findings,
        metrics=metrics,
        facts=facts,
        summary=eval_summary(outcome),
    )


def load_card(ctx: Context) -> ValidatedCard | None:
    """The model's card, validated; None when absent or unreadable (the card check says why)."""
    from mlops_ci.card.validate import read_card_text, validate_card
    from mlops_ci.errors import MlopsCiError

    model = ctx.model
    if model is None or model.card is None:
        return None
    path = ctx.loaded.resolve(model.card)
    if not path.is_file():
        return None
    try:
        return validate_card(read_card_text(path, ctx.display(path)), ctx.display(path))
    except MlopsCiError:
        return None


def _claims_of(
    card: ValidatedCard | None,
) -> list[tuple[int, str, float, float | None, bool, str | None]]:
    if card is None or card.metadata is None or card.metadata.governance is None:
        return []
    return [
        (index, m.name, float(m.value), m.threshold, m.higher_is_better, m.dataset)
        for index, m in enumerate(card.metadata.governance.evaluation_metrics)
    ]


def _card_location(card: ValidatedCard, index: int) -> Location:
    position = card.position(f"governance.evaluation_metrics.{index}")
    return Location(card.path, position.line or 1, position.column)


def card_claims(card: ValidatedCard | None) -> list[CardClaim]:
    """The metric values the card declares, with their lines."""
    if card is None:
        return []
    return [
        CardClaim(name, value, _card_location(card, index), dataset)
        for index, name, value, _, _, dataset in _claims_of(card)
    ]


def merged_thresholds(
    settings: EvalSettings, outcome: EvalOutcome, card: ValidatedCard | None
) -> list[Threshold]:
    """Thresholds of the config and the card; where both set one metric, the stricter wins."""
    direction = {m.name: m.higher_is_better for m in outcome.metrics}
    found: dict[str, Threshold] = {}
    candidates = [
        Threshold(name, float(value), direction.get(name, True), "mlops-ci.yaml eval.thresholds")
        for name, value in settings.thresholds.items()
    ]
    if card is not None:
        candidates += [
            Threshold(name, float(limit), better, "model card", _card_location(card, index))
            for index, name, _, limit, better, _ in _claims_of(card)
            if limit is not None
        ]
    for threshold in candidates:
        current = found.get(threshold.metric)
        if current is None or _stricter(threshold, current):
            found[threshold.metric] = threshold
    return [found[name] for name in sorted(found)]


def _stricter(new: Threshold, old: Threshold) -> bool:
    return new.value > old.value if new.higher_is_better else new.value < old.value


def _metric(outcome: EvalOutcome, name: str) -> MetricResult | None:
    return next((m for m in outcome.metrics if m.name == name), None)


def _num(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.4g}"


def _signed(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:+.4g}"


def gate_findings(ctx: Context, settings: EvalSettings, outcome: EvalOutcome) -> list[Finding]:
    """EVAL-REGRESSION, EVAL-INCONCLUSIVE, EVAL-SLICE-REGRESSION and EVAL-FAIRNESS findings."""
    data = Location(outcome.data_display)
    label = outcome.baseline_label or "the baseline"
    level = f"{outcome.confidence:.0%} CI"
    findings: list[Finding] = []
    for m in outcome.metrics:
        if m.verdict not in ("fail", "inconclusive"):
            continue
        kind = "drop" if m.higher_is_better else "rise"
        text = (
            f"{_num(m.candidate)} vs {_num(m.baseline)} on {label}: delta"
            f" {_signed(m.delta)} ({level} {_signed(m.low)} to {_signed(m.high)});"
            f" allowed {kind} {_num(m.limit)} (eval.gate.{m.name})"
        )
        if m.verdict == "fail":
            findings.append(
                ctx.finding(
                    "EVAL-REGRESSION", Severity.HIGH, f"{m.name} regressed: {text}", data, m.name
                )
            )
        else:
            findings.append(
                ctx.finding(
                    "EVAL-INCONCLUSIVE",
                    settings.inconclusive_severity,
                    f"cannot tell whether {m.name} regressed on {outcome.rows} rows: {text}",
                    data,
                    m.name,
                )
            )
    for s in outcome.slices:
        if s.verdict != "fail":
            continue
        message = (
            f"{s.metric} regressed for {s.column}={s.group} ({s.rows} rows):"
            f" {_num(s.candidate)} vs {_num(s.baseline)} on {label}, delta {_signed(s.delta)}"
            f" ({level} {_signed(s.low)} to {_signed(s.high)}); allowed drop"
            f" {settings.slice_gate.max_drop:g} (eval.slice_gate.max_drop)"
        )
        identity = (s.column, s.group, s.metric)
        findings.append(
            ctx.finding("EVAL-SLICE-REGRESSION", Severity.HIGH, message, data, *identity)
        )
    for f in outcome.fairness:
        if f.passed:
            continue
        limit = f"max {f.max:g}" if f.max is not None else f"min {f.min:g}"
        base = f" (baseline {_num(f.baseline)})" if f.baseline is not None else ""
        message = f"{f.metric} by {f.by} is {_num(f.candidate)}{base}, beyond the limit {limit}"
        findings.append(ctx.finding("EVAL-FAIRNESS", Severity.HIGH, message, data, f.metric, f.by))
    return findings


def threshold_findings_of(
    ctx: Context, outcome: EvalOutcome, thresholds: list[Threshold], notes: list[str]
) -> tuple[list[dict[str, JsonValue]], list[Finding]]:
    """The thresholds applied (for the facts) and the EVAL-THRESHOLD findings; a threshold on
    a metric that was not measured becomes a note in ``notes``."""
    applied: list[dict[str, JsonValue]] = []
    findings: list[Finding] = []
    for t in thresholds:
        measured = _metric(outcome, t.metric)
        value = finite(measured.candidate) if measured is not None else None
        if value is None:
            notes.append(
                f"{t.source} sets a threshold for {t.metric}, which was not measured: add it to"
                " eval.metrics"
            )
            continue
        passed = value >= t.value if t.higher_is_better else value <= t.value
        applied.append(
            {
                "metric": t.metric,
                "threshold": t.value,
                "value": value,
                "higher_is_better": t.higher_is_better,
                "source": t.source,
                "passed": passed,
            }
        )
        if passed:
            continue
        side = "below" if t.higher_is_better else "above"
        message = (
            f"{t.metric} measured {_num(value)} on {outcome.data_display} ({outcome.rows} rows),"
            f" {side} the threshold {t.value:g} ({t.source})"
        )
        where = t.location or Location(outcome.data_display)
        findings.append(ctx.finding("EVAL-THRESHOLD", Severity.HIGH, message, where, t.metric))
    return applied, findings


def _same_data(named: str, data: str) -> bool:
    """Whether the card's dataset name designates the evaluation data file (path or name)."""
    path = data.replace("\\", "/")
    leaf = path.rsplit("/", 1)[-1]
    return named in (path, leaf, leaf.split(".", 1)[0])


def claim_findings(
    ctx: Context,
    settings: EvalSettings,
    outcome: EvalOutcome,
    claims: list[CardClaim],
    notes: list[str] | None = None,
) -> list[Finding]:
    """EVAL-CLAIM-MISMATCH for each card value further than the tolerance from the measured.

    A claim the card says was measured on another named dataset is not contradicted by this
    data: it is left alone, with a note.
    """
    findings = []
    for claim in claims:
        measured = _metric(outcome, claim.metric)
        value = finite(measured.candidate) if measured is not None else None
        if value is None or abs(value - claim.value) <= settings.claim_tolerance:
            continue
        if claim.dataset and not _same_data(claim.dataset, outcome.data_display):
            if notes is not None:
                notes.append(
                    f"the card's {claim.metric} {claim.value:g} was measured on"
                    f" {claim.dataset!r}, not on {outcome.data_display}: not compared"
                )
            continue
        message = (
            f"the card claims {claim.metric} {claim.value:g}, measured {_num(value)} on"
            f" {outcome.data_display} ({outcome.rows} rows, {outcome.data_digest[:19]}):"
            f" more than eval.claim_tolerance {settings.claim_tolerance:g} apart"
        )
        findings.append(
            ctx.finding(
                "EVAL-CLAIM-MISMATCH",
                Severity.MEDIUM,
                message,
                claim.location,
                claim.metric,
                claim.dataset or "",
            )
        )
    return findings


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
        text = _num(m.candidate)
        if m.delta is not None:
            text += f" ({_signed(m.delta)})"
        figures[m.name] = text
    return figures
