"""The eval gate's statistics: metrics against sklearn.metrics, the paired bootstrap and its
exact shortcuts, verdict edges, slices, fairness against fairlearn, permutation importance
against scikit-learn's, and the analysis' determinism. Models are scikit-learn's, trained on
the datasets that ship with it; inputs are their predict/predict_proba outputs."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris, load_wine
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from mlops_ci.eval import bootstrap
from mlops_ci.eval.analysis import analyse, validate
from mlops_ci.eval.batched import batched_metric, resample_sums
from mlops_ci.eval.bootstrap import compress, decide, paired_bootstrap
from mlops_ci.eval.metrics import compute_metric, default_metrics, metric_names, metric_spec
from mlops_ci.eval.settings import EvalSettings
from mlops_ci.eval.types import EvalOutcome, EvalRows, Predictions, Task


def predictions(model: Any, x: np.ndarray) -> Predictions:
    """A fitted scikit-learn model's outputs as the gate receives them."""
    if hasattr(model, "predict_proba"):
        return Predictions(model.predict(x), model.predict_proba(x), tuple(model.classes_))
    return Predictions(model.predict(x), None)


def settings(**extra: Any) -> EvalSettings:
    """An eval section with the given keys."""
    return EvalSettings.model_validate(
        {"data": "eval.parquet", "label": "y", "features": ["a"], **extra}
    )


def eval_rows(
    task: Task, y: np.ndarray, cand: Predictions, base: Predictions | None, **kw: Any
) -> EvalRows:
    """EvalRows around given predictions."""
    return EvalRows(
        task,
        y,
        cand,
        base,
        kw.pop("groups", {}),
        kw.pop("sample", None),
        "sha256:0",
        "eval.parquet",
        **kw,
    )


@pytest.fixture(scope="module")
def cancer() -> tuple[np.ndarray, Predictions, Predictions]:
    x, y = load_breast_cancer(return_X_y=True)
    rng = np.random.default_rng(1)
    train = rng.random(y.shape[0]) < 0.5
    good = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x[train], y[train])
    weak = DecisionTreeClassifier(max_depth=2, random_state=0).fit(x[train], y[train])
    return y[~train], predictions(good, x[~train]), predictions(weak, x[~train])


@pytest.fixture(scope="module")
def wine() -> tuple[np.ndarray, Predictions, Predictions]:
    x, y = load_wine(return_X_y=True)
    train = np.arange(y.shape[0]) % 2 == 0
    good = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x[train], y[train])
    weak = DecisionTreeClassifier(max_depth=2, random_state=0).fit(x[train], y[train])
    return y[~train], predictions(good, x[~train]), predictions(weak, x[~train])


def multiclass(loader: Any) -> tuple[np.ndarray, Predictions, Predictions]:
    """A good and a weak classifier of a bundled multiclass dataset, on its held-out half."""
    x, y = loader(return_X_y=True)
    train = np.arange(y.shape[0]) % 2 == 0
    good = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(
        x[train], y[train]
    )
    weak = DecisionTreeClassifier(max_depth=3, random_state=0).fit(x[train], y[train])
    return y[~train], predictions(good, x[~train]), predictions(weak, x[~train])


@pytest.fixture(scope="module")
def diabetes() -> tuple[np.ndarray, Predictions, Predictions]:
    x, y = load_diabetes(return_X_y=True)
    train = np.arange(y.shape[0]) % 2 == 0
    good = LinearRegression().fit(x[train], y[train])
    weak = DecisionTreeRegressor(max_depth=3, random_state=0).fit(x[train], y[train])
    return y[~train].astype(np.float64), predictions(good, x[~train]), predictions(weak, x[~train])


def direct(name: str, y: np.ndarray, p: Predictions, task: Task) -> float:
    """The metric written out as a user would call sklearn.metrics on predict/predict_proba."""
    labels, proba = p.labels, p.scores
    classes = list(p.classes)
    one = proba[:, -1] if proba is not None else None
    calls: dict[str, Any] = {
        "accuracy": lambda: skm.accuracy_score(y, labels),
        "balanced_accuracy": lambda: skm.balanced_accuracy_score(y, labels),
        "f1": lambda: skm.f1_score(y, labels),
        "precision": lambda: skm.precision_score(y, labels),
        "recall": lambda: skm.recall_score(y, labels),
        "matthews_corrcoef": lambda: skm.matthews_corrcoef(y, labels),
        "cohen_kappa": lambda: skm.cohen_kappa_score(y, labels),
        "roc_auc": lambda: skm.roc_auc_score(y, one),
        "average_precision": lambda: skm.average_precision_score(y, one),
        "brier_score_loss": lambda: skm.brier_score_loss(y, one),
        "log_loss": lambda: skm.log_loss(y, proba),
        "rmse": lambda: skm.root_mean_squared_error(y, labels),
        "mse": lambda: skm.mean_squared_error(y, labels),
        "mae": lambda: skm.mean_absolute_error(y, labels),
        "r2": lambda: skm.r2_score(y, labels),
        "mape": lambda: skm.mean_absolute_percentage_error(y, labels),
        "median_absolute_error": lambda: skm.median_absolute_error(y, labels),
        "explained_variance": lambda: skm.explained_variance_score(y, labels),
    }
    for base, function in (
        ("f1", skm.f1_score),
        ("precision", skm.precision_score),
        ("recall", skm.recall_score),
    ):
        for average in ("macro", "micro", "weighted"):
            calls[f"{base}_{average}"] = lambda f=function, a=average: f(y, labels, average=a)
    for scheme in ("ovr", "ovo"):
        calls[f"roc_auc_{scheme}"] = (
            (lambda: skm.roc_auc_score(y, one))
            if task == "binary"
            else (lambda s=scheme: skm.roc_auc_score(y, proba, multi_class=s, labels=classes))
        )
    return float(calls[name]())


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.UndefinedMetricWarning")
@pytest.mark.parametrize(
    ("task", "dataset"),
    [
        ("binary", "cancer"),
        ("multiclass", "wine"),
        ("multiclass", "iris"),
        ("multiclass", "digits"),
        ("regression", "diabetes"),
    ],
)
def test_every_metric_equals_sklearn_on_predict_outputs(
    task: Task, dataset: str, cancer: Any, wine: Any, diabetes: Any
) -> None:
    loaders = {"iris": load_iris, "digits": load_digits}
    fixtures = {"cancer": cancer, "wine": wine, "diabetes": diabetes}
    y, good, weak = fixtures[dataset] if dataset in fixtures else multiclass(loaders[dataset])
    for name in metric_names(task):
        spec = metric_spec(name, task)
        for p in (good, weak):
            assert compute_metric(spec, task, y, p) == pytest.approx(
                direct(name, y, p, task), abs=1e-9
            ), name
    assert set(default_metrics(task)) <= set(metric_names(task))


def test_metric_names_aliases_and_errors() -> None:
    spec = metric_spec("root_mean_squared_error", "regression")
    assert (spec.name, spec.canonical, spec.higher_is_better, spec.uses) == (
        "root_mean_squared_error",
        "rmse",
        False,
        "values",
    )
    assert metric_spec("roc_auc", "binary").uses == "scores"
    with pytest.raises(ValueError, match="did you mean accuracy"):
        metric_spec("acuracy", "binary")
    with pytest.raises(ValueError, match="does not apply to a binary task"):
        metric_spec("rmse", "binary")
    with pytest.raises(ValueError, match="did you mean f1_macro"):
        metric_spec("f1", "multiclass")
    with pytest.raises(ValueError, match="did you mean roc_auc_ovr"):
        metric_spec("roc_auc", "multiclass")


def test_uncomputable_metric_is_nan(cancer: Any) -> None:
    y, good, _ = cancer
    ones = y == 1
    assert math.isnan(
        compute_metric(
            metric_spec("roc_auc", "binary"),
            "binary",
            y[ones],
            bootstrap.take(good, np.flatnonzero(ones)),
        )
    )
    assert math.isnan(
        compute_metric(
            metric_spec("accuracy", "binary"), "binary", y[:0], bootstrap.take(good, np.arange(0))
        )
    )
    nan_scores = Predictions(good.labels, np.full_like(good.scores, np.nan), good.classes)
    assert math.isnan(compute_metric(metric_spec("roc_auc", "binary"), "binary", y, nan_scores))


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_batched_forms_equal_sklearn_with_resample_weights(
    task: Task, cancer: Any, wine: Any, diabetes: Any
) -> None:
    y, good, weak = {"binary": cancer, "multiclass": wine, "regression": diabetes}[task]
    idx = np.random.default_rng(3).integers(0, y.shape[0], size=(12, y.shape[0]))
    batched = 0
    for name in metric_names(task):
        spec = metric_spec(name, task)
        for p in (good, weak):
            fast = batched_metric(spec, task, y, p, None)
            if fast is None:
                continue
            batched += 1
            got = fast(idx)
            for row, values in enumerate(idx):
                weight = np.bincount(values, minlength=y.shape[0]).astype(np.float64)
                assert got[row] == pytest.approx(
                    compute_metric(spec, task, y, p, None, weight), rel=1e-12, abs=1e-12
                ), name
    assert batched >= {"binary": 18, "multiclass": 20, "regression": 8}[task]


def test_batched_auc_sorting_path_equals_sklearn(cancer: Any) -> None:
    # Fewer drawn rows than distinct scores (the m-out-of-n case): AUC by sorting each resample.
    y, good, weak = cancer
    spec = metric_spec("roc_auc", "binary")
    tied = Predictions(weak.labels, np.round(good.scores, 1), good.classes)  # ties too
    assert len(np.unique(tied.scores[:, 1])) > 8
    for p, drawn in ((good, 40), (tied, 8)):
        idx = np.random.default_rng(9).integers(0, y.shape[0], size=(30, drawn))
        got = batched_metric(spec, "binary", y, p, None)(idx)
        for row, values in enumerate(idx):
            weight = np.bincount(values, minlength=y.shape[0]).astype(np.float64)
            assert got[row] == pytest.approx(
                compute_metric(spec, "binary", y, p, None, weight), abs=1e-12
            )


def test_compressed_triples_equal_naive_resampling(cancer: Any, wine: Any) -> None:
    # The trick, proved on the same indices: a label metric on resampled rows equals the metric
    # on the distinct (truth, candidate, baseline) triples weighted by their draw counts.
    for task, (y, good, weak) in (("binary", cancer), ("multiclass", wine)):
        triples = compress(y, good, weak)
        assert triples is not None
        assert triples.counts.shape[0] <= len(good.classes) ** 3
        idx = np.random.default_rng(5).integers(0, y.shape[0], size=(20, y.shape[0]))
        for name in (
            "accuracy",
            "matthews_corrcoef",
            "cohen_kappa",
            "f1_macro",
            "balanced_accuracy",
        ):
            spec = metric_spec(name, task)
            evaluate = bootstrap._triple_evaluator(spec, task, triples, good.classes, None)
            naive = [
                compute_metric(spec, task, y[i], bootstrap.take(good, i))
                - compute_metric(spec, task, y[i], bootstrap.take(weak, i))
                for i in idx
            ]
            counts = resample_sums(triples.ids, idx, triples.counts.shape[0])
            np.testing.assert_allclose(evaluate(counts), naive, rtol=0, atol=1e-12)
            kind, fast = bootstrap._evaluator(spec, task, y, good, weak, None, triples)
            assert kind == "triples"
            np.testing.assert_allclose(fast(counts), naive, rtol=0, atol=1e-12)
            weighted = bootstrap._weighted_evaluator(spec, task, y, good, weak, None)
            np.testing.assert_allclose(weighted(idx), naive, rtol=0, atol=1e-12)


def test_decide_edges() -> None:
    assert decide(-0.01, 0.02, True, 0.01) == "pass"  # exactly at the limit: within
    assert decide(-0.03, -0.01, True, 0.01) == "inconclusive"  # high touches the limit
    assert decide(-0.03, -0.0101, True, 0.01) == "fail"
    assert decide(0.0, 0.0, True, 0.0) == "pass"
    assert decide(-0.02, 0.01, False, 0.01) == "pass"
    assert decide(0.01, 0.03, False, 0.01) == "inconclusive"
    assert decide(0.0101, 0.03, False, 0.01) == "fail"
    assert decide(None, None, True, 0.01) == "inconclusive"
    assert decide(math.nan, 0.0, True, 0.01) == "inconclusive"


def test_paired_bootstrap_identical_models_is_exactly_zero(cancer: Any) -> None:
    y, good, _ = cancer
    specs = [metric_spec(n, "binary") for n in ("accuracy", "roc_auc", "matthews_corrcoef")]
    for result in paired_bootstrap(
        specs, "binary", y, good, good, None, confidence=0.95, resamples=200, seed=0
    ):
        assert (result.delta, result.low, result.high) == (0.0, 0.0, 0.0)


def test_m_out_of_n_rescales_around_the_full_difference(
    monkeypatch: pytest.MonkeyPatch, cancer: Any
) -> None:
    y, good, weak = cancer
    specs = [metric_spec("roc_auc", "binary"), metric_spec("accuracy", "binary")]

    def run() -> tuple[Any, ...]:
        return paired_bootstrap(
            specs, "binary", y, good, weak, None, confidence=0.95, resamples=2000, seed=0
        )

    full_auc, full_accuracy = run()
    monkeypatch.setattr(bootstrap, "CAP", 100)
    capped_auc, capped_accuracy = run()
    assert capped_auc.rescaled and not full_auc.rescaled
    assert capped_auc.delta == full_auc.delta
    # The rescaled m-row interval has about the n-row width.
    assert capped_auc.high - capped_auc.low == pytest.approx(full_auc.high - full_auc.low, rel=0.25)
    # Label metrics draw triple counts for all rows: never rescaled, unchanged by the cap.
    assert capped_accuracy == full_accuracy and not capped_accuracy.rescaled


def test_validate_rejects_wrong_settings() -> None:
    with pytest.raises(ValueError, match="give max_rise"):
        validate(settings(gate={"rmse": {"max_drop": 1.0}}), "regression")
    with pytest.raises(ValueError, match="give max_drop"):
        validate(settings(gate={"accuracy": {"max_rise": 0.1}}), "binary")
    with pytest.raises(ValueError, match="did you mean"):
        validate(settings(metrics=["acuracy"]), "binary")
    with pytest.raises(ValueError, match="need a binary task"):
        validate(
            settings(fairness=[{"metric": "demographic_parity_difference", "by": "g", "max": 0.1}]),
            "multiclass",
        )
    names = [
        s.name
        for s in validate(
            settings(
                metrics=["f1"], gate={"roc_auc": {"max_drop": 0.01}}, thresholds={"accuracy": 0.9}
            ),
            "binary",
        )
    ]
    assert names == ["f1", "roc_auc", "accuracy"]
    assert [s.name for s in validate(settings(), "multiclass")] == list(
        default_metrics("multiclass")
    )


def test_analyse_is_deterministic_and_seeded(cancer: Any) -> None:
    y, good, weak = cancer
    groups = {"half": np.where(np.arange(y.shape[0]) % 2 == 0, "even", "odd")}
    rows = eval_rows("binary", y, weak, good, groups=groups, positive_label=1)
    config = settings(
        gate={"accuracy": {"max_drop": 0.01}, "roc_auc": {"max_drop": 0.01}},
        slices=["half"],
        slice_gate={"min_rows": 50},
        resamples=300,
    )

    def run(config: EvalSettings) -> EvalOutcome:
        return analyse(
            rows, config, predict_candidate=None, predict_baseline=None, baseline_label="main"
        )  # type: ignore[arg-type]

    first, again = run(config), run(config)
    assert first == again
    other = run(config.model_copy(update={"seed": 7}))
    assert [m.low for m in other.metrics] != [m.low for m in first.metrics]
    assert first.verdict == "fail" and first.baseline_label == "main"
    assert {s.verdict for s in first.slices} <= {"fail", "inconclusive", "pass"}
    assert [(s.column, s.group, s.metric) for s in first.slices] == [
        ("half", "even", "roc_auc"),
        ("half", "even", "accuracy"),
        ("half", "odd", "roc_auc"),
        ("half", "odd", "accuracy"),
    ]


def test_without_a_baseline_nothing_is_decided(cancer: Any) -> None:
    y, good, _ = cancer
    rows = eval_rows("binary", y, good, None, groups={"g": np.full(y.shape[0], "x")})
    outcome = analyse(
        rows,
        settings(gate={"accuracy": {"max_drop": 0.0}}, slices=["g"]),
        predict_candidate=None,
        predict_baseline=None,
        baseline_label="main",
    )  # type: ignore[arg-type]
    assert outcome.verdict == "none" and outcome.baseline_label is None
    assert all(m.baseline is None and m.verdict == "none" for m in outcome.metrics)
    assert [m.candidate for m in outcome.metrics][:3] == [
        compute_metric(metric_spec(n, "binary"), "binary", y, good)
        for n in default_metrics("binary")
    ]
    assert outcome.slices[0].verdict == "none" and outcome.slices[0].baseline is None


def test_uncomputable_gated_metric_is_inconclusive_never_a_pass(cancer: Any) -> None:
    y, good, weak = cancer
    ones = np.flatnonzero(y == 1)
    group = np.where(y == 1, "only-ones", "zeros")
    rows = eval_rows(
        "binary",
        y[ones],
        bootstrap.take(good, ones),
        bootstrap.take(weak, ones),
        groups={"g": group[ones]},
    )
    outcome = analyse(
        rows,
        settings(
            gate={"roc_auc": {"max_drop": 0.01}},
            slices=["g"],
            slice_gate={"min_rows": 10},
            resamples=100,
        ),
        predict_candidate=None,
        predict_baseline=None,
        baseline_label="b",
    )  # type: ignore[arg-type]
    (auc,) = [m for m in outcome.metrics if m.name == "roc_auc"]
    assert math.isnan(auc.candidate) and auc.verdict == "inconclusive"
    assert outcome.verdict == "inconclusive"
    assert any("roc_auc cannot be computed" in note for note in outcome.notes)
    assert outcome.slices[0].verdict == "none"  # a single-class slice gets no verdict


def test_single_class_slice_gets_no_verdict_while_others_do(cancer: Any) -> None:
    y, good, weak = cancer
    group = np.where(np.arange(y.shape[0]) % 3 == 0, "mixed", "other")
    group[y == 1] = np.where(group[y == 1] == "other", "ones", group[y == 1])
    rows = eval_rows("binary", y, weak, good, groups={"g": group})
    outcome = analyse(
        rows,
        settings(
            gate={"roc_auc": {"max_drop": 0.5}},
            slices=["g"],
            slice_gate={"min_rows": 20},
            resamples=200,
        ),
        predict_candidate=None,
        predict_baseline=None,
        baseline_label="b",
    )  # type: ignore[arg-type]
    verdicts = {s.group: s.verdict for s in outcome.slices}
    assert verdicts["ones"] == "none" and verdicts["mixed"] in {"pass", "inconclusive"}
