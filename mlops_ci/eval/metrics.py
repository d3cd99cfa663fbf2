"""The metrics the eval gate measures: scikit-learn's, by their usual names, per task.

Every metric is scikit-learn's definition (:func:`sklearn_metric` calls :mod:`sklearn.metrics`).
The common ones also have exact numpy forms (:mod:`mlops_ci.eval.batched`: confusion-matrix
label metrics, binary ROC AUC, squared and absolute errors, R^2), written for the paired
bootstrap and tested to give scikit-learn's value on every input the tests draw, edge cases
included. :func:`compute_metric` uses that form where it applies to the input as scikit-learn
would see it (no sample weights; finite scores; truth and labels of one kind, both among the
model's classes), and scikit-learn otherwise: importing scikit-learn (and SciPy under it) costs
about a second of CPU per run, more than everything else the gate computes on 5,000 rows.
"""

from __future__ import annotations

import difflib
import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from mlops_ci.eval.types import Predictions, Task

if TYPE_CHECKING:
    import numpy as np

Uses = Literal["labels", "scores", "values"]
_CLASSIFICATION: frozenset[Task] = frozenset({"binary", "multiclass"})
_BINARY: frozenset[Task] = frozenset({"binary"})
_REGRESSION: frozenset[Task] = frozenset({"regression"})


@dataclass(frozen=True)
class MetricSpec:
    """A metric: its name as configured, its direction, and which prediction it reads."""

    name: str
    higher_is_better: bool
    uses: Uses
    canonical: str = ""  # the registry name ("rmse" for "root_mean_squared_error")


@dataclass(frozen=True)
class _Def:
    tasks: frozenset[Task]
    higher_is_better: bool
    uses: Uses


AVERAGED = {
    f"{base}_{average}": _Def(_CLASSIFICATION, True, "labels")
    for base in ("f1", "precision", "recall")
    for average in ("macro", "micro", "weighted")
}
_REGISTRY: dict[str, _Def] = {
    "accuracy": _Def(_CLASSIFICATION, True, "labels"),
    "balanced_accuracy": _Def(_CLASSIFICATION, True, "labels"),
    "f1": _Def(_BINARY, True, "labels"),
    "precision": _Def(_BINARY, True, "labels"),
    "recall": _Def(_BINARY, True, "labels"),
    **AVERAGED,
    "matthews_corrcoef": _Def(_CLASSIFICATION, True, "labels"),
    "cohen_kappa": _Def(_CLASSIFICATION, True, "labels"),
    "roc_auc": _Def(_BINARY, True, "scores"),
    "roc_auc_ovr": _Def(_CLASSIFICATION, True, "scores"),
    "roc_auc_ovo": _Def(_CLASSIFICATION, True, "scores"),
    "average_precision": _Def(_BINARY, True, "scores"),
    "log_loss": _Def(_CLASSIFICATION, False, "scores"),
    "brier_score_loss": _Def(_BINARY, False, "scores"),
    "rmse": _Def(_REGRESSION, False, "values"),
    "mse": _Def(_REGRESSION, False, "values"),
    "mae": _Def(_REGRESSION, False, "values"),
    "r2": _Def(_REGRESSION, True, "values"),
    "mape": _Def(_REGRESSION, False, "values"),
    "median_absolute_error": _Def(_REGRESSION, False, "values"),
    "explained_variance": _Def(_REGRESSION, True, "values"),
}
# scikit-learn's function names for the same metrics.
_ALIASES = {
    "accuracy_score": "accuracy",
    "balanced_accuracy_score": "balanced_accuracy",
    "f1_score": "f1",
    "precision_score": "precision",
    "recall_score": "recall",
    "cohen_kappa_score": "cohen_kappa",
    "roc_auc_score": "roc_auc",
    "average_precision_score": "average_precision",
    "root_mean_squared_error": "rmse",
    "mean_squared_error": "mse",
    "mean_absolute_error": "mae",
    "r2_score": "r2",
    "mean_absolute_percentage_error": "mape",
    "explained_variance_score": "explained_variance",
}
_DEFAULTS: dict[Task, tuple[str, ...]] = {
    "binary": ("roc_auc", "accuracy", "f1"),
    # log_loss rather than roc_auc_ovr: it reads every probability, and batches exactly.
    "multiclass": ("accuracy", "f1_macro", "log_loss"),
    "regression": ("rmse", "mae", "r2"),
}


def metric_names(task: Task) -> tuple[str, ...]:
    """Every metric name (registry names, sorted) that applies to ``task``."""
    return tuple(sorted(name for name, spec in _REGISTRY.items() if task in spec.tasks))


def metric_spec(name: str, task: Task) -> MetricSpec:
    """The spec of metric ``name`` for ``task``; ValueError (with a did-you-mean) otherwise."""
    canonical = _ALIASES.get(name, name)
    found = _REGISTRY.get(canonical)
    if found is None:
        close = difflib.get_close_matches(name, [*_REGISTRY, *_ALIASES], n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ValueError(
            f"unknown metric {name!r}{hint}; {task} metrics: {', '.join(metric_names(task))}"
        )
    if task not in found.tasks:
        alternatives = [f"{canonical}_macro"] if f"{canonical}_macro" in _REGISTRY else []
        if canonical == "roc_auc":
            alternatives = ["roc_auc_ovr"]
        close = alternatives or difflib.get_close_matches(canonical, metric_names(task), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ValueError(
            f"metric {name!r} does not apply to a {task} task{hint}; {task} metrics:"
            f" {', '.join(metric_names(task))}"
        )
    return MetricSpec(name, found.higher_is_better, found.uses, canonical)


def default_metrics(task: Task) -> tuple[str, ...]:
    """The metrics measured when the configuration names none."""
    return _DEFAULTS[task]


def positive_index(classes: tuple[Any, ...], positive_label: Any) -> int:
    """The column of ``positive_label`` among ``classes`` (the last class when None)."""
    if positive_label is None:
        return len(classes) - 1
    for index, value in enumerate(classes):
        if value == positive_label or str(value) == str(positive_label):
            return index
    raise ValueError(f"the positive label {positive_label!r} is not a class of the model")


def compute_metric(
    spec: MetricSpec,
    task: Task,
    y_true: np.ndarray,
    pred: Predictions,
    positive_label: Any = None,
    sample_weight: np.ndarray | None = None,
) -> float:
    """The metric, scikit-learn's value; NaN when it cannot be computed (one class only...).

    Exact numpy form where one applies (see the module doc), ``sklearn.metrics`` otherwise.
    """
    if y_true.shape[0] == 0:
        return math.nan
    if sample_weight is None:
        exact = _exact_metric(spec, task, y_true, pred, positive_label)
        if exact is not None:
            return exact
    return sklearn_metric(spec, task, y_true, pred, positive_label, sample_weight)


def sklearn_metric(
    spec: MetricSpec,
    task: Task,
    y_true: np.ndarray,
    pred: Predictions,
    positive_label: Any = None,
    sample_weight: np.ndarray | None = None,
) -> float:
    """The metric by ``sklearn.metrics``; NaN when it cannot be computed (one class only...)."""
    import numpy as np

    if y_true.shape[0] == 0:
        return math.nan
    try:
        with warnings.catch_warnings():
            # Undefined cases come back as NaN or zero_division; the caller reports them.
            warnings.simplefilter("ignore")
            value = float(_sklearn(spec, task, y_true, pred, positive_label, sample_weight))
    except (ValueError, ZeroDivisionError, IndexError, TypeError):
        return math.nan
    return value if np.isfinite(value) else math.nan


# Metrics whose exact form gives scikit-learn's value on any input that passes _exact_inputs.
# Not log_loss (scikit-learn rejects scores whose rows do not sum to one) and not the
# multiclass AUCs (the same): those inputs are scikit-learn's to judge.
_EXACT_SCORES = frozenset({"roc_auc", "roc_auc_ovr", "roc_auc_ovo"})


def _exact_metric(
    spec: MetricSpec, task: Task, y_true: np.ndarray, pred: Predictions, positive_label: Any
) -> float | None:
    """The exact numpy form's value, or None when scikit-learn must decide."""
    import numpy as np

    from mlops_ci.eval.batched import batched_metric

    name = spec.canonical or spec.name
    if spec.uses == "scores" and not (task == "binary" and name in _EXACT_SCORES):
        return None
    if not _exact_inputs(spec, y_true, pred):
        return None
    if name == "r2" and y_true.shape[0] < 2:
        return None  # scikit-learn: not well-defined with less than two samples (NaN)
    try:
        with np.errstate(all="ignore"):
            evaluate = batched_metric(spec, task, y_true, pred, positive_label)
            if evaluate is None:
                return None
            value = float(evaluate(np.arange(y_true.shape[0], dtype=np.int64)[None, :])[0])
    except (ValueError, IndexError):
        return None  # positive_label not a class, and the like: scikit-learn's message
    return value if math.isfinite(value) else math.nan


def _exact_inputs(spec: MetricSpec, y_true: np.ndarray, pred: Predictions) -> bool:
    """Whether scikit-learn would take these inputs as they are: finite numbers where numbers
    are read, and truth and labels of one kind (scikit-learn refuses to compare strings with
    numbers, while the exact forms match a class by its text too)."""
    import numpy as np

    y = np.asarray(y_true)
    if spec.uses == "values":
        labels = np.asarray(pred.labels)
        numeric = y.dtype.kind in "biuf" and labels.dtype.kind in "biuf"
        return numeric and bool(np.all(np.isfinite(y)) and np.all(np.isfinite(labels)))
    if not pred.classes or not _one_kind(y, pred.classes):
        return False
    if spec.uses == "labels":
        return _one_kind(np.asarray(pred.labels), pred.classes)
    scores = pred.scores
    return scores is not None and scores.ndim == 2 and bool(np.all(np.isfinite(scores)))


def _one_kind(values: np.ndarray, classes: tuple[Any, ...]) -> bool:
    """``values`` and ``classes`` are all numbers (a numeric array; not bools), or all strings.

    scikit-learn calls an object array of anything but strings an "unknown" target, and
    refuses it: such arrays are its to judge.
    """
    kinds = {_kind(c) for c in classes}
    if values.dtype.kind in "iuf":
        kinds.add("number")
    elif values.dtype.kind == "U":
        kinds.add("text")
    elif values.dtype.kind == "O":
        kinds.update("text" if isinstance(v, str) else "other" for v in set(values.tolist()))
    else:
        return False
    return len(kinds) == 1 and "other" not in kinds


def _kind(value: Any) -> str:
    import numbers

    import numpy as np

    if isinstance(value, str):
        return "text"
    if isinstance(value, bool | np.bool_):
        return "other"
    return "number" if isinstance(value, numbers.Real) else "other"


def _sklearn(
    spec: MetricSpec,
    task: Task,
    y: np.ndarray,
    pred: Predictions,
    positive_label: Any,
    weight: np.ndarray | None,
) -> float:
    from sklearn import metrics

    name = spec.canonical or spec.name
    classes = list(pred.classes)
    if spec.uses == "values":
        values = {
            "rmse": metrics.root_mean_squared_error,
            "mse": metrics.mean_squared_error,
            "mae": metrics.mean_absolute_error,
            "r2": metrics.r2_score,
            "mape": metrics.mean_absolute_percentage_error,
            "median_absolute_error": metrics.median_absolute_error,
            "explained_variance": metrics.explained_variance_score,
        }[name]
        return float(values(y, pred.labels, sample_weight=weight))
    positive = classes[positive_index(pred.classes, positive_label)] if classes else None
    labels = pred.labels
    if spec.uses == "labels":
        return _label_metric(name, y, labels, classes, positive, weight)
    if pred.scores is None:
        raise ValueError("the model gives no scores")
    scores = pred.scores
    pos = positive_index(pred.classes, positive_label)
    if name == "log_loss":
        return float(metrics.log_loss(y, scores, labels=classes, sample_weight=weight))
    if task == "binary" and name in {"roc_auc", "roc_auc_ovr", "roc_auc_ovo"}:
        return float(metrics.roc_auc_score(y == positive, scores[:, pos], sample_weight=weight))
    if name in {"roc_auc_ovr", "roc_auc_ovo"}:
        return float(
            metrics.roc_auc_score(
                y, scores, multi_class=name[-3:], labels=classes, sample_weight=weight
            )
        )
    if name == "average_precision":
        return float(
            metrics.average_precision_score(y == positive, scores[:, pos], sample_weight=weight)
        )
    if name == "brier_score_loss":
        return float(metrics.brier_score_loss(y == positive, scores[:, pos], sample_weight=weight))
    raise ValueError(f"no scikit-learn function for {name}")


def _label_metric(
    name: str,
    y: np.ndarray,
    labels: np.ndarray,
    classes: list[Any],
    positive: Any,
    weight: np.ndarray | None,
) -> float:
    from sklearn import metrics

    if name == "accuracy":
        return float(metrics.accuracy_score(y, labels, sample_weight=weight))
    if name == "balanced_accuracy":
        return float(metrics.balanced_accuracy_score(y, labels, sample_weight=weight))
    if name == "matthews_corrcoef":
        return float(metrics.matthews_corrcoef(y, labels, sample_weight=weight))
    if name == "cohen_kappa":
        return float(metrics.cohen_kappa_score(y, labels, labels=classes, sample_weight=weight))
    base, _, average = name.partition("_")
    function = {
        "f1": metrics.f1_score,
        "precision": metrics.precision_score,
        "recall": metrics.recall_score,
    }[base]
    if not average:
        return float(
            function(
                y, labels, pos_label=positive, labels=classes, zero_division=0.0,
                sample_weight=weight,
            )
        )  # fmt: skip
    return float(
        function(
            y, labels, average=average, labels=classes, zero_division=0.0, sample_weight=weight
        )
    )
