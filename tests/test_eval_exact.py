"""The eval gate's exact numpy forms against their oracles (issue 16): ``compute_metric`` (the
numpy form where it applies) equals ``sklearn.metrics`` through :func:`sklearn_metric`, and
``fairness_value`` equals fairlearn's own function, on random inputs drawn with their edge
cases: one class only, a constant prediction, tied scores, string and integer classes, labels
outside the classes, truth of another kind than the classes, non-finite scores, tiny samples."""

from __future__ import annotations

import math
import warnings
from typing import Any

import fairlearn.metrics
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_ci.eval import groups
from mlops_ci.eval.metrics import (
    _exact_metric,
    compute_metric,
    metric_names,
    metric_spec,
    sklearn_metric,
)
from mlops_ci.eval.types import Predictions, Task

CLASS_SETS: dict[str, tuple[Any, ...]] = {
    "int": (0, 1),
    "text": ("no", "yes"),
    "three": (0, 1, 2),
    "text3": ("a", "b", "c"),
}


def _same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= 1e-12 * max(1.0, abs(b))


@st.composite
def classification(draw: st.DrawFn) -> tuple[Task, np.ndarray, Predictions, Any]:
    kind = draw(st.sampled_from(sorted(CLASS_SETS)))
    classes = CLASS_SETS[kind]
    task: Task = "binary" if len(classes) == 2 else "multiclass"
    rows = draw(st.integers(1, 60))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    truth_pool = list(classes)
    if draw(st.booleans()):
        truth_pool = truth_pool[: draw(st.integers(1, len(truth_pool)))]  # one class only...
    y = np.asarray([truth_pool[i] for i in rng.integers(0, len(truth_pool), rows)], dtype=object)
    if kind == "int":
        y = y.astype(draw(st.sampled_from(["int64", "float64", "object"])))
    if draw(st.integers(0, 9)) == 0:  # truth of another kind: "1" against the class 1
        y = y.astype(str).astype(object)
    scores = rng.dirichlet(np.ones(len(classes)), rows)
    if draw(st.booleans()):
        scores = np.round(scores, draw(st.integers(0, 2)))  # ties, and rows not summing to 1
    if draw(st.integers(0, 9)) == 0:
        scores[rng.integers(0, rows)] = draw(st.sampled_from([np.nan, np.inf]))
    scores = scores.astype(draw(st.sampled_from(["float64", "float32"])))
    picked = np.nan_to_num(scores, nan=0.0, posinf=1.0).argmax(axis=1)
    labels = np.asarray([classes[i] for i in picked], dtype=object)
    if draw(st.booleans()):
        labels[:] = classes[0]  # a constant prediction
    if draw(st.integers(0, 9)) == 0:
        labels[0] = "unseen" if kind.startswith("text") else 7  # outside the classes
    if kind in ("int", "three") and all(isinstance(v, int) for v in labels):
        labels = labels.astype(np.int64)
    positive = draw(st.sampled_from([None, classes[0]]))
    return task, y, Predictions(labels, scores, classes), positive


@settings(max_examples=300, deadline=None)
@given(classification())
def test_classification_metrics_equal_sklearn(
    case: tuple[Task, np.ndarray, Predictions, Any],
) -> None:
    task, y, pred, positive = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in metric_names(task):
            spec = metric_spec(name, task)
            got = compute_metric(spec, task, y, pred, positive)
            expected = sklearn_metric(spec, task, y, pred, positive)
            assert _same(got, expected), (name, got, expected)


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 50),
    st.integers(0, 2**32 - 1),
    st.sampled_from([0.0, np.nan, np.inf]),
    st.booleans(),
)
def test_regression_metrics_equal_sklearn(rows: int, seed: int, bad: float, constant: bool) -> None:
    rng = np.random.default_rng(seed)
    y = np.full(rows, 2.5) if constant else rng.normal(size=rows)
    predicted = y + rng.normal(scale=0.3, size=rows)
    if bad != 0.0:
        predicted[rng.integers(0, rows)] = bad
    pred = Predictions(predicted, None, ())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in metric_names("regression"):
            spec = metric_spec(name, "regression")
            got = compute_metric(spec, "regression", y, pred)
            expected = sklearn_metric(spec, "regression", y, pred)
            assert _same(got, expected), (name, got, expected)


def test_the_common_metrics_take_the_exact_path() -> None:
    """The demo's metrics (and the defaults) never import scikit-learn on ordinary outputs."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    scores = rng.dirichlet(np.ones(2), 500).astype(np.float32)
    pred = Predictions(scores.argmax(axis=1), scores, (0, 1))
    for name in ("roc_auc", "accuracy", "f1", "precision", "recall", "balanced_accuracy"):
        assert _exact_metric(metric_spec(name, "binary"), "binary", y, pred, None) is not None
    regression = Predictions(rng.normal(size=500), None, ())
    for name in ("rmse", "mae", "r2", "mse"):
        spec = metric_spec(name, "regression")
        assert _exact_metric(spec, "regression", rng.normal(size=500), regression, None) is not None


@st.composite
def fairness_case(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = draw(st.integers(2, 80))  # fairlearn squeezes one row into a scalar, and fails
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    group_count = draw(st.integers(1, 5))
    sensitive = np.asarray([f"g{i}" for i in rng.integers(0, group_count, rows)], dtype=object)
    p_true, p_pred = (
        draw(st.sampled_from([0.0, 0.3, 0.5, 1.0])),
        draw(st.sampled_from([0.0, 0.4, 1.0])),
    )
    truth = (rng.random(rows) < p_true).astype(np.int64)
    predicted = (rng.random(rows) < p_pred).astype(np.int64)
    if draw(st.booleans()):
        predicted = np.where(rng.random(rows) < 0.8, truth, predicted)
    return truth, predicted, sensitive


@pytest.mark.filterwarnings("ignore")
@settings(max_examples=300, deadline=None)
@given(fairness_case(), st.sampled_from(sorted(groups.FAIRNESS_FUNCTIONS)))
def test_fairness_values_equal_fairlearns(
    case: tuple[np.ndarray, np.ndarray, np.ndarray], metric: str
) -> None:
    truth, predicted, sensitive = case
    got = groups.fairness_value(metric, truth, predicted, sensitive)
    function = getattr(fairlearn.metrics, metric)
    try:  # fairlearn on every row, not the counted combinations fairlearn_value passes it
        expected = float(function(truth, predicted, sensitive_features=sensitive))
    except (ValueError, ZeroDivisionError):
        expected = math.nan
    assert _same(got, expected), (metric, got, expected)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 30),
    st.integers(1, 6),
    st.integers(0, 2**32 - 1),
    st.sampled_from([1.0, 50.0, 1e4]),
)
def test_softmax_is_scipys(rows: int, width: int, seed: int, scale: float) -> None:
    from scipy.special import softmax

    from mlops_ci.eval.model import softmax_rows

    scores = (np.random.default_rng(seed).normal(size=(rows, width)) * scale).astype(np.float32)
    expected = np.asarray(softmax(scores, axis=1), dtype=np.float64)
    assert np.array_equal(softmax_rows(scores), expected)
