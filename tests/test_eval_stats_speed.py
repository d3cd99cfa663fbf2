"""The eval gate's fast paths give scikit-learn's figures: ROC AUC resamples by every way of
counting (shared row counts, per distinct score, sorting) with and without ties; permutation
importance with all repeats of a column in one predictor call, batched scoring, split calls and
the scikit-learn fallback; and a fairness value that cannot be computed never passes."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.inspection import permutation_importance as sk_permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mlops_ci.eval import importance as importance_module
from mlops_ci.eval.analysis import overall_verdict
from mlops_ci.eval.auc import BatchedAUC, RowCounter
from mlops_ci.eval.importance import permutation_importance
from mlops_ci.eval.metrics import compute_metric, metric_spec
from mlops_ci.eval.types import FairnessResult, FeatureSample, Predictions


@pytest.fixture(scope="module")
def cancer() -> dict[str, Any]:
    """A fitted pipeline, its sample of 120 rows as a column table, and the truth."""
    x, y = load_breast_cancer(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x[::2], y[::2])
    sample_x, sample_y = x[1::2][:120], y[1::2][:120]
    columns = [f"c{i}" for i in range(x.shape[1])]
    values = {c: sample_x[:, i] for i, c in enumerate(columns)}
    return {"model": model, "x": sample_x, "y": sample_y, "columns": columns, "values": values}


def counting_predictor(
    model: Any, columns: list[str], calls: list[int], used: int | None = None
) -> Any:
    """A scikit-learn model as a Predictor that records each call's rows; reads the first
    ``used`` columns only (the others are passed as zeros)."""

    def predict(table: Mapping[str, np.ndarray]) -> Predictions:
        x = np.column_stack([table[c] for c in columns])
        calls.append(x.shape[0])
        if used is not None:
            x[:, used:] = 0.0
        return Predictions(model.predict(x), model.predict_proba(x), tuple(model.classes_))

    return predict


@pytest.mark.parametrize("decimals", [None, 2, 1])
@pytest.mark.parametrize("drawn", [300, 120, 40])
def test_auc_every_way_equals_sklearn(decimals: int | None, drawn: int) -> None:
    rng = np.random.default_rng(5)
    n = 300
    score = rng.random(n)
    positive = rng.random(n) < score
    if decimals is not None:
        score = np.round(score, decimals)  # ties, some between a positive and a negative
    idx = rng.integers(0, n, size=(25, drawn))
    y = positive.astype(int)
    pred = Predictions(y, np.column_stack([1 - score, score]), (0, 1))
    spec = metric_spec("roc_auc", "binary")
    counter = RowCounter(n)
    ways = {
        path: BatchedAUC(positive, score, path, counter)(idx)
        for path in ("rows", "counts", "sorting")
    }
    ways["auto"] = BatchedAUC(positive, score)(idx)
    for row, values in enumerate(idx):
        weight = np.bincount(values, minlength=n).astype(np.float64)
        expected = compute_metric(spec, "binary", y, pred, None, weight)
        for path, got in ways.items():
            assert got[row] == pytest.approx(expected, rel=0, abs=1e-12), path
    # Integer counts: every way gives the same bits; one class only is NaN.
    assert all(np.array_equal(ways["rows"], got, equal_nan=True) for got in ways.values())
    one_class = BatchedAUC(np.zeros(n, bool), score, "rows")(idx[:2])
    assert np.isnan(one_class).all()


def test_row_counter_is_shared_per_chunk() -> None:
    counter = RowCounter(10)
    idx = np.array([[0, 0, 9], [3, 4, 5]])
    first = counter(idx)
    assert first is counter(idx)  # the same chunk: counted once
    assert first.tolist()[0] == [2, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    assert counter(idx.copy()) is not first


@pytest.mark.parametrize("metric", ["roc_auc", "accuracy", "log_loss", "average_precision"])
def test_importance_one_call_per_column_equals_sklearn(
    cancer: dict[str, Any], metric: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    scoring = {"log_loss": "neg_log_loss"}.get(metric, metric)
    columns, rows = cancer["columns"], cancer["y"].shape[0]
    theirs = sk_permutation_importance(
        cancer["model"], cancer["x"], cancer["y"], scoring=scoring, n_repeats=4, random_state=7
    )
    sample = FeatureSample(tuple(columns), cancer["values"], cancer["y"])
    spec = metric_spec(metric, "binary")
    for max_rows, per_column in ((10_000, [rows * 4]), (rows * 3, [rows * 3, rows])):
        # All four repeats in one call; or, with fewer rows a call, three and then one.
        monkeypatch.setattr(importance_module, "MAX_ROWS", max_rows)
        calls: list[int] = []
        predict = counting_predictor(cancer["model"], columns, calls)
        ours = permutation_importance(predict, sample, spec, "binary", repeats=4, seed=7)
        assert calls == [rows] + per_column * len(columns)
        np.testing.assert_allclose([p.mean for p in ours], theirs.importances_mean, atol=1e-12)
        np.testing.assert_allclose([p.std for p in ours], theirs.importances_std, atol=1e-12)


def test_importance_of_unread_columns_is_exactly_zero(cancer: dict[str, Any]) -> None:
    columns = cancer["columns"]
    sample = FeatureSample(tuple(columns), cancer["values"], cancer["y"])
    for metric in ("roc_auc", "accuracy", "log_loss"):
        predict = counting_predictor(cancer["model"], columns, [], used=10)
        ours = permutation_importance(
            predict, sample, metric_spec(metric, "binary"), "binary", repeats=3, seed=1
        )
        assert all(p.mean == 0.0 and p.std == 0.0 for p in ours[10:]), metric


def test_importance_with_non_finite_scores_is_nan(cancer: dict[str, Any]) -> None:
    columns = cancer["columns"]
    sample = FeatureSample(tuple(columns), cancer["values"], cancer["y"])

    def broken(table: Mapping[str, np.ndarray]) -> Predictions:
        rows = len(table[columns[0]])
        scores = np.full((rows, 2), 0.5)
        scores[0] = np.nan
        return Predictions(np.zeros(rows, int), scores, (0, 1))

    ours = permutation_importance(
        broken, sample, metric_spec("roc_auc", "binary"), "binary", repeats=2, seed=0
    )
    assert all(math.isnan(p.mean) and math.isnan(p.std) for p in ours)


def test_uncomputable_fairness_never_passes_and_is_inconclusive() -> None:
    nan = FairnessResult("demographic_parity_difference", "g", math.nan, 0.1, max=0.2)
    assert not nan.passed
    assert not FairnessResult("demographic_parity_ratio", "g", math.nan, min=0.8).passed
    assert not FairnessResult("demographic_parity_ratio", "g", math.nan).passed  # no limit
    assert FairnessResult("demographic_parity_difference", "g", 0.1, max=0.2).passed
    assert not FairnessResult("demographic_parity_difference", "g", 0.3, max=0.2).passed
    # Not computable: the verdict is inconclusive (never a pass), as for a gated metric.
    assert overall_verdict([], [], [nan], has_baseline=True) == "inconclusive"
    assert overall_verdict([], [], [nan], has_baseline=False) == "none"


@pytest.mark.parametrize("metric", ["r2", "rmse", "mae"])
def test_regression_importance_split_calls_equal_sklearn(
    metric: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import LinearRegression

    x, y = load_diabetes(return_X_y=True)
    model = LinearRegression().fit(x[::2, :6], y[::2])
    test_x, test_y = x[1::2], y[1::2]
    columns = [f"c{i}" for i in range(x.shape[1])]
    sample = FeatureSample(tuple(columns), {c: test_x[:, i] for i, c in enumerate(columns)}, test_y)
    calls: list[int] = []

    def predict(table: Mapping[str, np.ndarray]) -> Predictions:
        calls.append(len(table["c0"]))
        return Predictions(model.predict(np.column_stack([table[c] for c in columns[:6]])), None)

    rows = test_y.shape[0]
    monkeypatch.setattr(importance_module, "MAX_ROWS", rows * 2)  # repeats 2 + 1 per column
    ours = permutation_importance(
        predict, sample, metric_spec(metric, "regression"), "regression", repeats=3, seed=4
    )
    assert calls == [rows] + [rows * 2, rows] * len(columns)
    scoring = {"r2": "r2", "rmse": "neg_root_mean_squared_error"}.get(
        metric, "neg_mean_absolute_error"
    )
    full = LinearRegression().fit(x[::2], y[::2])
    full.coef_[6:] = 0.0
    full.coef_[:6], full.intercept_ = model.coef_, model.intercept_
    theirs = sk_permutation_importance(
        full, test_x, test_y, scoring=scoring, n_repeats=3, random_state=4
    )
    np.testing.assert_allclose([p.mean for p in ours], theirs.importances_mean, atol=1e-9)
    assert all(p.mean == 0.0 and p.std == 0.0 for p in ours[6:])  # unread: exactly zero
