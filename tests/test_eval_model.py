"""The eval model wrapper and row collector (mlops_ci.eval.model, mlops_ci.eval.engine) on real
scikit-learn models converted with skl2onnx, and onnxruntime's bundled logreg_iris.onnx.

skl2onnx models compute in float32: their probabilities are compared with scikit-learn's
``predict_proba`` to 1e-6 absolute (probabilities lie in [0, 1]; float32 keeps ~7 digits) and
regression values to 1e-6 relative.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlops_ci.errors import InputError
from mlops_ci.eval.data import EvalDataError
from mlops_ci.eval.engine import collect_rows, model_digest
from mlops_ci.eval.model import EvalModel
from tests.eval_fixtures import logreg_iris, plan, settings, trained, write_table


@pytest.mark.parametrize(
    ("kind", "zipmap", "task"),
    [
        ("binary", True, "binary"),
        ("binary", False, "binary"),
        ("multiclass", True, "multiclass"),
        ("multiclass", False, "multiclass"),
        ("wine", True, "multiclass"),
        ("wine", False, "multiclass"),
    ],
)
def test_classifiers_match_sklearn(tmp_path: Path, kind: Any, zipmap: bool, task: str) -> None:
    model = trained(kind, zipmap=zipmap)
    rows, predict, none = collect_rows(plan(model, model.write(tmp_path), importance={"rows": 50}))
    assert none is None and rows.task == task and rows.baseline is None
    assert rows.candidate.classes == tuple(model.estimator.classes_.tolist())
    assert rows.candidate.scores is not None
    np.testing.assert_allclose(
        rows.candidate.scores, model.estimator.predict_proba(model.x), atol=1e-6
    )
    assert list(rows.candidate.labels) == list(model.estimator.predict(model.x))
    assert list(rows.y_true) == list(model.table["target"])
    assert rows.positive_label == (1 if task == "binary" else None)
    assert rows.sample is not None and len(rows.sample.y_true) == 50
    again = predict({c: model.table[c][:5] for c in model.features})
    np.testing.assert_array_equal(again.scores, rows.candidate.scores[:5])


def test_regression_matches_sklearn(tmp_path: Path) -> None:
    model = trained("regression")
    rows, _, _ = collect_rows(plan(model, model.write(tmp_path, "csv")))
    assert rows.task == "regression" and rows.candidate.scores is None
    np.testing.assert_allclose(rows.candidate.labels, model.estimator.predict(model.x), rtol=1e-6)
    assert rows.y_true.dtype == np.float64 and rows.positive_label is None


def test_logreg_iris_fixed_batch_of_three(tmp_path: Path) -> None:
    import onnxruntime

    iris = trained("multiclass")
    table = {c: v[:100] for c, v in iris.table.items()}  # 100 rows: the last batch is padded
    first_two = list(iris.features[:2])
    rows, _, _ = collect_rows(
        plan(
            logreg_iris(),
            write_table(table, tmp_path / "i.parquet"),
            features=first_two,
            batch_rows=8,
        )
    )
    assert rows.task == "multiclass" and rows.candidate.classes == (0, 1, 2) and rows.rows == 100
    session = onnxruntime.InferenceSession(str(logreg_iris()))
    x = np.column_stack([table[c] for c in first_two]).astype(np.float32)
    x = np.vstack([x, x[-1:], x[-1:]])
    want = [session.run(None, {"float_input": x[i : i + 3]}) for i in range(0, 102, 3)]
    probs = np.array([[row[k] for k in range(3)] for part in want for row in part[1]])[:100]
    np.testing.assert_allclose(rows.candidate.scores, probs, atol=1e-7)
    np.testing.assert_array_equal(rows.candidate.labels, np.concatenate([p[0] for p in want])[:100])
    with pytest.raises(EvalDataError, match="takes 2 features, eval.features gives 3"):
        EvalModel(logreg_iris(), settings(features=list(iris.features[:3])), "logreg_iris.onnx")


def test_batching_does_not_change_the_rows(tmp_path: Path) -> None:
    """Same rows, labels, groups and sample whatever the batch size. Scores agree to float32
    rounding only: onnxruntime's kernels sum in a different order for a batch of 1."""
    model = trained("multiclass", zipmap=False)
    path = model.write(tmp_path)
    got = [
        collect_rows(
            plan(
                model,
                path,
                baseline=model.onnx,
                batch_rows=n,
                slices=["group"],
                importance={"rows": 20},
            )
        )[0]
        for n in (1, 7, 8192)
    ]
    for other in got[1:]:
        np.testing.assert_array_equal(other.y_true, got[0].y_true)
        np.testing.assert_allclose(other.candidate.scores, got[0].candidate.scores, atol=3e-7)
        np.testing.assert_array_equal(other.baseline.scores, other.candidate.scores)  # type: ignore[union-attr]
        np.testing.assert_array_equal(other.candidate.labels, got[0].candidate.labels)
        np.testing.assert_array_equal(other.groups["group"], got[0].groups["group"])
        assert other.sample is not None and got[0].sample is not None
        for column in model.features:
            np.testing.assert_array_equal(other.sample.values[column], got[0].sample.values[column])
        np.testing.assert_array_equal(other.sample.y_true, got[0].sample.y_true)


def test_only_labels_predictions_groups_and_a_bounded_sample_are_kept(tmp_path: Path) -> None:
    model = trained("binary", zipmap=False)
    rows, _, _ = collect_rows(
        plan(model, model.write(tmp_path), slices=["group"], importance={"rows": 10})
    )
    assert set(rows.groups) == {"group"} and rows.groups["group"].dtype.kind == "U"
    assert rows.sample is not None and set(rows.sample.values) == set(model.features)
    assert all(len(v) == 10 for v in rows.sample.values.values())
    where = {tuple(row): i for i, row in enumerate(model.x)}
    picked = np.column_stack([rows.sample.values[c] for c in model.features])
    index = [where[tuple(row)] for row in picked]
    assert index == sorted(index) and len(set(index)) == 10  # distinct rows, in data order
    # The rows with the 10 smallest keys of one seeded stream (eval.seed): a uniform sample.
    keys = np.random.default_rng(0).random(len(model.x))
    assert index == sorted(np.argsort(keys)[:10].tolist())
    np.testing.assert_array_equal(rows.sample.y_true, model.table["target"][index])
    off, _, _ = collect_rows(plan(model, model.write(tmp_path), importance={"enabled": False}))
    assert off.sample is None and off.groups == {}


def test_labels_are_coerced_losslessly(tmp_path: Path) -> None:
    model = trained("binary", zipmap=False)
    table = dict(model.table)
    table["target"] = table["target"].astype(np.float64)
    rows, _, _ = collect_rows(plan(model, write_table(table, tmp_path / "f.parquet")))
    assert rows.y_true.dtype == np.int64
    table["target"] = table["target"].astype(bool)
    rows, _, _ = collect_rows(
        plan(model, write_table(table, tmp_path / "b.parquet"), positive_label="0")
    )
    assert list(rows.y_true[:3]) == list(model.table["target"][:3]) and rows.positive_label == 0


def _data_error(
    tmp_path: Path, table: dict[str, np.ndarray], model: Any, name: str = "bad.csv", **fields: Any
) -> str:
    with pytest.raises(EvalDataError) as caught:
        job = plan(model, write_table(table, tmp_path / name), **fields)
        # eval.data says another file: errors name the data actually read (as --data gives it)
        collect_rows(
            dataclasses.replace(
                job, settings=settings("other.csv", **job.settings.model_dump(exclude={"data"}))
            )
        )
    text = str(caught.value)
    assert text.startswith(f"{name}: EVAL-DATA: ") and "\n" not in text
    return text


def test_bad_labels_and_features(tmp_path: Path) -> None:
    model = trained("multiclass")
    table = dict(model.table)
    table["target"] = np.where(np.arange(150) % 10 == 0, 7, table["target"])
    text = _data_error(tmp_path, table, model)
    assert "label column 'target' has values the model cannot produce (7)" in text
    table["target"] = np.where(np.arange(150) == 3, np.nan, model.table["target"])
    text = _data_error(tmp_path, table, model, "bad.parquet")
    assert "label column 'target' has a NaN or infinite value (row 4)" in text
    text = _data_error(tmp_path, table, model)  # CSV reads "nan" as a missing value
    assert "column 'target' has a missing value (row 4)" in text
    table = dict(model.table)
    text = _data_error(tmp_path, table, model, features=["group", *model.features[1:]])
    assert "column 'group' holds text, but model input 'input' takes numbers" in text
    table["sepal_width_cm"] = np.where(np.arange(150) == 9, np.inf, table["sepal_width_cm"])
    text = _data_error(tmp_path, table, model, "inf.parquet")
    assert "gives NaN or infinite scores for 1 rows (first: row 10)" in text
    table = dict(model.table)
    text = _data_error(tmp_path, table, model, features=list(model.features[:3]))
    assert "model input 'input' takes 4 features, eval.features gives 3" in text
    text = _data_error(tmp_path, table, model, features=[*model.features[:3], "petal_widht_cm"])
    assert "column 'petal_widht_cm' is not in the data (did you mean 'petal_width_cm'?)" in text


def test_text_labels_and_their_errors(tmp_path: Path) -> None:
    model = trained("wine")
    table = dict(model.table)
    table["target"] = np.where(np.arange(178) == 5, "class_9", table["target"]).astype(object)
    message = _data_error(tmp_path, table, model)
    # Text from the data is located, not quoted: file contents never reach the output.
    assert "1 distinct text value(s), the first in data row 6" in message
    assert "class_9" not in message


def test_task_contradictions_and_settings_errors(tmp_path: Path) -> None:
    from mlops_ci.demo.model import build_mlp

    model = trained("binary")
    with pytest.raises(InputError, match="eval.task is regression, but the model's output"):
        EvalModel(model.onnx, settings(features=list(model.features), task="regression"), "m")
    with pytest.raises(InputError, match="eval.output 'nope' is not an output"):
        EvalModel(model.onnx, settings(features=list(model.features), output="nope"), "m")
    with pytest.raises(InputError, match="names input 'x', which the model does not have"):
        EvalModel(model.onnx, settings(features={"x": list(model.features)}), "m")
    with pytest.raises(InputError, match="positive_label 'yes' is not a class"):
        collect_rows(plan(model, model.write(tmp_path), positive_label="yes"))
    with pytest.raises(InputError, match="onnxruntime cannot load the model"):
        EvalModel(b"not a model", settings(features=["a"]), "m")
    other = build_mlp((30, 3)).SerializeToString()  # 3 classes from logits
    with pytest.raises(InputError, match="compare models of the same task and classes"):
        collect_rows(plan(model, model.write(tmp_path), baseline=other))


def test_hand_built_logits_and_a_single_probability(tmp_path: Path) -> None:
    from mlops_ci.demo.model import build_mlp

    logits = build_mlp((4, 8, 3)).SerializeToString()
    iris = trained("multiclass")
    m = EvalModel(logits, settings(features=list(iris.features)), "mlp.onnx")
    assert m.task == "multiclass" and m.classes == (0, 1, 2)
    got = m.predict({c: iris.table[c] for c in iris.features})
    assert got.scores is not None
    np.testing.assert_array_equal(got.labels, got.scores.argmax(axis=1))
    np.testing.assert_allclose(got.scores.sum(axis=1), 1.0)  # logits through softmax
    one = build_mlp((4, 1)).SerializeToString()
    regressor = EvalModel(one, settings(features=list(iris.features)), "one.onnx")
    assert regressor.task == "regression"
    binary = EvalModel(one, settings(features=list(iris.features), task="binary"), "one.onnx")
    out = binary.predict({c: iris.table[c][:4] for c in iris.features})
    assert binary.classes == (0, 1) and out.scores is not None
    np.testing.assert_allclose(out.scores.sum(axis=1), 1.0)


def test_features_by_input_mapping(tmp_path: Path) -> None:
    model = trained("multiclass", zipmap=False)
    rows, _, _ = collect_rows(
        plan(model, model.write(tmp_path), features={"input": list(model.features)})
    )
    np.testing.assert_allclose(
        rows.candidate.scores, model.estimator.predict_proba(model.x), atol=1e-6
    )
    assert model_digest(model.onnx) == model_digest(model.save_model(tmp_path))


def test_several_inputs_with_a_text_input_match_sklearn(tmp_path: Path) -> None:
    """A ColumnTransformer over two number inputs and one text input (one-hot encoded)."""
    import pandas as pd
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    iris = trained("multiclass")
    frame = pd.DataFrame(
        {
            "a": iris.table["petal_length_cm"],
            "b": iris.table["sepal_width_cm"],
            "g": iris.table["group"].astype(str),
        }
    )
    y = iris.table["target"]
    columns = ColumnTransformer(
        [("num", StandardScaler(), ["a", "b"]), ("cat", OneHotEncoder(), ["g"])]
    )
    clf = LogisticRegression(max_iter=500)
    model = make_pipeline(columns, clf).fit(frame, y)
    types = [
        ("a", FloatTensorType([None, 1])),
        ("b", FloatTensorType([None, 1])),
        ("g", StringTensorType([None, 1])),
    ]
    onnx = convert_sklearn(model, initial_types=types, options={id(clf): {"zipmap": False}})
    table = {
        "a": frame["a"].to_numpy(),
        "b": frame["b"].to_numpy(),
        "target": y,
        "g": iris.table["group"],
    }
    data = write_table(table, tmp_path / "multi.jsonl")
    features = {"a": ["a"], "b": ["b"], "g": ["g"]}
    rows, _, _ = collect_rows(plan(onnx.SerializeToString(), data, features=features))
    np.testing.assert_allclose(rows.candidate.scores, model.predict_proba(frame), atol=1e-6)
    with pytest.raises(InputError, match="the model has 3 inputs"):
        EvalModel(onnx.SerializeToString(), settings(features=["a", "b", "g"]), "m")
    with pytest.raises(InputError, match="gives no columns for model input 'g'"):
        EvalModel(onnx.SerializeToString(), settings(features={"a": ["a"], "b": ["b"]}), "m")


def test_group_columns_keep_nulls_as_a_group_and_baseline_scores_the_same_rows(
    tmp_path: Path,
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    model = trained("binary", zipmap=False)
    columns = {c: pa.array(v) for c, v in model.table.items() if c != "group"}
    sex = ["f" if i % 3 else None for i in range(len(model.x))]
    columns["sex"] = pa.array(sex)
    columns["age"] = pa.array(np.arange(len(model.x)) % 4)
    path = tmp_path / "groups.parquet"
    pq.write_table(pa.table(columns), path)
    fairness = [{"metric": "demographic_parity_difference", "by": "sex", "max": 0.1}]
    rows, _, base = collect_rows(
        plan(model, path, baseline=trained("binary").onnx, slices=["age"], fairness=fairness)
    )
    assert list(rows.groups) == ["age", "sex"]
    assert list(rows.groups["sex"][:3]) == ["(null)", "f", "f"] and rows.groups["age"][5] == "1"
    assert base is not None and rows.baseline is not None
    np.testing.assert_allclose(rows.baseline.scores, rows.candidate.scores, atol=1e-7)


def _graph(shape: list[Any], reshape: list[int] | None = None) -> bytes:
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    if reshape is not None:
        inits.append(numpy_helper.from_array(np.array(reshape, dtype=np.int64), "shape"))
        nodes.append(helper.make_node("Reshape", ["x", "shape"], ["y"]))
    else:
        nodes.append(helper.make_node("Identity", ["x"], ["y"]))
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2] if reshape else shape)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return bytes(model.SerializeToString())


def test_models_eval_cannot_feed_or_run_are_one_line_errors(tmp_path: Path) -> None:
    iris = trained("multiclass")
    two = list(iris.features[:2])
    with pytest.raises(InputError, match=r"has shape \['N', 1, 2\]; eval feeds table rows"):
        EvalModel(_graph(["N", 1, 2]), settings(features=two), "m.onnx")
    failing = EvalModel(_graph(["N", 2], reshape=[2, 2]), settings(features=two), "m.onnx")
    with pytest.raises(InputError, match="onnxruntime cannot run the model on the evaluation") as e:
        failing.predict({c: iris.table[c] for c in two})
    assert str(e.value).startswith("m.onnx: ") and "\n" not in str(e.value)
