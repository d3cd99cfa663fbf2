"""Permutation importance, with the semantics (and the random stream) of scikit-learn's.

:func:`sklearn.inspection.permutation_importance` needs an estimator and a 2-D array; the gate
has a :data:`~mlops_ci.eval.types.Predictor` over a table of named columns (several ONNX inputs,
mixed types), so the loop is reproduced here: the score on the sample, then for each column and
each repeat the score with that column permuted; importance = score - permuted score (a worse
error counts as a positive importance), mean and standard deviation over the repeats. The
permutations are drawn exactly as scikit-learn draws them (a ``RandomState`` seeded from the
seed gives one seed shared by every column; each repeat reshuffles the previous permutation), so
for the same seed the figures equal ``permutation_importance(..., random_state=seed)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_ci.eval.metrics import MetricSpec, compute_metric
from mlops_ci.eval.types import FeatureSample, Predictor, Task

if TYPE_CHECKING:
    import numpy as np


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

    def score(table: dict[str, np.ndarray]) -> float:
        value = compute_metric(spec, task, sample.y_true, predict(table), positive_label)
        return sign * value

    table = {column: np.asarray(sample.values[column]) for column in sample.columns}
    reference = score(table)
    # permutation_importance: RandomState(seed) draws one seed shared by every column.
    column_seed = np.random.RandomState(seed % 2**32).randint(np.iinfo(np.int32).max + 1)
    results = []
    for column in sample.columns:
        state = np.random.RandomState(column_seed)
        original = table[column]
        order = np.arange(original.shape[0])
        permuted = original.copy()
        drops = []
        for _ in range(repeats):
            state.shuffle(order)
            permuted = permuted[order]  # as scikit-learn: each repeat reshuffles the last
            drops.append(reference - score({**table, column: permuted}))
        values = np.asarray(drops)
        if np.all(np.isfinite(values)):
            results.append(Permuted(column, float(values.mean()), float(values.std())))
        else:
            results.append(Permuted(column, math.nan, math.nan))
    return tuple(results)
