"""What the ``eval`` check concludes from an :class:`~mlops_ci.eval.types.EvalOutcome`.

Findings: ``EVAL-REGRESSION`` (a gated metric's verdict is fail), ``EVAL-INCONCLUSIVE`` (at
``eval.inconclusive_severity``), ``EVAL-THRESHOLD`` (``eval.thresholds`` and the card's
``governance.evaluation_metrics[].threshold``; where both set one metric, the stricter wins),
``EVAL-SLICE-REGRESSION`` (per failing group), ``EVAL-FAIRNESS`` (per fairness limit missed) and
``EVAL-CLAIM-MISMATCH`` (a card value further than ``eval.claim_tolerance`` from the measured
one). Data-driven findings point at the data file; claim and threshold findings from the card
point at the card's line.

Facts and key figures: :mod:`mlops_ci.checks.eval_facts`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlops_ci.checks.base import Context, result
from mlops_ci.checks.eval_facts import eval_facts, eval_summary, figure, finite, signed
from mlops_ci.findings import CheckResult, Finding, JsonValue, Location, Severity

if TYPE_CHECKING:
    from mlops_ci.card.validate import ValidatedCard
    from mlops_ci.eval.settings import EvalSettings
    from mlops_ci.eval.types import EvalOutcome, MetricResult


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
            f"{figure(m.candidate)} vs {figure(m.baseline)} on {label}: delta"
            f" {signed(m.delta)} ({level} {signed(m.low)} to {signed(m.high)});"
            f" allowed {kind} {figure(m.limit)} (eval.gate.{m.name})"
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
            f" {figure(s.candidate)} vs {figure(s.baseline)} on {label}, delta {signed(s.delta)}"
            f" ({level} {signed(s.low)} to {signed(s.high)}); allowed drop"
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
        base = f" (baseline {figure(f.baseline)})" if f.baseline is not None else ""
        message = f"{f.metric} by {f.by} is {figure(f.candidate)}{base}, beyond the limit {limit}"
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
            f"{t.metric} measured {figure(value)} on {outcome.data_display} ({outcome.rows} rows),"
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
            f"the card claims {claim.metric} {claim.value:g}, measured {figure(value)} on"
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
