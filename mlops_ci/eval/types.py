"""What the parts of the eval gate hand each other: frozen, numpy-backed, JSON on demand.

``engine.collect_rows`` produces :class:`EvalRows`; ``analysis.analyse`` turns it into an
:class:`EvalOutcome`; the check turns that into findings, facts and evidence.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import numpy as np

Task = Literal["binary", "multiclass", "regression"]
Verdict = Literal["pass", "fail", "inconclusive", "none"]


@dataclass(frozen=True)
class Predictions:
    """One model's outputs on the evaluation rows, in row order.

    ``labels``: the predicted class per row (values from ``classes``), or the predicted value
    for regression. ``scores``: ``(rows, len(classes))`` float64 probabilities or scores, columns
    in ``classes`` order; ``None`` for regression.
    """

    labels: np.ndarray
    scores: np.ndarray | None
    classes: tuple[Any, ...] = ()


@dataclass(frozen=True)
class FeatureSample:
    """A bounded, seeded sample of evaluation rows for permutation importance."""

    columns: tuple[str, ...]  # every feature column, in input order
    values: Mapping[str, np.ndarray]  # column -> its values on the sampled rows
    y_true: np.ndarray


# Scores the rows of a feature table (column -> values) with one model.
Predictor = Callable[[Mapping[str, "np.ndarray"]], Predictions]


@dataclass(frozen=True)
class EvalRows:
    """What streaming the data through both models kept; nothing else of the data stays."""

    task: Task
    y_true: np.ndarray  # labels, in the model's class domain (see Predictions.classes)
    candidate: Predictions
    baseline: Predictions | None
    groups: Mapping[str, np.ndarray]  # slice and sensitive columns; values as str
    sample: FeatureSample | None
    data_digest: str  # "sha256:<hex>" over the data file(s)
    data_display: str  # the data path as the user wrote it
    positive_label: Any = None  # binary: the class metrics treat as positive

    @property
    def rows(self) -> int:
        """The number of evaluated rows."""
        return int(self.y_true.shape[0])


@dataclass(frozen=True)
class MetricResult:
    """One metric: both models' values and, with a baseline, the paired difference."""

    name: str
    higher_is_better: bool
    candidate: float
    baseline: float | None = None
    delta: float | None = None  # candidate - baseline
    low: float | None = None  # the confidence interval of delta
    high: float | None = None
    limit: float | None = None  # max_drop or max_rise (a positive number); None: not gated
    verdict: Verdict = "none"  # "none": not gated, or no baseline


@dataclass(frozen=True)
class SliceResult:
    """One metric on one group of a slice column."""

    column: str
    group: str
    rows: int
    metric: str
    candidate: float
    baseline: float | None = None
    delta: float | None = None
    low: float | None = None
    high: float | None = None
    verdict: Verdict = "none"  # "none": too few rows, no baseline, or not computable


@dataclass(frozen=True)
class FairnessResult:
    """A fairlearn metric over a sensitive column, for both models, against its limit."""

    metric: str
    by: str
    candidate: float
    baseline: float | None = None
    max: float | None = None
    min: float | None = None

    @property
    def passed(self) -> bool:
        """Whether the candidate's value is within the limit; a value that cannot be computed
        (NaN) never passes."""
        if math.isnan(self.candidate):
            return False
        if self.max is not None and self.candidate > self.max:
            return False
        return not (self.min is not None and self.candidate < self.min)


@dataclass(frozen=True)
class Importance:
    """Permutation importance of one feature: mean (and std) score drop when it is shuffled."""

    feature: str
    candidate: float
    candidate_std: float
    baseline: float | None = None
    baseline_std: float | None = None


@dataclass(frozen=True)
class EvalOutcome:
    """Everything the eval gate measured for one model."""

    task: Task
    rows: int
    data_digest: str
    data_display: str
    metrics: tuple[MetricResult, ...]
    slices: tuple[SliceResult, ...] = ()
    fairness: tuple[FairnessResult, ...] = ()
    importance: tuple[Importance, ...] = ()
    importance_metric: str | None = None
    baseline_label: str | None = None  # None: no baseline was compared
    baseline_digest: str | None = None  # "sha256:<hex>" of the baseline model's bytes
    candidate_digest: str | None = None
    verdict: Verdict = "none"  # fail > inconclusive > pass; "none" without a baseline
    confidence: float = 0.95
    resamples: int = 1000
    seed: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)
