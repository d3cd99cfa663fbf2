"""The eval gate's statistics on hostile inputs: no rows, NaN and inf outputs, float32 scores,
labels outside the classes, end to end on multiclass (iris) and regression (diabetes) with
slices, error-metric slice limits."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from mlops_ci.eval.analysis import analyse
from mlops_ci.eval.batched import batched_metric
from mlops_ci.eval.metrics import compute_metric, metric_spec
from mlops_ci.eval.settings import EvalSettings
from mlops_ci.eval.types import EvalOutcome, EvalRows, Predictions, Task


def settings(**extra: Any) -> EvalSettings:
    """An eval section with the given keys."""
    return EvalSettings.model_validate(
        {"data": "e.npz", "label": "y", "features": ["a"], "resamples": 200, **extra}
    )


def run(
    task: Task,
    y: np.ndarray,
    cand: Predictions,
    base: Predictions | None,
    config: EvalSettings,
    **groups: np.ndarray,
) -> EvalOutcome:
    """analyse() on given predictions (no importance sample)."""
    rows = EvalRows(task, y, cand, base, groups, None, "sha256:0", "e.npz")
    return analyse(rows, config, predict_candidate=None, predict_baseline=None, baseline_label="b")  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def iris() -> tuple[np.ndarray, Predictions, Predictions]:
    x, y = load_iris(return_X_y=True)
    train = np.arange(y.shape[0]) % 2 == 0
    good = LogisticRegression(max_iter=1000).fit(x[train], y[train])
    weak = DecisionTreeClassifier(max_depth=1, random_state=0).fit(x[train], y[train])
    p = lambda m: Predictions(m.predict(x[~train]), m.predict_proba(x[~train]), tuple(m.classes_))  # noqa: E731
    return y[~train], p(good), p(weak)


def test_no_rows_is_inconclusive_not_a_pass(iris: Any) -> None:
    y, good, _ = iris
    empty = Predictions(good.labels[:0], good.scores[:0], good.classes)
    outcome = run("multiclass", y[:0], empty, empty, settings(gate={"accuracy": {"max_drop": 0.0}}))
    assert outcome.rows == 0 and outcome.verdict == "inconclusive"
    assert all(math.isnan(m.candidate) for m in outcome.metrics)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_scores_are_not_computable(iris: Any, bad: float) -> None:
    y, good, weak = iris
    scores = good.scores.copy()
    scores[3, 0] = bad
    broken = Predictions(good.labels, scores, good.classes)
    outcome = run(
        "multiclass",
        y,
        broken,
        weak,
        settings(gate={"log_loss": {"max_rise": 0.1}, "accuracy": {"max_drop": 0.5}}),
    )
    verdicts = {m.name: m.verdict for m in outcome.metrics}
    assert verdicts["log_loss"] == "inconclusive" and verdicts["accuracy"] == "pass"
    assert outcome.verdict == "inconclusive"


def test_float32_scores_batch_like_sklearn(iris: Any) -> None:
    y, good, _ = iris
    single = Predictions(good.labels, good.scores.astype(np.float32), good.classes)
    idx = np.random.default_rng(0).integers(0, y.shape[0], size=(8, y.shape[0]))
    for name in ("log_loss", "roc_auc_ovr"):
        spec = metric_spec(name, "multiclass")
        got = batched_metric(spec, "multiclass", y, single, None)(idx)
        for row, values in enumerate(idx):
            weight = np.bincount(values, minlength=y.shape[0]).astype(np.float64)
            assert got[row] == pytest.approx(
                compute_metric(spec, "multiclass", y, single, None, weight), rel=1e-6
            )


def test_labels_outside_the_classes_fall_back_to_sklearn(iris: Any) -> None:
    y, good, weak = iris
    odd = good.labels.copy()
    odd[:5] = 7  # a label the model's classes do not have
    strange = Predictions(odd, good.scores, good.classes)
    outcome = run("multiclass", y, strange, weak, settings(gate={"accuracy": {"max_drop": 0.5}}))
    (accuracy,) = [m for m in outcome.metrics if m.name == "accuracy"]
    assert accuracy.candidate == pytest.approx(float(np.mean(odd == y)))
    assert accuracy.low is not None and accuracy.verdict == "pass"


def test_multiclass_end_to_end_with_slices(iris: Any) -> None:
    y, good, weak = iris
    half = np.where(np.arange(y.shape[0]) % 2 == 0, "a", "b")
    outcome = run(
        "multiclass",
        y,
        good,
        weak,
        settings(
            gate={"f1_macro": {"max_drop": 0.02}}, slices=["half"], slice_gate={"min_rows": 30}
        ),
        half=half,
    )
    assert [m.name for m in outcome.metrics] == ["accuracy", "f1_macro", "log_loss"]
    assert {s.metric for s in outcome.slices} == {"f1_macro"} and len(outcome.slices) == 2
    assert outcome.verdict == "pass"  # the logistic regression beats a depth-1 tree


def test_regression_slices_use_the_error_metrics_own_limit() -> None:
    x, y = load_diabetes(return_X_y=True)
    model = LinearRegression().fit(x[::2], y[::2])
    base = Predictions(model.predict(x[1::2]), None)
    worse = Predictions(
        base.labels + np.where(np.arange(base.labels.shape[0]) % 2 == 0, 3.0, 0.0), None
    )
    half = np.where(np.arange(base.labels.shape[0]) % 2 == 0, "shifted", "same")
    target = y[1::2].astype(np.float64)
    # A rise of ~1 rmse point in "shifted": within max_rise 5, far beyond the 0.03 slice default.
    outcome = run(
        "regression",
        target,
        worse,
        base,
        settings(gate={"rmse": {"max_rise": 5.0}}, slices=["half"], slice_gate={"min_rows": 50}),
        half=half,
    )
    assert {s.group: s.verdict for s in outcome.slices} == {"same": "pass", "shifted": "pass"}
    strict = run(
        "regression",
        target,
        worse,
        base,
        settings(gate={"rmse": {"max_rise": 0.1}}, slices=["half"], slice_gate={"min_rows": 50}),
        half=half,
    )
    assert {s.group: s.verdict for s in strict.slices}["shifted"] == "fail"
    assert {m.name: m.verdict for m in strict.metrics}["rmse"] == "fail"
