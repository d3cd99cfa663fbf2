"""Real models and evaluation data for the eval gate's tests (shared by every eval test).

scikit-learn models are trained on the datasets bundled with scikit-learn (no network) and
converted with skl2onnx; the data is written as Parquet, CSV, JSONL or ``.npz`` with named
columns. Training and conversion are cached per process, so each build costs once per session.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

Kind = Literal["binary", "multiclass", "wine", "regression", "digits"]
FORMATS = ("parquet", "csv", "jsonl", "npz")


@dataclass(frozen=True)
class Trained:
    """A fitted scikit-learn estimator, its ONNX bytes and its evaluation table."""

    kind: str
    estimator: Any  # the fitted sklearn estimator (predict / predict_proba)
    onnx: bytes
    features: tuple[str, ...]  # column names, in the model's input order
    label: str
    table: Mapping[str, np.ndarray]  # column -> values (features, label and "group")

    @property
    def x(self) -> np.ndarray:
        """The feature matrix (float64), in input order."""
        return np.column_stack([self.table[c] for c in self.features])

    def write(self, directory: Path, fmt: str = "parquet", name: str = "eval") -> Path:
        """The table written as ``directory/name.<fmt>``."""
        return write_table(self.table, directory / f"{name}.{fmt}")

    def save_model(self, directory: Path, name: str = "model.onnx") -> Path:
        """The ONNX model written to ``directory/name``."""
        path = directory / name
        path.write_bytes(self.onnx)
        return path


def _column_names(names: Sequence[str]) -> tuple[str, ...]:
    return tuple(re.sub(r"[^0-9a-z]+", "_", str(n).lower()).strip("_") for n in names)


@functools.cache
def trained(kind: Kind = "binary", *, zipmap: bool = True) -> Trained:
    """A model of ``kind`` trained on a bundled dataset, converted with skl2onnx.

    ``binary``: breast cancer, StandardScaler + LogisticRegression; ``multiclass``: iris,
    LogisticRegression; ``wine``: wine, LogisticRegression
    with text labels ("class_0"...); ``regression``: diabetes, Ridge;
    ``digits``: digits, LogisticRegression. ``zipmap=False`` gives probabilities as a tensor.
    """
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn import datasets
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    loaders = {
        "binary": datasets.load_breast_cancer,
        "multiclass": datasets.load_iris,
        "wine": datasets.load_wine,
        "regression": datasets.load_diabetes,
        "digits": datasets.load_digits,
    }
    bunch = loaders[kind]()
    x, y = np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target)
    if kind == "wine":  # text class labels (classlabels_strings in the graph)
        y = np.asarray([str(bunch.target_names[v]) for v in y], dtype=object)
    names = _column_names(getattr(bunch, "feature_names", [f"f{i}" for i in range(x.shape[1])]))
    if kind == "regression":
        estimator: Any = Ridge(alpha=1.0)
    else:
        estimator = LogisticRegression(max_iter=2000)
    model = make_pipeline(StandardScaler(), estimator)
    model.fit(x, y)
    options = None if zipmap or kind == "regression" else {id(estimator): {"zipmap": False}}
    proto = convert_sklearn(
        model, initial_types=[("input", FloatTensorType([None, x.shape[1]]))], options=options
    )
    rng = np.random.default_rng(0)
    table: dict[str, np.ndarray] = {n: x[:, i] for i, n in enumerate(names)}
    table["target"] = y
    table["group"] = rng.choice(np.array(["a", "b", "c"], dtype=object), size=len(y))
    return Trained(kind, model, proto.SerializeToString(), names, "target", table)


def write_table(table: Mapping[str, np.ndarray], path: Path) -> Path:
    """``table`` written at ``path`` in the format its extension names (or a Parquet directory
    of three parts when the name has no extension)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    arrow = pa.table({c: pa.array(list(v) if v.dtype == object else v) for c, v in table.items()})
    suffix = path.suffix
    if suffix == ".parquet":
        pq.write_table(arrow, path, row_group_size=97)
    elif suffix == ".csv":
        pcsv.write_csv(arrow, path)
    elif suffix == ".jsonl":
        import json

        rows = arrow.to_pylist()
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    elif suffix == ".npz":
        np.savez(
            path,
            **{c: np.asarray(v, dtype=str) if v.dtype == object else v for c, v in table.items()},
        )
    elif suffix == "":
        path.mkdir(exist_ok=True)
        rows = arrow.num_rows
        cuts = [0, rows // 3, 2 * rows // 3, rows]
        for part, (start, stop) in enumerate(itertools.pairwise(cuts)):
            pq.write_table(arrow.slice(start, stop - start), path / f"part-{part:02d}.parquet")
    else:
        raise ValueError(f"no writer for {suffix!r}")
    return path


def logreg_iris() -> Path:
    """onnxruntime's bundled ``logreg_iris.onnx`` (input ``[3, 2]``: a fixed batch of 3)."""
    import onnxruntime

    return Path(onnxruntime.__file__).parent / "datasets" / "logreg_iris.onnx"


def settings(data: str = "eval.parquet", **fields: Any) -> Any:
    """``EvalSettings`` with the given fields (``label`` defaults to ``target``)."""
    from mlops_ci.eval.settings import EvalSettings

    fields.setdefault("label", "target")
    return EvalSettings(data=data, **fields)


def plan(
    model: Trained | Path | bytes,
    data: Path,
    *,
    baseline: Path | bytes | None = None,
    **fields: Any,
) -> Any:
    """An ``EvalPlan`` for ``model`` on ``data`` (features default to the model's columns)."""
    from mlops_ci.eval.data import open_data
    from mlops_ci.eval.engine import EvalPlan

    if isinstance(model, Trained):
        fields.setdefault("features", list(model.features))
        model = model.onnx
    source = open_data(data, data.name)
    return EvalPlan(
        candidate=model,
        candidate_display="model.onnx",
        baseline=baseline,
        baseline_label="baseline" if baseline is not None else None,
        data=source,
        settings=settings(data.name, **fields),
    )
