"""Permutation importance, with the semantics (and the random stream) of scikit-learn's.

:func:`sklearn.inspection.permutation_importance` needs an estimator and a 2-D array; the gate
has a :data:`~mlops_ci.eval.types.Predictor` over a table of named columns (several ONNX inputs,
mixed types), so the loop is reproduced here: the score on the sample, then for each column and
each repeat the score with that column permuted; importance = score - permuted score (a worse
error counts as a positive importance), mean and standard deviation over the repeats. The
permutations are drawn exactly as scikit-learn draws them (a ``RandomState`` seeded from the
seed gives one seed shared by every column; each repeat reshuffles the previous permutation), so
for the same seed the figures equal ``permutation_importance(..., random_state=seed)``.

Speed: the predictor is an ONNX session in production, where fewer, larger calls pay, so the
repeats of one column go to it as ONE table (the permuted copies one after another, at most
:data:`MAX_ROWS` rows a call) and are scored together by the exact batched form of the metric
(:mod:`mlops_ci.eval.batched`, the values ``sklearn.metrics`` gives) instead of one
``sklearn.metrics`` call (milliseconds of input validation) per repeat. Metrics without a batched
form, and any table whose batched score disagrees with scikit-learn's on the unpermuted sample,
are scored by :func:`~mlops_ci.eval.metrics.compute_metric`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_ci.eval.batched import batched_metric
from mlops_ci.eval.feeds import freeze
from mlops_ci.eval.metrics import MetricSpec, compute_metric
from mlops_ci.eval.types import FeatureSample, Predictions, Predictor, Task

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np

MAX_ROWS = 262_144  # rows per predictor call at most (the repeats of a column are split beyond)
_AGREE = 1e-12  # batched and scikit-learn reference scores must agree this closely (relative)


@dataclass(frozen=True)
class Permuted:
    """One feature's importance for one model: mean and std of the score drop over repeats."""

    feature: str
    mean: float
    std: float


def permutation_importance(
    predict: Predictor,
    sample: FeatureSample,
    spec: MetricSpec,
    task: Task,
    *,
    repeats: int,
    seed: int,
    positive_label: Any = None,
) -> tuple[Permuted, ...]:
    """Each column's permutation importance (in ``sample.columns`` order) for one model."""
    import numpy as np

    sign = 1.0 if spec.higher_is_better else -1.0  # scikit-learn scores errors negated
    table = {column: np.asarray(sample.values[column]) for column in sample.columns}
    n = int(np.asarray(sample.y_true).shape[0])
    block = max(1, min(repeats, MAX_ROWS // max(1, n)))  # repeats per predictor call
    reference_pred = predict(table)
    score_blocks = _block_scorer(spec, task, sample.y_true, reference_pred, block, positive_label)
    reference = sign * score_blocks(reference_pred, 1)[0]
    # Every column but the permuted one, repeated `block` times (built once, shared), frozen:
    # the model may then patch its last input instead of stacking every column again.
    tiled = {
        column: freeze(np.tile(values, (block,) + (1,) * (values.ndim - 1)))
        for column, values in table.items()
    }
    # permutation_importance: RandomState(seed) draws one seed shared by every column.
    column_seed = np.random.RandomState(seed % 2**32).randint(np.iinfo(np.int32).max + 1)
    results = []
    for column in sample.columns:
        state = np.random.RandomState(column_seed)
        original = table[column]
        order = np.arange(original.shape[0])
        permuted = original.copy()
        drops: list[float] = []
        while len(drops) < repeats:
            count = min(block, repeats - len(drops))
            copies = []
            for _ in range(count):
                state.shuffle(order)
                permuted = permuted[order]  # as scikit-learn: each repeat reshuffles the last
                copies.append(permuted)
            stacked = np.concatenate(copies)
            # The last, shorter call (when repeats are split): the first copies of the others.
            part = tiled if count == block else {c: v[: count * n] for c, v in tiled.items()}
            values = score_blocks(predict({**part, column: stacked}), count)
            drops.extend(reference - sign * float(value) for value in values)
        found = np.asarray(drops)
        if np.all(np.isfinite(found)):
            results.append(Permuted(column, float(found.mean()), float(found.std())))
        else:
            results.append(Permuted(column, math.nan, math.nan))
    return tuple(results)


def _block_scorer(
    spec: MetricSpec,
    task: Task,
    y_true: np.ndarray,
    reference: Predictions,
    block: int,
    positive_label: Any,
) -> Callable[[Predictions, int], list[float]]:
    """A function: predictions of ``count`` consecutive copies of the sample -> the metric on
    each copy. Batched over the copies when the metric has an exact batched form that gives
    scikit-learn's value on the unpermuted sample; else ``compute_metric`` per copy."""
    import numpy as np

    y = np.asarray(y_true)
    n = int(y.shape[0])
    y_block = np.tile(y, block)

    def one_by_one(pred: Predictions, count: int) -> list[float]:
        return [
            compute_metric(spec, task, y, _part(pred, k * n, (k + 1) * n), positive_label)
            for k in range(count)
        ]

    def batched(pred: Predictions, count: int) -> list[float] | None:
        if count < block:
            # Pad with copies of the reference, so that every call sees the same `block`-fold
            # truth (a batched form's constants, such as R^2's mean of y, then never change).
            pad = block - count
            pred = _concat(_part(pred, 0, count * n), _repeat(reference, pad))
        if not _finite(pred, spec.uses):
            return None  # scikit-learn rejects non-finite inputs: compute_metric says NaN
        evaluate = batched_metric(spec, task, y_block, pred, positive_label)
        if evaluate is None:
            return None
        idx = np.arange(block * n, dtype=np.int64).reshape(block, n)[:count]
        return [v if math.isfinite(v) else math.nan for v in evaluate(idx).tolist()]

    if n == 0:
        return one_by_one
    exact = compute_metric(spec, task, y, reference, positive_label)
    fast = batched(reference, 1)
    if fast is None or not _same(fast[0], exact):
        return one_by_one

    def score(pred: Predictions, count: int) -> list[float]:
        found = batched(pred, count)
        return one_by_one(pred, count) if found is None else found

    return score


def _same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= _AGREE * max(1.0, abs(b))


def _finite(pred: Predictions, uses: str) -> bool:
    import numpy as np

    if uses == "scores":
        return pred.scores is not None and bool(np.all(np.isfinite(pred.scores)))
    if uses == "values":
        labels = np.asarray(pred.labels)
        return np.issubdtype(labels.dtype, np.number) and bool(np.all(np.isfinite(labels)))
    return True


def _part(pred: Predictions, start: int, stop: int) -> Predictions:
    scores = None if pred.scores is None else pred.scores[start:stop]
    return Predictions(pred.labels[start:stop], scores, pred.classes)


def _repeat(pred: Predictions, times: int) -> Predictions:
    import numpy as np

    scores = None if pred.scores is None else np.tile(pred.scores, (times, 1))
    labels = np.tile(pred.labels, (times,) + (1,) * (np.ndim(pred.labels) - 1))
    return Predictions(labels, scores, pred.classes)


def _concat(first: Predictions, second: Predictions) -> Predictions:
    import numpy as np

    scores = None
    if first.scores is not None and second.scores is not None:
        scores = np.concatenate([first.scores, second.scores])
    return Predictions(np.concatenate([first.labels, second.labels]), scores, first.classes)
