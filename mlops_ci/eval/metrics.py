"""The metrics the eval gate measures: scikit-learn's, by their usual names, per task.

Every figure the gate reports is computed by :mod:`sklearn.metrics` (:func:`compute_metric`).
The paired bootstrap (:mod:`mlops_ci.eval.bootstrap`) needs the same metric on a thousand
resamples per group, which one ``sklearn.metrics`` call each (0.3 to 2 ms of input validation on
this machine) cannot afford; for the common metrics this module therefore also gives a
*batched* form (:func:`batched_metric`) that evaluates many resamples at once from the
statistics scikit-learn itself reduces them to: a confusion matrix for label metrics, weighted
sums for error metrics and the log loss, weighted tie-aware rank counts for ROC AUC. Each batched
form equals the ``sklearn.metrics`` call with ``sample_weight`` = the resample's row counts (the
tests check this to 1e-12 on every resample); metrics without one use that call directly.
"""

from __future__ import annotations

import difflib
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from mlops_ci.eval.types import Predictions, Task

if TYPE_CHECKING:
    import numpy as np

# Values of one metric on many resamples: row indices (resamples x m) -> values (resamples,).
BatchFn = Callable[["np.ndarray"], "np.ndarray"]

Uses = Literal["labels", "scores", "values"]
_CLASSIFICATION: frozenset[Task] = frozenset({"binary", "multiclass"})
_BINARY: frozenset[Task] = frozenset({"binary"})
_REGRESSION: frozenset[Task] = frozenset({"regression"})


@dataclass(frozen=True)
class MetricSpec:
    """A metric: its name as configured, its direction, and which prediction it reads."""

    name: str
    higher_is_better: bool
    uses: Uses
    canonical: str = ""  # the registry name ("rmse" for "root_mean_squared_error")


@dataclass(frozen=True)
class _Def:
    tasks: frozenset[Task]
    higher_is_better: bool
    uses: Uses


_AVERAGED = {
    f"{base}_{average}": _Def(_CLASSIFICATION, True, "labels")
    for base in ("f1", "precision", "recall")
    for average in ("macro", "micro", "weighted")
}
_REGISTRY: dict[str, _Def] = {
    "accuracy": _Def(_CLASSIFICATION, True, "labels"),
    "balanced_accuracy": _Def(_CLASSIFICATION, True, "labels"),
    "f1": _Def(_BINARY, True, "labels"),
    "precision": _Def(_BINARY, True, "labels"),
    "recall": _Def(_BINARY, True, "labels"),
    **_AVERAGED,
    "matthews_corrcoef": _Def(_CLASSIFICATION, True, "labels"),
    "cohen_kappa": _Def(_CLASSIFICATION, True, "labels"),
    "roc_auc": _Def(_BINARY, True, "scores"),
    "roc_auc_ovr": _Def(_CLASSIFICATION, True, "scores"),
    "roc_auc_ovo": _Def(_CLASSIFICATION, True, "scores"),
    "average_precision": _Def(_BINARY, True, "scores"),
    "log_loss": _Def(_CLASSIFICATION, False, "scores"),
    "brier_score_loss": _Def(_BINARY, False, "scores"),
    "rmse": _Def(_REGRESSION, False, "values"),
    "mse": _Def(_REGRESSION, False, "values"),
    "mae": _Def(_REGRESSION, False, "values"),
    "r2": _Def(_REGRESSION, True, "values"),
    "mape": _Def(_REGRESSION, False, "values"),
    "median_absolute_error": _Def(_REGRESSION, False, "values"),
    "explained_variance": _Def(_REGRESSION, True, "values"),
}
# scikit-learn's function names for the same metrics.
_ALIASES = {
    "accuracy_score": "accuracy",
    "balanced_accuracy_score": "balanced_accuracy",
    "f1_score": "f1",
    "precision_score": "precision",
    "recall_score": "recall",
    "cohen_kappa_score": "cohen_kappa",
    "roc_auc_score": "roc_auc",
    "average_precision_score": "average_precision",
    "root_mean_squared_error": "rmse",
    "mean_squared_error": "mse",
    "mean_absolute_error": "mae",
    "r2_score": "r2",
    "mean_absolute_percentage_error": "mape",
    "explained_variance_score": "explained_variance",
}
_DEFAULTS: dict[Task, tuple[str, ...]] = {
    "binary": ("roc_auc", "accuracy", "f1"),
    # log_loss rather than roc_auc_ovr: it reads every probability, and batches exactly.
    "multiclass": ("accuracy", "f1_macro", "log_loss"),
    "regression": ("rmse", "mae", "r2"),
}


def metric_names(task: Task) -> tuple[str, ...]:
    """Every metric name (registry names, sorted) that applies to ``task``."""
    return tuple(sorted(name for name, spec in _REGISTRY.items() if task in spec.tasks))


def metric_spec(name: str, task: Task) -> MetricSpec:
    """The spec of metric ``name`` for ``task``; ValueError (with a did-you-mean) otherwise."""
    canonical = _ALIASES.get(name, name)
    found = _REGISTRY.get(canonical)
    if found is None:
        close = difflib.get_close_matches(name, [*_REGISTRY, *_ALIASES], n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ValueError(
            f"unknown metric {name!r}{hint}; {task} metrics: {', '.join(metric_names(task))}"
        )
    if task not in found.tasks:
        alternatives = [f"{canonical}_macro"] if f"{canonical}_macro" in _REGISTRY else []
        if canonical == "roc_auc":
            alternatives = ["roc_auc_ovr"]
        close = alternatives or difflib.get_close_matches(canonical, metric_names(task), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ValueError(
            f"metric {name!r} does not apply to a {task} task{hint}; {task} metrics:"
            f" {', '.join(metric_names(task))}"
        )
    return MetricSpec(name, found.higher_is_better, found.uses, canonical)


def default_metrics(task: Task) -> tuple[str, ...]:
    """The metrics measured when the configuration names none."""
    return _DEFAULTS[task]


def positive_index(classes: tuple[Any, ...], positive_label: Any) -> int:
    """The column of ``positive_label`` among ``classes`` (the last class when None)."""
    if positive_label is None:
        return len(classes) - 1
    for index, value in enumerate(classes):
        if value == positive_label or str(value) == str(positive_label):
            return index
    raise ValueError(f"the positive label {positive_label!r} is not a class of the model")


def compute_metric(
    spec: MetricSpec,
    task: Task,
    y_true: np.ndarray,
    pred: Predictions,
    positive_label: Any = None,
    sample_weight: np.ndarray | None = None,
) -> float:
    """The metric by ``sklearn.metrics``; NaN when it cannot be computed (one class only...)."""
    import numpy as np

    if y_true.shape[0] == 0:
        return math.nan
    try:
        with warnings.catch_warnings():
            # Undefined cases come back as NaN or zero_division; the caller reports them.
            warnings.simplefilter("ignore")
            value = float(_sklearn(spec, task, y_true, pred, positive_label, sample_weight))
    except (ValueError, ZeroDivisionError, IndexError, TypeError):
        return math.nan
    return value if np.isfinite(value) else math.nan


def _sklearn(
    spec: MetricSpec,
    task: Task,
    y: np.ndarray,
    pred: Predictions,
    positive_label: Any,
    weight: np.ndarray | None,
) -> float:
    from sklearn import metrics  # type: ignore[import-untyped]

    name = spec.canonical or spec.name
    classes = list(pred.classes)
    if spec.uses == "values":
        values = {
            "rmse": metrics.root_mean_squared_error,
            "mse": metrics.mean_squared_error,
            "mae": metrics.mean_absolute_error,
            "r2": metrics.r2_score,
            "mape": metrics.mean_absolute_percentage_error,
            "median_absolute_error": metrics.median_absolute_error,
            "explained_variance": metrics.explained_variance_score,
        }[name]
        return float(values(y, pred.labels, sample_weight=weight))
    positive = classes[positive_index(pred.classes, positive_label)] if classes else None
    labels = pred.labels
    if spec.uses == "labels":
        return _label_metric(name, y, labels, classes, positive, weight)
    if pred.scores is None:
        raise ValueError("the model gives no scores")
    scores = pred.scores
    pos = positive_index(pred.classes, positive_label)
    if name == "log_loss":
        return float(metrics.log_loss(y, scores, labels=classes, sample_weight=weight))
    if task == "binary" and name in {"roc_auc", "roc_auc_ovr", "roc_auc_ovo"}:
        return float(metrics.roc_auc_score(y == positive, scores[:, pos], sample_weight=weight))
    if name in {"roc_auc_ovr", "roc_auc_ovo"}:
        return float(
            metrics.roc_auc_score(
                y, scores, multi_class=name[-3:], labels=classes, sample_weight=weight
            )
        )
    if name == "average_precision":
        return float(
            metrics.average_precision_score(y == positive, scores[:, pos], sample_weight=weight)
        )
    if name == "brier_score_loss":
        return float(metrics.brier_score_loss(y == positive, scores[:, pos], sample_weight=weight))
    raise ValueError(f"no scikit-learn function for {name}")


def _label_metric(
    name: str,
    y: np.ndarray,
    labels: np.ndarray,
    classes: list[Any],
    positive: Any,
    weight: np.ndarray | None,
) -> float:
    from sklearn import metrics

    if name == "accuracy":
        return float(metrics.accuracy_score(y, labels, sample_weight=weight))
    if name == "balanced_accuracy":
        return float(metrics.balanced_accuracy_score(y, labels, sample_weight=weight))
    if name == "matthews_corrcoef":
        return float(metrics.matthews_corrcoef(y, labels, sample_weight=weight))
    if name == "cohen_kappa":
        return float(metrics.cohen_kappa_score(y, labels, labels=classes, sample_weight=weight))
    base, _, average = name.partition("_")
    function = {
        "f1": metrics.f1_score,
        "precision": metrics.precision_score,
        "recall": metrics.recall_score,
    }[base]
    if not average:
        return float(
            function(
                y, labels, pos_label=positive, labels=classes, zero_division=0.0,
                sample_weight=weight,
            )
        )  # fmt: skip
    return float(
        function(
            y, labels, average=average, labels=classes, zero_division=0.0, sample_weight=weight
        )
    )


# --- batched forms: many resamples at once (see the module docstring) ---------------------------


def encode(values: np.ndarray, classes: tuple[Any, ...]) -> np.ndarray | None:
    """Each value's index in ``classes`` (int64), or None when a value is not a class."""
    import numpy as np

    uniques, inverse = np.unique(np.asarray(values), return_inverse=True)
    lookup: dict[Any, int] = {}
    for index, value in enumerate(classes):
        lookup.setdefault(value, index)
        lookup.setdefault(str(value), index)
    mapped = []
    for value in uniques.tolist():
        found = lookup.get(value, lookup.get(str(value)))
        if found is None:
            return None
        mapped.append(found)
    return np.asarray(mapped, dtype=np.int64)[inverse.reshape(-1)]


def resample_sums(values: np.ndarray, idx: np.ndarray, bins: int) -> np.ndarray:
    """Per resample (row of ``idx``), the count of each bin value ``values[idx]`` falls in."""
    import numpy as np

    rows = idx.shape[0]
    offsets = (np.arange(rows, dtype=np.int64) * bins)[:, None]
    flat = np.bincount((values[idx] + offsets).ravel(), minlength=rows * bins)
    return flat.reshape(rows, bins).astype(np.float64)


def batched_metric(
    spec: MetricSpec, task: Task, y_true: np.ndarray, pred: Predictions, positive_label: Any
) -> BatchFn | None:
    """A function ``idx (resamples x m) -> values (resamples,)`` equal to :func:`compute_metric`
    with ``sample_weight`` = each resample's row counts; None when there is no batched form."""
    import numpy as np

    name = spec.canonical or spec.name
    if spec.uses == "values":
        return _batched_values(name, np.asarray(y_true, np.float64), pred.labels)
    y = encode(y_true, pred.classes)
    if y is None or not pred.classes:
        return None
    size = len(pred.classes)
    pos = positive_index(pred.classes, positive_label)
    if spec.uses == "labels":
        labels = encode(pred.labels, pred.classes)
        if labels is None:
            return None
        pairs = y * size + labels

        from_confusion = confusion_metric(name, pos)
        if from_confusion is None:
            return None
        return lambda idx: from_confusion(resample_sums(pairs, idx, size * size))
    scores = pred.scores
    if scores is None or scores.dtype not in (np.float64, np.float32):
        return None
    if name == "log_loss":
        # sklearn: -log of the true class's probability clipped to [eps, 1 - eps], in the
        # scores' own dtype (float32 outputs of ONNX models keep float32's eps).
        eps = np.finfo(scores.dtype).eps
        picked = np.clip(scores[np.arange(y.shape[0]), y], eps, 1 - eps)
        loss = (-np.log(picked)).astype(np.float64)
        return lambda idx: loss[idx].sum(axis=1) / idx.shape[1]
    if name in {"roc_auc", "roc_auc_ovr", "roc_auc_ovo"} and task == "binary":
        return _batched_auc(y == pos, scores[:, pos])
    if name == "roc_auc_ovr":
        # sklearn's one-vs-rest (macro): the mean of each class's binary AUC.
        per_class = [_batched_auc(y == k, scores[:, k]) for k in range(size)]
        return lambda idx: np.mean([auc(idx) for auc in per_class], axis=0)
    return None


def confusion_metric(name: str, pos: int) -> BatchFn | None:
    """A function: confusion matrices (resamples x classes^2, rows = truth, flattened) ->
    the label metric ``name`` on each; None for metrics without this form."""
    import numpy as np

    def divide(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
        # zero_division=0.0, as compute_metric asks scikit-learn for.
        safe = np.where(bottom == 0, 1.0, bottom)
        return np.asarray(np.where(bottom == 0, 0.0, top / safe))

    def prf(kind: str, tp: np.ndarray, true: np.ndarray, predicted: np.ndarray) -> np.ndarray:
        if kind == "precision":
            return divide(tp, predicted)
        if kind == "recall":
            return divide(tp, true)
        return divide(2 * tp, true + predicted)  # sklearn's (1+b^2) tp / (b^2 true + pred)

    def evaluate(flat: np.ndarray) -> np.ndarray:
        size = math.isqrt(flat.shape[1])
        cm = flat.reshape(-1, size, size)
        tp = np.diagonal(cm, axis1=1, axis2=2)
        true, predicted = cm.sum(axis=2), cm.sum(axis=1)
        total = true.sum(axis=1)
        if name == "accuracy":
            return np.asarray(tp.sum(axis=1) / total)
        if name == "balanced_accuracy":
            present = true > 0
            return np.asarray((divide(tp, true) * present).sum(axis=1) / present.sum(axis=1))
        if name == "matthews_corrcoef":
            # sklearn: cov(y, p) / sqrt(cov(y, y) cov(p, p)) from the confusion matrix, 0 if 0.
            cov_yp = tp.sum(axis=1) * total - (true * predicted).sum(axis=1)
            cov_pp = total**2 - (predicted * predicted).sum(axis=1)
            cov_yy = total**2 - (true * true).sum(axis=1)
            product = cov_yy * cov_pp
            root = np.sqrt(np.where(product == 0, 1.0, product))
            return np.asarray(np.where(product == 0, 0.0, cov_yp / root))
        if name == "cohen_kappa":
            # sklearn: 1 - sum(w * observed) / sum(w * expected), w = 1 off the diagonal.
            expected = predicted[:, :, None] * true[:, None, :] / total[:, None, None]
            off = 1 - np.eye(size)
            observed_off = (cm * off).sum(axis=(1, 2))
            expected_off = (expected * off).sum(axis=(1, 2))  # w is symmetric
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.asarray(1 - observed_off / expected_off)
        kind, _, average = name.partition("_")
        if not average:
            return prf(kind, tp[:, pos], true[:, pos], predicted[:, pos])
        if average == "micro":
            return prf(kind, tp.sum(axis=1), true.sum(axis=1), predicted.sum(axis=1))
        per_class = prf(kind, tp, true, predicted)
        if average == "macro":
            return np.asarray(per_class.mean(axis=1))
        return np.asarray((per_class * true).sum(axis=1) / total)  # weighted by support

    supported = {"accuracy", "balanced_accuracy", "matthews_corrcoef", "cohen_kappa"}
    supported |= {"f1", "precision", "recall"} | set(_AVERAGED)
    return evaluate if name in supported else None


def _batched_auc(positive: np.ndarray, score: np.ndarray) -> BatchFn:
    import numpy as np

    # Mann-Whitney with ties counted half: the area under scikit-learn's weighted ROC curve.
    uniques, bins = np.unique(score, return_inverse=True)
    bins = bins.reshape(-1).astype(np.int64)
    size = uniques.shape[0]
    is_positive = positive.astype(np.int64)
    keyed = bins * 2 + is_positive  # bin and class in one key

    def by_counts(idx: np.ndarray) -> np.ndarray:
        # Per resample, counts per distinct score: resamples x distinct scores x 2 cells.
        counts = resample_sums(keyed, idx, size * 2).reshape(-1, size, 2)
        negatives, positives = counts[:, :, 0], counts[:, :, 1]
        above = positives[:, ::-1].cumsum(axis=1)[:, ::-1] - positives
        wins = (negatives * (above + 0.5 * positives)).sum(axis=1)
        return finish(wins, negatives.sum(axis=1) * positives.sum(axis=1))

    def by_sorting(idx: np.ndarray) -> np.ndarray:
        # More distinct scores than drawn rows (m-out-of-n): sort each resample instead.
        # Within a score, negatives sort before positives (key = bin * 2 + positive).
        keys = np.sort(keyed[idx], axis=1)
        positive_row = (keys & 1).astype(bool)
        negatives_to = np.cumsum(~positive_row, axis=1)  # negatives up to here, inclusive
        bins = keys >> 1
        first = np.ones(keys.shape, dtype=bool)
        first[:, 1:] = bins[:, 1:] != bins[:, :-1]
        start = np.maximum.accumulate(np.where(first, np.arange(keys.shape[1]), 0), axis=1)
        below = np.take_along_axis(negatives_to - ~positive_row, start, axis=1)
        # Each positive wins over the negatives below it and half of those tied with it.
        wins = (positive_row * (below + negatives_to)).sum(axis=1) * 0.5
        count = positive_row.sum(axis=1)
        return finish(wins.astype(np.float64), (count * (keys.shape[1] - count)).astype(np.float64))

    def finish(wins: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(np.where(pairs > 0, wins / np.where(pairs > 0, pairs, 1.0), np.nan))

    def evaluate(idx: np.ndarray) -> np.ndarray:
        return by_counts(idx) if size <= idx.shape[1] else by_sorting(idx)

    return evaluate


def _batched_values(name: str, y: np.ndarray, predicted: np.ndarray) -> BatchFn | None:
    import numpy as np

    if not np.issubdtype(np.asarray(predicted).dtype, np.number):
        return None
    error = y - np.asarray(predicted, np.float64)
    centred = y - y.mean()  # sums of squares around a near mean lose no digits

    def mean(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
        return np.asarray(values[idx].sum(axis=1) / idx.shape[1])

    if name == "mse":
        return lambda idx: mean(error**2, idx)
    if name == "rmse":
        return lambda idx: np.sqrt(mean(error**2, idx))
    if name == "mae":
        return lambda idx: mean(np.abs(error), idx)
    if name == "r2":

        def r2(idx: np.ndarray) -> np.ndarray:
            sse = mean(error**2, idx)
            sst = mean(centred**2, idx) - mean(centred, idx) ** 2
            safe = np.where(sst == 0, 1.0, sst)
            return np.where(sst == 0, np.where(sse == 0, 1.0, 0.0), 1 - sse / safe)

        return r2
    return None
