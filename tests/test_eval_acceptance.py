"""Issue 14's acceptance, end to end through ``mlops-ci eval`` in real git repositories.

Real models, not toys: scikit-learn estimators trained on its bundled datasets, converted with
skl2onnx (``tests/eval_fixtures.py``), and onnxruntime's bundled ``logreg_iris.onnx``. The
measured metrics must equal ``sklearn.metrics`` computed directly on the estimator's
``predict_proba``/``predict`` (1e-6: the ONNX models compute in float32); fairness figures must
equal fairlearn's own functions; bad data must exit 2 naming the file and the column.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import CliResult
from tests.eval_fixtures import Trained, logreg_iris, trained, write_table
from tests.gitrepos import bare_remote, git

Cli = Callable[..., CliResult]
TOLERANCE = 1e-6


def _repo(
    tmp_path: Path,
    model: bytes,
    table: dict[str, np.ndarray],
    eval_section: dict[str, Any],
    *,
    data_name: str = "data/eval.parquet",
) -> Path:
    """A clone whose main branch holds the model, its evaluation data and the config."""
    config = {
        "version": 1,
        "models": [
            {
                "name": "m",
                "path": "models/model.onnx",
                "eval": {"data": data_name, "importance": {"enabled": False}, **eval_section},
            }
        ],
        # A small SBOM input: `policy facts` runs every gate, and inventorying this whole
        # virtualenv (the default without requirements) takes seconds.
        "sbom": {"requirements": ["requirements.txt"]},
    }
    staging = tmp_path / "staging"
    write_table(table, staging / data_name)
    files: dict[str, str | bytes] = {
        "mlops-ci.yaml": json.dumps(config),  # JSON is YAML 1.2
        "models/model.onnx": model,
        data_name: (staging / data_name).read_bytes(),
        "requirements.txt": "numpy==2.1.0\n",
    }
    _, clone = bare_remote(tmp_path, files)
    return clone


def _eval(cli: Cli, repo: Path, *args: str) -> tuple[CliResult, dict[str, Any]]:
    result = cli("eval", "m", "--format", "json", *args, cwd=repo)
    facts: dict[str, Any] = {}
    if result.exit_code in (0, 1):
        (found,) = [r for r in json.loads(result.stdout)["results"] if r["check"] == "eval"]
        facts = found["facts"]
    return result, facts


def _expected(model: Trained) -> dict[str, float]:
    """``sklearn.metrics`` on the estimator's own outputs, by the gate's default metric names."""
    from sklearn import metrics

    x, y = model.x, model.table[model.label]
    predicted = model.estimator.predict(x)
    if model.kind == "regression":
        return {
            "rmse": metrics.root_mean_squared_error(y, predicted),
            "mae": metrics.mean_absolute_error(y, predicted),
            "r2": metrics.r2_score(y, predicted),
        }
    proba = model.estimator.predict_proba(x)
    classes = model.estimator.classes_
    if model.kind == "binary":
        return {
            "roc_auc": metrics.roc_auc_score(y, proba[:, 1]),
            "accuracy": metrics.accuracy_score(y, predicted),
            "f1": metrics.f1_score(y, predicted, pos_label=classes[-1]),
        }
    return {
        "accuracy": metrics.accuracy_score(y, predicted),
        "f1_macro": metrics.f1_score(y, predicted, average="macro"),
        "log_loss": metrics.log_loss(y, proba, labels=classes),
    }


@pytest.mark.parametrize(
    ("kind", "zipmap", "fmt"),
    [
        ("binary", True, "parquet"),
        ("multiclass", True, "csv"),
        ("wine", False, "jsonl"),
        ("regression", True, "npz"),
        ("digits", False, "parquet"),
    ],
)
def test_measured_metrics_equal_sklearn_on_the_estimator(
    cli: Cli, tmp_path: Path, kind: Any, zipmap: bool, fmt: str
) -> None:
    """Acceptance 1: every dataset bundled with scikit-learn, each data format, ZipMap or a
    probability tensor: the gate's figures are scikit-learn's on ``predict_proba``."""
    model = trained(kind, zipmap=zipmap)
    section = {"label": model.label, "features": list(model.features)}
    repo = _repo(tmp_path, model.onnx, dict(model.table), section, data_name=f"data/eval.{fmt}")
    result, facts = _eval(cli, repo)
    assert result.exit_code == 0, result.stderr
    expected = _expected(model)
    assert set(facts["metrics"]) == set(expected)
    for name, value in expected.items():
        assert facts["metrics"][name] == pytest.approx(value, abs=TOLERANCE), name
    assert facts["rows"] == len(model.table[model.label])
    assert facts["task"] == {"binary": "binary", "regression": "regression"}.get(kind, "multiclass")
    # The baseline is the default branch's model: the same bytes, so every delta is zero.
    assert facts["verdict"] in ("pass", "none")


def test_onnxruntime_logreg_iris_evaluates_as_multiclass(cli: Cli, tmp_path: Path) -> None:
    """Acceptance 1: onnxruntime's bundled ``logreg_iris.onnx`` (a fixed batch of 3, a ZipMap
    output) on iris' first two features; figures equal scikit-learn's on its outputs."""
    import onnxruntime
    from sklearn import datasets, metrics

    iris = datasets.load_iris()
    table = {
        "sepal_length": iris.data[:, 0],
        "sepal_width": iris.data[:, 1],
        "species": iris.target.astype(np.int64),
    }
    section = {"label": "species", "features": ["sepal_length", "sepal_width"]}
    repo = _repo(tmp_path, logreg_iris().read_bytes(), table, section)
    result, facts = _eval(cli, repo)
    assert result.exit_code == 0, result.stderr
    assert facts["task"] == "multiclass" and facts["rows"] == 150
    session = onnxruntime.InferenceSession(str(logreg_iris()))
    x = iris.data[:, :2].astype(np.float32)
    labels, maps = [], []
    for start in range(0, 150, 3):  # the model's fixed batch
        label, proba = session.run(None, {"float_input": x[start : start + 3]})
        labels.extend(label)
        maps.extend(proba)
    proba = np.array([[row[c] for c in (0, 1, 2)] for row in maps], dtype=np.float64)
    proba /= proba.sum(axis=1, keepdims=True)  # float32 rows sum to 1 only within 1e-7
    assert facts["metrics"]["accuracy"] == pytest.approx(
        metrics.accuracy_score(iris.target, labels), abs=TOLERANCE
    )
    assert facts["metrics"]["log_loss"] == pytest.approx(
        metrics.log_loss(iris.target, proba, labels=[0, 1, 2]), abs=TOLERANCE
    )


def _biased(seed: int = 0, rows: int = 3000) -> tuple[Any, dict[str, np.ndarray]]:
    """A logistic regression trained on data where the sensitive column drives the label."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    gender = rng.integers(0, 2, rows)
    income = rng.standard_normal(rows)
    label = (rng.random(rows) < 1 / (1 + np.exp(-(3.0 * gender - 1.5 + income)))).astype(np.int64)
    x = np.column_stack([gender, income]).astype(np.float64)
    estimator = LogisticRegression().fit(x, label)
    onnx = convert_sklearn(
        estimator,
        initial_types=[("input", FloatTensorType([None, 2]))],
        options={id(estimator): {"zipmap": False}},
    ).SerializeToString()
    table = {
        "gender_code": gender.astype(np.float64),
        "income": income,
        "approved": label,
        "gender": np.array(["female", "male"], dtype=object)[gender],
    }
    return (estimator, onnx), table


def test_fairness_equals_fairlearn_and_a_biased_model_fails(cli: Cli, tmp_path: Path) -> None:
    """Acceptance 3: the figures are fairlearn's own functions on the model's predictions, and a
    model trained to depend on the sensitive column fails ``EVAL-FAIRNESS``."""
    from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

    (estimator, onnx), table = _biased()
    section = {
        "label": "approved",
        "features": ["gender_code", "income"],
        "fairness": [
            {"metric": "demographic_parity_difference", "by": "gender", "max": 0.1},
            {"metric": "equalized_odds_difference", "by": "gender", "max": 0.1},
        ],
    }
    repo = _repo(tmp_path, onnx, table, section)
    result, facts = _eval(cli, repo)
    assert result.exit_code == 1, result.stderr
    predicted = estimator.predict(np.column_stack([table["gender_code"], table["income"]]))
    expected = {
        "demographic_parity_difference": demographic_parity_difference(
            table["approved"], predicted, sensitive_features=table["gender"]
        ),
        "equalized_odds_difference": equalized_odds_difference(
            table["approved"], predicted, sensitive_features=table["gender"]
        ),
    }
    for name, value in expected.items():
        assert facts["fairness"][name] == pytest.approx(value, abs=TOLERANCE), name
        assert value > 0.1
    report = json.loads(result.stdout)
    rules = [f["rule_id"] for r in report["results"] for f in r["findings"]]
    assert rules.count("EVAL-FAIRNESS") == 2


def test_a_worse_candidate_regresses_against_the_default_branch(cli: Cli, tmp_path: Path) -> None:
    """The baseline committed on main and a candidate trained without its best features score
    the same rows: ``EVAL-REGRESSION`` with the interval, and the policy facts carry it."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.linear_model import LogisticRegression

    model = trained("binary")
    section = {
        "label": model.label,
        "features": list(model.features),
        "gate": {"accuracy": {"max_drop": 0.01}, "roc_auc": {"max_drop": 0.01}},
    }
    repo = _repo(tmp_path, model.onnx, dict(model.table), section)
    x, y = model.x.copy(), model.table[model.label]
    x[:, :20] = 0.0  # the candidate learns from the last ten columns only
    weak = LogisticRegression(max_iter=2000).fit(x, y)
    (repo / "models/model.onnx").write_bytes(
        convert_sklearn(
            weak, initial_types=[("input", FloatTensorType([None, x.shape[1]]))]
        ).SerializeToString()
    )
    git(repo, "commit", "-qam", "a worse model")
    result, facts = _eval(cli, repo)
    assert result.exit_code == 1, result.stderr
    assert facts["verdict"] == "fail"
    delta = facts["delta"]["accuracy"]
    assert delta["high"] < -0.01 and delta["low"] <= delta["value"] <= delta["high"]
    report = json.loads(result.stdout)
    assert "EVAL-REGRESSION" in {f["rule_id"] for r in report["results"] for f in r["findings"]}
    shown = cli("policy", "facts", "--model", "m", "--offline", cwd=repo)
    assert shown.exit_code == 0, shown.stderr
    policy = json.loads(shown.stdout)["eval"]
    assert policy["verdict"] == "fail" and policy["delta"]["accuracy"]["high"] < -0.01
    assert policy["data_digest"].startswith("sha256:") and policy["rows"] == len(y)


def _bad_data(kind: str, table: dict[str, np.ndarray]) -> tuple[dict[str, Any], str]:
    """Break ``table`` (or the section) one way; returns the section and the column named."""
    features = [c for c in table if c not in ("target", "group")]
    section: dict[str, Any] = {"label": "target", "features": features}
    if kind == "missing-column":
        table.pop(features[3])
        return section, features[3]
    if kind == "string-in-numeric":
        table[features[0]] = np.array(["n/a"] * len(table["target"]), dtype=object)
        return section, features[0]
    if kind == "empty":
        for column in list(table):
            table[column] = table[column][:0]
        return section, ""
    if kind == "impossible-labels":
        table["target"] = table["target"] + 5
        return section, "target"
    if kind == "feature-count":
        section["features"] = features[:-1]
        return section, "input"
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    ["missing-column", "string-in-numeric", "empty", "impossible-labels", "feature-count"],
)
def test_bad_data_exits_2_naming_file_and_column(cli: Cli, tmp_path: Path, kind: str) -> None:
    """Acceptance 4: one line, exit 2, the data file and the column named, no traceback."""
    model = trained("binary")
    table = dict(model.table)
    section, column = _bad_data(kind, table)
    repo = _repo(tmp_path, model.onnx, table, section)
    result = cli("eval", "m", cwd=repo)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert "data/eval.parquet" in result.stderr
    assert "EVAL-DATA" in result.stderr
    if column:
        assert column in result.stderr
