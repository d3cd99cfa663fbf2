"""The metrics the eval gate measures: scikit-learn's, by their usual names, per task.

Every figure the gate reports is computed by :mod:`sklearn.metrics` (:func:`compute_metric`).
The paired bootstrap needs many resamples of the same metric: see
:mod:`mlops_ci.eval.batched` for the exact batched forms of the common ones.
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
