"""Slices and fairness: the metrics per group of a column, and fairlearn's group metrics.

Slices: for every slice column and each of its groups (sorted by name), the gated metrics (or
the first metric when none is gated) for both models, with the paired bootstrap run within the
group. A group FAILs when the whole interval of its difference is beyond
``slice_gate.max_drop`` (error metrics, in their own units, use their gate's ``max_rise``
when gated, else ``slice_gate.max_drop`` as a rise); only groups of at least
``slice_gate.min_rows`` rows get a verdict. Columns with more than :data:`MAX_GROUPS` groups
keep the largest ones (the outcome says so): one bootstrap per group must stay affordable.

Fairness: ``fairlearn.metrics``' definitions on the predicted labels (1 = the positive class),
with the sensitive column as ``sensitive_features``; binary tasks only. Each of the six metrics
is a function of every group's weighted confusion counts (selection rate, true and false
positive rates, a rate with no rows to divide by being 0 as fairlearn's normalised confusion
matrix gives it), so :func:`fairness_value` computes them from those counts in numpy;
fairlearn itself (:func:`fairlearn_value`, which imports scikit-learn, SciPy and pandas: over
a second of CPU) is the oracle the tests hold it to, and answers any other metric name.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlops_ci.eval.batched import encode
from mlops_ci.eval.bootstrap import decide, paired_bootstrap, take
from mlops_ci.eval.metrics import MetricSpec, compute_metric, positive_index
from mlops_ci.eval.settings import EvalSettings, FairnessSpec
from mlops_ci.eval.types import EvalRows, FairnessResult, Predictions, SliceResult, Task

if TYPE_CHECKING:
    import numpy as np

MAX_GROUPS = 100  # groups per slice column at most (the largest are kept)


def group_column(rows: EvalRows, column: str) -> np.ndarray:
    """The values of a slice or sensitive column, as strings; ValueError when it was not kept."""
    import numpy as np

    values = rows.groups.get(column)
    if values is None:
        raise ValueError(f"the group column {column!r} is not among the evaluated columns")
    if values.shape[0] != rows.rows:
        raise ValueError(
            f"the group column {column!r} has {values.shape[0]} values, not {rows.rows}"
        )
    return np.asarray(values).astype(str)


def group_rows(values: np.ndarray) -> tuple[list[tuple[str, np.ndarray]], int]:
    """(group, its row indices) sorted by group, at most MAX_GROUPS; and the number dropped."""
    import numpy as np

    names, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    keep = np.arange(names.shape[0])
    if names.shape[0] > MAX_GROUPS:
        # The largest groups, ties by name; then back in name order.
        order = np.lexsort((np.arange(names.shape[0]), -counts))
        keep = np.sort(order[:MAX_GROUPS])
    sorted_rows = np.argsort(inverse, kind="stable")
    starts = np.concatenate(([0], np.cumsum(counts)))
    groups = [(str(names[i]), sorted_rows[starts[i] : starts[i + 1]]) for i in keep]
    return groups, int(names.shape[0] - keep.shape[0])


def slice_results(
    rows: EvalRows, specs: Sequence[MetricSpec], settings: EvalSettings
) -> tuple[tuple[SliceResult, ...], tuple[str, ...]]:
    """Every slice column's groups for ``specs`` (already chosen: the gated metrics, or the
    first); the results and notes (groups left out)."""
    results: list[SliceResult] = []
    notes: list[str] = []
    gate = settings.slice_gate
    for column in settings.slices:
        groups, dropped = group_rows(group_column(rows, column))
        if dropped:
            notes.append(
                f"slice column {column!r} has {len(groups) + dropped} groups: only the"
                f" {MAX_GROUPS} largest were evaluated"
            )
        for group, members in groups:
            y = rows.y_true[members]
            candidate = take(rows.candidate, members)
            if rows.baseline is None:
                for spec in specs:
                    value = compute_metric(spec, rows.task, y, candidate, rows.positive_label)
                    results.append(
                        SliceResult(column, group, int(members.shape[0]), spec.name, value)
                    )
                continue
            results.extend(_compared(rows, column, group, members, specs, settings, gate.min_rows))
    return tuple(results), tuple(notes)


def _compared(
    rows: EvalRows,
    column: str,
    group: str,
    members: np.ndarray,
    specs: Sequence[MetricSpec],
    settings: EvalSettings,
    min_rows: int,
) -> list[SliceResult]:
    if rows.baseline is None:
        return []
    size = int(members.shape[0])
    y = rows.y_true[members]
    candidate, baseline = take(rows.candidate, members), take(rows.baseline, members)
    if size < min_rows:
        # Too few rows for a verdict: the figures only, no bootstrap.
        out = []
        for spec in specs:
            c = compute_metric(spec, rows.task, y, candidate, rows.positive_label)
            b = compute_metric(spec, rows.task, y, baseline, rows.positive_label)
            out.append(SliceResult(column, group, size, spec.name, c, b, c - b))
        return out
    paired = paired_bootstrap(
        specs,
        rows.task,
        y,
        candidate,
        baseline,
        rows.positive_label,
        confidence=settings.confidence,
        resamples=settings.resamples,
        seed=settings.seed,
        key=f"slice\0{column}\0{group}",
    )
    out = []
    for spec, result in zip(specs, paired, strict=True):
        verdict = (
            "none"
            if result.low is None or math.isnan(result.delta)
            else decide(result.low, result.high, spec.higher_is_better, _limit(spec, settings))
        )
        out.append(
            SliceResult(
                column, group, size, spec.name, result.candidate, result.baseline,
                result.delta, result.low, result.high, verdict,
            )
        )  # fmt: skip
    return out


def _limit(spec: MetricSpec, settings: EvalSettings) -> float:
    """The group's tolerated change: slice_gate.max_drop, a fraction suited to scores; an error
    metric (in its own units: rmse, log_loss) uses its own gate's max_rise when it has one."""
    gate = settings.gate.get(spec.name)
    if not spec.higher_is_better and gate is not None and gate.max_rise is not None:
        return gate.max_rise
    return settings.slice_gate.max_drop


def binary_outcomes(
    y_true: np.ndarray, pred: Predictions, positive_label: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Truth and predicted labels as 0/1 (1 = the positive class), for fairlearn."""
    import numpy as np

    pos = positive_index(pred.classes, positive_label)
    truth, labels = encode(y_true, pred.classes), encode(pred.labels, pred.classes)
    if truth is None or labels is None:
        raise ValueError("labels outside the model's classes cannot be scored for fairness")
    return (truth == pos).astype(np.int64), (labels == pos).astype(np.int64)


# The rates each metric compares across groups; "ratio" metrics take min/max of each rate.
FAIRNESS_FUNCTIONS: dict[str, tuple[str, ...]] = {
    "demographic_parity_difference": ("selection",),
    "demographic_parity_ratio": ("selection",),
    "equalized_odds_difference": ("tpr", "fpr"),
    "equalized_odds_ratio": ("tpr", "fpr"),
    "equal_opportunity_difference": ("tpr",),
    "equal_opportunity_ratio": ("tpr",),
}


def fairness_value(
    metric: str, y_true: np.ndarray, y_pred: np.ndarray, sensitive: np.ndarray
) -> float:
    """One fairlearn metric (default ``method="between_groups"``, ``agg="worst_case"``) of 0/1
    truth and predictions, NaN when it cannot be computed; see the module doc."""
    import numpy as np

    rates = FAIRNESS_FUNCTIONS.get(metric)
    if rates is None or y_true.shape[0] == 0:
        return fairlearn_value(metric, y_true, y_pred, sensitive)
    _, codes = np.unique(sensitive, return_inverse=True)
    cells = codes.reshape(-1).astype(np.int64) * 4 + y_true * 2 + y_pred
    groups = int(codes.max()) + 1
    counts = np.bincount(cells, minlength=groups * 4).reshape(groups, 4).astype(np.float64)
    negatives, false_pos = counts[:, 0] + counts[:, 1], counts[:, 1]
    positives, true_pos = counts[:, 2] + counts[:, 3], counts[:, 3]
    present = counts.sum(axis=1) > 0
    by_rate = {
        "selection": _rate(false_pos + true_pos, negatives + positives),
        "tpr": _rate(true_pos, positives),
        "fpr": _rate(false_pos, negatives),
    }
    values = []
    for name in rates:
        rate = by_rate[name][present]
        low, high = float(rate.min()), float(rate.max())
        if metric.endswith("_difference"):
            values.append(high - low)
        else:
            values.append(low / high if high > 0 else math.nan)
    # fairlearn takes Python's max/min over (tpr, fpr): a NaN first stays, a NaN second is
    # passed over.
    return max(values) if metric.endswith("_difference") else min(values)


def _rate(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """part / whole per group, 0 where whole is 0 (sklearn's normalised confusion matrix)."""
    import numpy as np

    return np.where(whole > 0, part / np.where(whole > 0, whole, 1.0), 0.0)


def fairlearn_value(
    metric: str, y_true: np.ndarray, y_pred: np.ndarray, sensitive: np.ndarray
) -> float:
    """One fairlearn metric by ``fairlearn.metrics``' own function, NaN when it cannot be
    computed.

    These metrics depend only on the (group, truth, prediction) combination of each row, so the
    rows go to fairlearn as their distinct combinations with ``sample_weight`` = their counts:
    the same value, without fairlearn's per-row Python work (4.6 s on 1,000,000 rows).
    """
    import warnings

    import fairlearn.metrics
    import numpy as np

    names, codes = np.unique(sensitive, return_inverse=True)
    key = codes.reshape(-1).astype(np.int64) * 4 + y_true * 2 + y_pred
    unique, counts = np.unique(key, return_counts=True)
    function = getattr(fairlearn.metrics, metric)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(
                function(
                    (unique >> 1) & 1,
                    unique & 1,
                    sensitive_features=names[unique >> 2],
                    sample_weight=counts.astype(np.float64),
                )
            )
    except (ValueError, ZeroDivisionError):
        return math.nan


def check_fairness_task(specs: Sequence[FairnessSpec], task: Task) -> None:
    """ValueError when fairness metrics are asked of a task that is not binary."""
    if specs and task != "binary":
        names = ", ".join(sorted({spec.metric for spec in specs}))
        raise ValueError(
            f"fairness metrics ({names}) need a binary task; this model's task is {task}"
        )


def fairness_results(rows: EvalRows, specs: Sequence[FairnessSpec]) -> tuple[FairnessResult, ...]:
    """Each fairness spec for the candidate and (when there is one) the baseline."""
    check_fairness_task(specs, rows.task)
    results = []
    for spec in specs:
        sensitive = group_column(rows, spec.by)
        truth, predicted = binary_outcomes(rows.y_true, rows.candidate, rows.positive_label)
        candidate = fairness_value(spec.metric, truth, predicted, sensitive)
        baseline = None
        if rows.baseline is not None:
            truth, predicted = binary_outcomes(rows.y_true, rows.baseline, rows.positive_label)
            baseline = fairness_value(spec.metric, truth, predicted, sensitive)
        results.append(
            FairnessResult(spec.metric, spec.by, candidate, baseline, spec.max, spec.min)
        )
    return tuple(results)
