"""One model under evaluation: its onnxruntime session, its feeds and how to read its outputs.

Feeds are built from named columns (``eval.features``) with each input's ONNX element type.
Outputs are read the way scikit-learn converters write them (``label`` plus ``probabilities``,
as a tensor or as a ZipMap list of dicts), or as one score tensor (``[N, k]``: a classifier with
classes ``0..k-1``; ``[N]`` or ``[N, 1]``: a regressor). Class labels come from the graph's
``ai.onnx.ml`` classifier or ZipMap node.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_ci.errors import InputError, SourcePosition
from mlops_ci.eval.data import EvalDataError
from mlops_ci.eval.feeds import FeedCache
from mlops_ci.eval.graph import graph_classes
from mlops_ci.eval.types import Predictions, Task


class ModelUnloadable(InputError):
    """onnxruntime or onnx cannot load a model; ``model`` names which one (its display)."""

    def __init__(self, message: str, position: SourcePosition | None, *, model: str) -> None:
        super().__init__(message, position)
        self.model = model


if TYPE_CHECKING:
    import numpy as np

    from mlops_ci.eval.settings import EvalSettings

_DTYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(bool)": "bool",
    "tensor(string)": "object",
}


@dataclass(frozen=True)
class _Input:
    name: str
    dtype: str
    columns: tuple[str, ...]
    rank: int
    batch: int | None  # a fixed batch dimension, or None


def _dim(value: object) -> int | None:
    return value if isinstance(value, int) and value > 0 else None


def softmax_rows(scores: np.ndarray) -> np.ndarray:
    """``scipy.special.softmax(scores, axis=1)`` as float64, by scipy's own formula (the row
    maximum subtracted before ``exp``), without importing SciPy."""
    import numpy as np

    shifted = np.exp(scores - np.amax(scores, axis=1, keepdims=True))
    return np.asarray(shifted / np.sum(shifted, axis=1, keepdims=True), dtype=np.float64)


class EvalModel:
    """A model opened for evaluation: ``task``, ``classes`` and :meth:`predict`."""

    task: Task
    classes: tuple[Any, ...]

    def __init__(self, model: Path | bytes, settings: EvalSettings, display: str) -> None:
        from mlops_ci.bench.session import (
            ModelLoadError,
            SessionSettings,
            available_providers,
            open_session,
            resolve_providers,
        )

        self.display = display
        self._where = SourcePosition(display)
        self._data = SourcePosition(settings.data)
        choice = resolve_providers(settings.provider, available_providers())
        # intra_op_threads=0: onnxruntime's default pool; evaluation wants throughput.
        session_settings = SessionSettings(provider=settings.provider, intra_op_threads=0)
        try:
            self._session, _ = open_session(model, session_settings, choice)
            declared = graph_classes(model)
        except ModelLoadError as exc:
            raise ModelUnloadable(
                f"onnxruntime cannot load the model ({exc}); fix or re-export it",
                self._where,
                model=display,
            ) from None
        except Exception as exc:  # onnx.load: a protobuf error, an unreadable file
            raise ModelUnloadable(
                f"cannot read the model graph ({type(exc).__name__}); fix or re-export it",
                self._where,
                model=display,
            ) from None
        self._inputs = self._map_inputs(settings)
        self._feed_cache = FeedCache()
        self._choose_outputs(settings, declared)

    # -- inputs ---------------------------------------------------------------------------------

    def _map_inputs(self, settings: EvalSettings) -> tuple[_Input, ...]:
        graph = list(self._session.get_inputs())
        features = settings.features
        if isinstance(features, list):
            if len(graph) != 1:
                names = ", ".join(i.name for i in graph)
                raise InputError(
                    f"the model has {len(graph)} inputs ({names}); give eval.features as a mapping"
                    " {input_name: [columns]}",
                    self._where,
                )
            mapping = {graph[0].name: features}
        else:
            mapping = features
            known = {i.name for i in graph}
            for name in mapping:
                if name not in known:
                    raise InputError(
                        f"eval.features names input {name!r}, which the model does not have;"
                        f" its inputs are {', '.join(sorted(known))}",
                        self._where,
                    )
            missing = known - set(mapping)
            if missing:
                raise InputError(
                    f"eval.features gives no columns for model input {sorted(missing)[0]!r}; add"
                    " it to the mapping",
                    self._where,
                )
        inputs = []
        for item in graph:
            columns = tuple(mapping[item.name])
            dtype = _DTYPES.get(item.type)
            if dtype is None:
                raise InputError(
                    f"model input {item.name!r} has type {item.type}, which eval cannot feed"
                    " from table columns",
                    self._where,
                )
            shape = list(item.shape or [])
            width = _dim(shape[-1]) if len(shape) >= 2 else None
            if len(shape) >= 2 and width is not None and width != len(columns):
                raise EvalDataError(
                    f"model input {item.name!r} takes {width} features, eval.features gives"
                    f" {len(columns)} ({', '.join(columns)}); list exactly the columns it takes",
                    self._data,
                )
            if len(shape) == 1 and len(columns) != 1:
                raise EvalDataError(
                    f"model input {item.name!r} takes 1 feature, eval.features gives"
                    f" {len(columns)}",
                    self._data,
                )
            if len(shape) > 2:
                raise InputError(
                    f"model input {item.name!r} has shape {shape}; eval feeds table rows"
                    " ([rows, features] or [rows]), so it cannot evaluate this model",
                    self._where,
                )
            rank = max(len(shape), 1)
            inputs.append(
                _Input(item.name, dtype, columns, rank, _dim(shape[0]) if shape else None)
            )
        return tuple(inputs)

    def _feed(self, item: _Input, features: Mapping[str, np.ndarray], rows: int) -> np.ndarray:
        import numpy as np

        numeric = item.dtype != "object"
        for column in item.columns:
            values = features[column]
            if numeric and values.dtype == object:
                raise EvalDataError(
                    f"column {column!r} holds text, but model input {item.name!r} takes numbers;"
                    " encode it as numbers or drop it from eval.features",
                    self._data,
                )
            integral = item.dtype in ("int64", "int32") and values.dtype.kind == "f"
            if integral and not np.array_equal(values, np.round(values)):  # NaN and 2.5 alike
                raise EvalDataError(
                    f"column {column!r} holds non-integer numbers, but model input"
                    f" {item.name!r} takes integers; fix the column or the model",
                    self._data,
                )
        if numeric:
            # Columns stacked as rows, then one transposing copy: writing a wide matrix column
            # by column misses the cache once it outgrows it (3.9 ms against 0.6 ms measured
            # for 64 columns of 10,000 rows).
            def build() -> np.ndarray:
                stacked = np.stack([features[column] for column in item.columns])
                return np.ascontiguousarray(stacked.astype(item.dtype, copy=False).T)

            out = self._feed_cache.matrix(item.name, item.columns, features, build)
        else:
            out = np.empty((rows, len(item.columns)), dtype=object)
            for index, column in enumerate(item.columns):
                values = features[column]
                out[:, index] = values if values.dtype == object else values.astype(str)
        return out[:, 0] if item.rank == 1 else out

    # -- outputs --------------------------------------------------------------------------------

    def _choose_outputs(self, settings: EvalSettings, declared: tuple[Any, ...]) -> None:
        outputs = list(self._session.get_outputs())
        names = [o.name for o in outputs]
        if settings.output is not None:
            chosen = (
                settings.output
                if isinstance(settings.output, int)
                else names.index(settings.output)
                if settings.output in names
                else -1
            )
            if not 0 <= chosen < len(outputs):
                raise InputError(
                    f"eval.output {settings.output!r} is not an output of the model; its outputs"
                    f" are {', '.join(names)}",
                    self._where,
                )
            score = outputs[chosen]
        else:
            score = self._auto_output(outputs)
        label = next(
            (
                o
                for o in outputs
                if o is not score
                and o.type in ("tensor(int64)", "tensor(string)")
                and o.name.lower() in ("label", "output_label")
            ),
            None,
        )
        self._score_name = score.name
        self._label_name = label.name if label is not None else None
        self._zipmap = score.type.startswith("seq(map(")
        shape = list(score.shape or [])
        width = _dim(shape[-1]) if len(shape) >= 2 else 1 if len(shape) == 1 else None
        if self._zipmap:
            width = len(declared) or None
        if width is None and not score.type.startswith("seq("):
            width = self._probe_width()
        if not self._zipmap and not score.type.startswith("tensor("):
            raise InputError(
                f"model output {score.name!r} has type {score.type}; set eval.output to the"
                " output holding scores or probabilities",
                self._where,
            )
        self._sigmoid = False
        self._softmax: bool | None = None  # decided on the first scores seen, then kept
        if width == 1 and not self._zipmap:
            inferred: Task = "regression"
            self.classes = ()
            if settings.task == "binary":  # one probability column: P(positive)
                self._sigmoid, inferred, self.classes = True, "binary", declared or (0, 1)
        else:
            k = width or len(declared)
            if k < 2:
                raise InputError(
                    f"cannot tell how many classes model output {score.name!r} scores (its"
                    " shape is dynamic and the graph names no classes); set eval.output to a"
                    " [rows, classes] output, or eval.task",
                    self._where,
                )
            self.classes = declared if declared and len(declared) == k else tuple(range(k))
            inferred = "binary" if k == 2 else "multiclass"
        if settings.task is not None and settings.task != inferred:
            if not (settings.task == "multiclass" and inferred == "binary"):
                raise InputError(
                    f"eval.task is {settings.task}, but the model's output {score.name!r} gives"
                    f" {inferred} predictions; fix eval.task or eval.output",
                    self._where,
                )
            inferred = settings.task
        self.task = inferred

    def _auto_output(self, outputs: Sequence[Any]) -> Any:
        for output in outputs:
            if output.type.startswith("seq(map("):
                return output
        floats = [o for o in outputs if o.type in ("tensor(float)", "tensor(double)")]
        for output in floats:
            if output.name.lower() in ("probabilities", "output_probability", "probability"):
                return output
        if not floats:
            raise InputError(
                "the model has no float output to read scores from; set eval.output", self._where
            )
        return floats[0]

    def _probe_width(self) -> int | None:
        """The score output's width, from one run on a row of zeros (its shape is dynamic)."""
        import numpy as np

        rows = max((item.batch or 1) for item in self._inputs)
        zeros = {c: np.zeros(rows) for item in self._inputs for c in item.columns}
        for item in self._inputs:
            if item.dtype == "object":
                zeros.update({c: np.full(rows, "", dtype=object) for c in item.columns})
        try:
            value = self._session.run([self._score_name], self._feeds(zeros, rows))[0]
        except Exception:  # the model needs real data to run: leave the width unknown
            return None
        return int(value.shape[-1]) if value.ndim >= 2 else 1

    # -- predictions ----------------------------------------------------------------------------

    def _feeds(self, features: Mapping[str, np.ndarray], rows: int) -> dict[str, np.ndarray]:
        return {item.name: self._feed(item, features, rows) for item in self._inputs}

    def _session_run(self, names: list[str], feeds: dict[str, np.ndarray]) -> list[Any]:
        from mlops_ci.bench.session import describe_load_error, onnxruntime_errors

        try:
            return list(self._session.run(names, feeds))
        except onnxruntime_errors() as exc:
            raise InputError(
                f"onnxruntime cannot run the model on the evaluation data"
                f" ({describe_load_error(exc)}); check eval.features against the model's inputs",
                self._where,
            ) from None

    def _run(self, features: Mapping[str, np.ndarray], rows: int) -> list[Any]:
        import numpy as np

        names = [self._score_name] + ([self._label_name] if self._label_name else [])
        fixed = next((item.batch for item in self._inputs if item.batch), None)
        if fixed is None:
            return list(self._session_run(names, self._feeds(features, rows)))
        # A fixed batch dimension: run in chunks of that size, the last padded with its last row.
        parts: list[list[Any]] = []
        for start in range(0, rows, fixed):
            stop = min(start + fixed, rows)
            index = np.minimum(np.arange(start, start + fixed), stop - 1)
            chunk = {c: v[index] for c, v in features.items()}
            got = self._session_run(names, self._feeds(chunk, fixed))
            parts.append([value[: stop - start] for value in got])
        return [
            [row for part in parts for row in part[i]]
            if isinstance(parts[0][i], list)
            else np.concatenate([part[i] for part in parts])
            for i in range(len(names))
        ]

    def predict(self, features: Mapping[str, np.ndarray]) -> Predictions:
        """Scores and labels for the rows of ``features`` (column name -> values)."""
        import numpy as np

        rows = len(next(iter(features.values())))
        got = self._run(features, rows)
        raw = got[0]
        if self.task == "regression":
            values = np.asarray(raw, dtype=np.float64).reshape(rows)
            return Predictions(labels=values, scores=None, classes=())
        if self._zipmap:
            # One C-level pass over the list of dicts (no Python loop per row).
            pick = operator.itemgetter(*self.classes)
            flat = itertools.chain.from_iterable(map(pick, raw))
            count = rows * len(self.classes)
            scores = np.fromiter(flat, dtype=np.float64, count=count).reshape(rows, -1)
        elif self._sigmoid:
            positive = np.asarray(raw, dtype=np.float64).reshape(rows)
            scores = np.column_stack([1.0 - positive, positive])
        else:
            scores = self._probabilities(
                np.asarray(raw, dtype=np.float64).reshape(rows, len(self.classes))
            )
        if self._label_name is not None:
            labels = np.asarray(got[1]).reshape(rows)
            if labels.dtype.kind in "US":
                labels = labels.astype(object)
        else:
            labels = np.asarray(self.classes, dtype=self._class_dtype())[scores.argmax(axis=1)]
        return Predictions(labels=labels, scores=scores, classes=self.classes)

    def _probabilities(self, scores: np.ndarray) -> np.ndarray:
        """Scores as probabilities: a bare score tensor that is not (rows in [0, 1] summing to
        1, e.g. raw logits) goes through softmax, which keeps each row's ranking."""
        import numpy as np

        if self._softmax is None:
            inside = bool(np.all((scores >= -1e-6) & (scores <= 1 + 1e-6)))
            self._softmax = not (inside and np.allclose(scores.sum(axis=1), 1.0, atol=1e-4))
        if not self._softmax:
            return scores
        return softmax_rows(scores)

    def _class_dtype(self) -> Any:
        return object if any(isinstance(c, str) for c in self.classes) else "int64"
