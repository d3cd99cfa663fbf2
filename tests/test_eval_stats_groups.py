"""The eval gate's groups: fairness against fairlearn's own functions (and a model that leans on
the sensitive column fails), permutation importance against scikit-learn's, slice capping, and
labels that are strings or a positive class that is not the last."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
from fairlearn import metrics as flm
from sklearn import metrics as skm
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.inspection import permutation_importance as sk_permutation_importance
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mlops_ci.eval import groups
from mlops_ci.eval.analysis import analyse
from mlops_ci.eval.bootstrap import paired_bootstrap
from mlops_ci.eval.importance import permutation_importance
from mlops_ci.eval.metrics import compute_metric, metric_spec
from mlops_ci.eval.settings import EvalSettings
from mlops_ci.eval.types import EvalRows, FeatureSample, Predictions, Predictor, Task

FAIRNESS = [
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "equal_opportunity_difference",
    "equal_opportunity_ratio",
]


def settings(**extra: Any) -> EvalSettings:
    """An eval section with the given keys."""
    return EvalSettings.model_validate({"data": "e.csv", "label": "y", "features": ["a"], **extra})


def predictor(model: Any, columns: list[str]) -> Predictor:
    """A scikit-learn estimator as the gate's Predictor (a table of columns -> Predictions)."""

    def predict(table: Mapping[str, np.ndarray]) -> Predictions:
        x = np.column_stack([table[c] for c in columns])
        if hasattr(model, "predict_proba"):
            return Predictions(model.predict(x), model.predict_proba(x), tuple(model.classes_))
        return Predictions(model.predict(x), None)

    return predict


def rows_for(
    task: Task, y: np.ndarray, cand: Predictions, base: Predictions | None, **kw: Any
) -> EvalRows:
    """EvalRows around given predictions."""
    return EvalRows(
        task, y, cand, base, kw.pop("groups", {}), kw.pop("sample", None), "sha256:0", "e.csv", **kw
    )


@pytest.fixture(scope="module")
def biased() -> dict[str, Any]:
    """Synthetic, seeded: the label leans on the sensitive column; one model uses it, one not."""
    rng = np.random.default_rng(42)
    n = 4000
    sensitive = rng.choice(["f", "m"], n)
    x = rng.normal(size=(n, 3))
    y = ((x[:, 0] + 0.5 * x[:, 1] + 2.0 * (sensitive == "m") + rng.normal(0, 0.5, n)) > 1.0).astype(
        int
    )
    with_s = np.column_stack([x, sensitive == "m"])
    train, test = slice(0, 2000), slice(2000, n)
    unfair = LogisticRegression().fit(with_s[train], y[train])
    blind = LogisticRegression().fit(x[train], y[train])
    return {
        "y": y[test],
        "sensitive": sensitive[test],
        "unfair": Predictions(
            unfair.predict(with_s[test]), unfair.predict_proba(with_s[test]), (0, 1)
        ),
        "blind": Predictions(blind.predict(x[test]), blind.predict_proba(x[test]), (0, 1)),
    }


def test_fairness_equals_fairlearn_and_the_biased_model_fails(biased: dict[str, Any]) -> None:
    y, sensitive = biased["y"], biased["sensitive"]
    specs = [
        {"metric": m, "by": "sex", **({"min": 0.8} if m.endswith("ratio") else {"max": 0.1})}
        for m in FAIRNESS
    ]
    rows = rows_for(
        "binary", y, biased["unfair"], biased["blind"], groups={"sex": sensitive}, positive_label=1
    )
    outcome = analyse(
        rows,
        settings(fairness=specs, resamples=100),
        predict_candidate=None,
        predict_baseline=None,
        baseline_label="b",
    )  # type: ignore[arg-type]
    for result in outcome.fairness:
        function = getattr(flm, result.metric)
        assert result.candidate == function(
            y, biased["unfair"].labels, sensitive_features=sensitive
        )
        assert result.baseline == function(y, biased["blind"].labels, sensitive_features=sensitive)
    by_metric = {r.metric: r for r in outcome.fairness}
    assert by_metric["demographic_parity_difference"].candidate > 0.3
    assert not by_metric["demographic_parity_difference"].passed
    assert outcome.verdict == "fail"
    # Without a baseline nothing is compared, but an unfair model still fails.
    alone = rows_for("binary", y, biased["unfair"], None, groups={"sex": sensitive})
    assert (
        analyse(
            alone,
            settings(fairness=specs[:1]),
            predict_candidate=None,
            predict_baseline=None,
            baseline_label=None,
        ).verdict
        == "fail"
    )  # type: ignore[arg-type]


def test_fairness_uses_the_positive_label_and_string_classes(biased: dict[str, Any]) -> None:
    y = np.where(biased["y"] == 1, "yes", "no")
    p = biased["unfair"]
    named = Predictions(np.where(p.labels == 1, "yes", "no"), p.scores, ("no", "yes"))
    rows = rows_for(
        "binary", y, named, None, groups={"sex": biased["sensitive"]}, positive_label="no"
    )
    (result,) = groups.fairness_results(
        rows,
        settings(
            fairness=[{"metric": "equal_opportunity_difference", "by": "sex", "max": 0.1}]
        ).fairness,
    )
    expected = flm.equal_opportunity_difference(
        (y == "no").astype(int),
        (named.labels == "no").astype(int),
        sensitive_features=biased["sensitive"],
    )
    assert result.candidate == pytest.approx(expected, abs=1e-12)
    f1 = compute_metric(metric_spec("f1", "binary"), "binary", y, named, "no")
    assert f1 == skm.f1_score(y, named.labels, pos_label="no")
    auc = compute_metric(metric_spec("roc_auc", "binary"), "binary", y, named, "no")
    assert auc == pytest.approx(skm.roc_auc_score(y == "no", p.scores[:, 0]), abs=1e-12)
    # The bootstrap's exact shortcuts understand string classes too.
    specs = [metric_spec(n, "binary") for n in ("f1", "roc_auc", "matthews_corrcoef")]
    for paired in paired_bootstrap(
        specs, "binary", y, named, named, "no", confidence=0.9, resamples=100, seed=1
    ):
        assert (paired.low, paired.high) == (0.0, 0.0)


def test_missing_group_column_is_a_value_error(biased: dict[str, Any]) -> None:
    rows = rows_for("binary", biased["y"], biased["blind"], None)
    with pytest.raises(ValueError, match="'region'"):
        analyse(
            rows,
            settings(slices=["region"]),
            predict_candidate=None,
            predict_baseline=None,
            baseline_label=None,
        )  # type: ignore[arg-type]


def test_slice_groups_are_capped_and_sorted(biased: dict[str, Any]) -> None:
    y = biased["y"]
    many = np.array([f"g{i % 130:03d}" for i in range(y.shape[0])])
    rows = rows_for("binary", y, biased["blind"], None, groups={"id": many})
    outcome = analyse(
        rows,
        settings(slices=["id"], metrics=["accuracy"]),
        predict_candidate=None,
        predict_baseline=None,
        baseline_label=None,
    )  # type: ignore[arg-type]
    names = [s.group for s in outcome.slices]
    assert len(names) == groups.MAX_GROUPS and names == sorted(names)
    assert any("130 groups" in note for note in outcome.notes)


@pytest.mark.parametrize(("metric", "scoring"), [("accuracy", "accuracy"), ("roc_auc", "roc_auc")])
def test_permutation_importance_equals_sklearn(metric: str, scoring: str) -> None:
    x, y = load_breast_cancer(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x[::2], y[::2])
    sample_x, sample_y = x[1::2][:150], y[1::2][:150]
    columns = [f"c{i}" for i in range(x.shape[1])]
    sample = FeatureSample(
        tuple(columns), {c: sample_x[:, i] for i, c in enumerate(columns)}, sample_y
    )
    ours = permutation_importance(
        predictor(model, columns),
        sample,
        metric_spec(metric, "binary"),
        "binary",
        repeats=3,
        seed=11,
    )
    theirs = sk_permutation_importance(
        model, sample_x, sample_y, scoring=scoring, n_repeats=3, random_state=11
    )
    np.testing.assert_allclose([p.mean for p in ours], theirs.importances_mean, rtol=0, atol=1e-12)
    np.testing.assert_allclose([p.std for p in ours], theirs.importances_std, rtol=0, atol=1e-12)


def test_importance_of_an_error_metric_and_in_the_outcome() -> None:
    x, y = load_diabetes(return_X_y=True)
    columns = [f"c{i}" for i in range(x.shape[1])]
    good, weak = LinearRegression().fit(x[::2], y[::2]), LinearRegression().fit(x[::2, :4], y[::2])
    test_x, test_y = x[1::2], y[1::2]
    sample = FeatureSample(tuple(columns), {c: test_x[:, i] for i, c in enumerate(columns)}, test_y)
    ours = permutation_importance(
        predictor(good, columns),
        sample,
        metric_spec("rmse", "regression"),
        "regression",
        repeats=4,
        seed=3,
    )
    theirs = sk_permutation_importance(
        good, test_x, test_y, scoring="neg_root_mean_squared_error", n_repeats=4, random_state=3
    )
    np.testing.assert_allclose([p.mean for p in ours], theirs.importances_mean, rtol=0, atol=1e-9)

    def weak_predict(table: Mapping[str, np.ndarray]) -> Predictions:
        return Predictions(weak.predict(np.column_stack([table[c] for c in columns[:4]])), None)

    cand = Predictions(good.predict(test_x), None)
    base = Predictions(weak.predict(test_x[:, :4]), None)
    rows = rows_for("regression", test_y, cand, base, sample=sample)
    outcome = analyse(
        rows,
        settings(gate={"rmse": {"max_rise": 5.0}}, importance={"repeats": 2}, resamples=200),
        predict_candidate=predictor(good, columns),
        predict_baseline=weak_predict,
        baseline_label="b",
    )
    assert outcome.importance_metric == "rmse"
    means = [i.candidate for i in outcome.importance]
    assert means == sorted(means, reverse=True)
    unused = {i.feature: i.baseline for i in outcome.importance}
    assert unused["c9"] == 0.0  # the baseline never reads column c9
    (rmse,) = [m for m in outcome.metrics if m.name == "rmse"]
    assert rmse.verdict == "pass" and rmse.delta is not None and rmse.delta < 0
