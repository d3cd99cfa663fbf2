"""Exact batched forms of the common metrics: a thousand resamples in one numpy pass.

One ``sklearn.metrics`` call costs 0.3 to 2 ms of input validation on this machine; the paired
bootstrap needs about 2,000 per metric and group. The functions here evaluate many resamples at
once from the statistics scikit-learn itself reduces a metric to: a confusion matrix for label
metrics (accuracy, balanced accuracy, precision/recall/F1 with every average, MCC, Cohen's
kappa), weighted sums for the squared and absolute errors, R^2 and the log loss, tie-aware
weighted rank counts for ROC AUC (binary, and one-vs-rest as the mean over classes; see
:mod:`mlops_ci.eval.auc`). Each form
equals :func:`mlops_ci.eval.metrics.compute_metric` with ``sample_weight`` = the resample's row
counts (the tests check this on every resample to 1e-12); metrics without one (average
precision, Brier, MAPE, median absolute error, explained variance, one-vs-one AUC) are
resampled through that call.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mlops_ci.eval.auc import BatchedAUC, RowCounter
from mlops_ci.eval.metrics import AVERAGED, MetricSpec, positive_index
from mlops_ci.eval.types import Predictions, Task

if TYPE_CHECKING:
    import numpy as np

# Values of one metric on many resamples: row indices (resamples x m) -> values (resamples,).
BatchFn = Callable[["np.ndarray"], "np.ndarray"]


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
    spec: MetricSpec,
    task: Task,
    y_true: np.ndarray,
    pred: Predictions,
    positive_label: Any,
    counter: RowCounter | None = None,
) -> BatchFn | None:
    """A function ``idx (resamples x m) -> values (resamples,)`` equal to :func:`compute_metric`
    with ``sample_weight`` = each resample's row counts; None when there is no batched form.
    ``counter`` (over these rows) lets several metrics share each chunk's row counts."""
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
        return BatchedAUC(y == pos, scores[:, pos], counter=counter)
    if name == "roc_auc_ovr":
        # sklearn's one-vs-rest (macro): the mean of each class's binary AUC.
        counter = counter or RowCounter(int(y.shape[0]))
        per_class = [BatchedAUC(y == k, scores[:, k], counter=counter) for k in range(size)]
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
    supported |= {"f1", "precision", "recall"} | set(AVERAGED)
    return evaluate if name in supported else None


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
