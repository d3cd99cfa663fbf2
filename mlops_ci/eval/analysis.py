"""From the kept rows to the outcome: metrics, paired decisions, slices, fairness, importance.

:func:`validate` checks the settings against the task first (metric names, gate directions,
fairness on a binary task): each problem is a ValueError the check reports as a configuration
error. :func:`analyse` then measures. The overall verdict: FAIL when a gated metric or a slice
group fails (or a fairness metric is over its limit), else INCONCLUSIVE when a gated metric is
inconclusive or cannot be computed, else PASS; "none" without a baseline (unless fairness fails).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from mlops_ci.eval.bootstrap import CAP, Paired, decide, paired_bootstrap
from mlops_ci.eval.groups import check_fairness_task, fairness_results, slice_results
from mlops_ci.eval.importance import permutation_importance
from mlops_ci.eval.metrics import MetricSpec, compute_metric, default_metrics, metric_spec
from mlops_ci.eval.settings import EvalSettings
from mlops_ci.eval.types import (
    EvalOutcome,
    EvalRows,
    FairnessResult,
    Importance,
    MetricResult,
    Predictor,
    SliceResult,
    Task,
    Verdict,
)


def validate(settings: EvalSettings, task: Task) -> tuple[MetricSpec, ...]:
    """The metrics to measure (configured or default, then gated and thresholded ones not
    listed), each checked against ``task``; ValueError naming the first problem."""
    names = list(settings.metrics or default_metrics(task))
    for name in [*settings.gate, *settings.thresholds]:
        if name not in names:
            names.append(name)
    specs = tuple(metric_spec(name, task) for name in dict.fromkeys(names))
    by_name = {spec.name: spec for spec in specs}
    for name, gate in settings.gate.items():
        spec = by_name[name]
        if spec.higher_is_better and gate.max_rise is not None:
            raise ValueError(
                f"eval.gate.{name}: {name} is higher-is-better: give max_drop, not max_rise"
            )
        if not spec.higher_is_better and gate.max_drop is not None:
            raise ValueError(
                f"eval.gate.{name}: {name} is an error metric (lower is better): give max_rise,"
                " not max_drop"
            )
    check_fairness_task(settings.fairness, task)
    return specs


def gate_limit(settings: EvalSettings, name: str) -> float | None:
    """The tolerated change of metric ``name`` (max_drop or max_rise), None when not gated."""
    gate = settings.gate.get(name)
    if gate is None:
        return None
    return gate.max_drop if gate.max_drop is not None else gate.max_rise


def analyse(
    rows: EvalRows,
    settings: EvalSettings,
    *,
    predict_candidate: Predictor,
    predict_baseline: Predictor | None,
    baseline_label: str | None,
) -> EvalOutcome:
    """Measure everything the eval section asks for and decide; see the module docstring."""
    specs = validate(settings, rows.task)
    gated = [spec for spec in specs if spec.name in settings.gate]
    notes: list[str] = []
    metrics = _metrics(rows, settings, specs, gated, notes)
    slices, slice_notes = slice_results(rows, gated or specs[:1], settings)
    notes.extend(slice_notes)
    fairness = fairness_results(rows, settings.fairness)
    for result in fairness:
        if math.isnan(result.candidate):
            notes.append(
                f"fairness metric {result.metric} by {result.by!r} cannot be computed on this"
                " data (a group without positives or negatives?)"
            )
    importance: tuple[Importance, ...] = ()
    importance_metric = None
    if settings.importance.enabled and rows.sample is not None and rows.rows:
        scorer = gated[0] if gated else specs[0]
        importance_metric = scorer.name
        importance = _importance(rows, settings, scorer, predict_candidate, predict_baseline)
    return EvalOutcome(
        task=rows.task,
        rows=rows.rows,
        data_digest=rows.data_digest,
        data_display=rows.data_display,
        metrics=metrics,
        slices=slices,
        fairness=fairness,
        importance=importance,
        importance_metric=importance_metric,
        baseline_label=baseline_label if rows.baseline is not None else None,
        verdict=overall_verdict(metrics, slices, fairness, has_baseline=rows.baseline is not None),
        confidence=settings.confidence,
        resamples=settings.resamples,
        seed=settings.seed,
        notes=tuple(notes),
    )


def _metrics(
    rows: EvalRows,
    settings: EvalSettings,
    specs: Sequence[MetricSpec],
    gated: Sequence[MetricSpec],
    notes: list[str],
) -> tuple[MetricResult, ...]:
    paired: dict[str, Paired] = {}
    if rows.baseline is not None and gated:
        for result in paired_bootstrap(
            gated,
            rows.task,
            rows.y_true,
            rows.candidate,
            rows.baseline,
            rows.positive_label,
            confidence=settings.confidence,
            resamples=settings.resamples,
            seed=settings.seed,
            key="all",
        ):
            paired[result.metric] = result
    rescaled = [name for name, result in paired.items() if result.rescaled]
    if rescaled:
        notes.append(
            f"the intervals of {', '.join(rescaled)} use the m-out-of-n bootstrap: {CAP:,} of"
            f" {rows.rows:,} rows per resample, the interval rescaled by sqrt({CAP}/{rows.rows})"
        )
    results = []
    for spec in specs:
        limit = gate_limit(settings, spec.name)
        found = paired.get(spec.name)
        if found is not None and limit is not None:
            verdict = decide(found.low, found.high, spec.higher_is_better, limit)
            if found.low is None:
                notes.append(
                    f"gated metric {spec.name} cannot be computed with confidence on this data:"
                    " the verdict is inconclusive"
                )
            results.append(
                MetricResult(
                    spec.name, spec.higher_is_better, found.candidate, found.baseline,
                    found.delta, found.low, found.high, limit, verdict,
                )
            )  # fmt: skip
            continue
        candidate = compute_metric(
            spec, rows.task, rows.y_true, rows.candidate, rows.positive_label
        )
        baseline = delta = None
        if rows.baseline is not None:
            baseline = compute_metric(
                spec, rows.task, rows.y_true, rows.baseline, rows.positive_label
            )
            delta = candidate - baseline
        if math.isnan(candidate):
            notes.append(f"metric {spec.name} cannot be computed on this data")
        results.append(
            MetricResult(spec.name, spec.higher_is_better, candidate, baseline, delta, limit=limit)
        )
    return tuple(results)


def _importance(
    rows: EvalRows,
    settings: EvalSettings,
    scorer: MetricSpec,
    predict_candidate: Predictor,
    predict_baseline: Predictor | None,
) -> tuple[Importance, ...]:
    if rows.sample is None:
        return ()
    options: dict[str, Any] = {
        "repeats": settings.importance.repeats,
        "seed": settings.seed,
        "positive_label": rows.positive_label,
    }
    candidate = permutation_importance(predict_candidate, rows.sample, scorer, rows.task, **options)
    baseline = (
        # The same model (the engine hands over the candidate's own predictor): the same figures.
        candidate
        if predict_baseline is predict_candidate
        else permutation_importance(predict_baseline, rows.sample, scorer, rows.task, **options)
        if predict_baseline is not None and rows.baseline is not None
        else None
    )
    merged = [
        Importance(
            c.feature,
            c.mean,
            c.std,
            None if baseline is None else baseline[index].mean,
            None if baseline is None else baseline[index].std,
        )
        for index, c in enumerate(candidate)
    ]
    # Most important first; NaN last; ties in column order (the sort is stable).
    return tuple(
        sorted(
            merged, key=lambda item: -item.candidate if not math.isnan(item.candidate) else math.inf
        )
    )


def overall_verdict(
    metrics: Sequence[MetricResult],
    slices: Sequence[SliceResult],
    fairness: Sequence[FairnessResult],
    *,
    has_baseline: bool,
) -> Verdict:
    """fail > inconclusive > pass over the gated metrics, slice groups and fairness limits."""
    # Over its limit fails; a value that cannot be computed does not pass either, but is
    # inconclusive (below), as an uncomputable gated metric is.
    unfair = any(not result.passed and not math.isnan(result.candidate) for result in fairness)
    if not has_baseline:
        return "fail" if unfair else "none"
    verdicts = {result.verdict for result in metrics} | {result.verdict for result in slices}
    if unfair or "fail" in verdicts:
        return "fail"
    if "inconclusive" in {result.verdict for result in metrics} or any(
        math.isnan(result.candidate) for result in fairness
    ):
        return "inconclusive"
    return "pass"
