"""The paired bootstrap: the candidate's metric minus the baseline's, on the same resampled rows.

One resample draws row indices with replacement; both models are scored on the *same* indices,
so what the two models share (hard rows, easy rows) cancels in the difference and the interval
is much narrower than two independent intervals would give. The interval is the percentile
interval of the resampled differences at ``confidence``; the generator is
``numpy.random.default_rng`` seeded from ``seed`` and the group's name, so the same inputs always
give the same interval, and every metric of a group uses the same resamples.

Speed (a check runs this for every gated metric and every slice group):

- label metrics (accuracy, f1...) depend only on the (truth, candidate label, baseline label)
  triple of each row: rows compress to the few distinct triples with their counts, a resample is
  a count per triple, and the metric is evaluated on those few weighted triples: exact. The
  common metrics are evaluated for all resamples at once from the resulting confusion matrices
  (:func:`mlops_ci.eval.metrics.batched_metric`); the others by ``sklearn.metrics`` on the
  weighted triples, one call per resample.
- score and value metrics: a resample is ``sample_weight`` = the rows' draw counts (rows drawn
  zero times drop out), batched where :mod:`~mlops_ci.eval.metrics` has a batched form.
- more than :data:`CAP` rows: each resample draws ``m = CAP`` rows (the *m-out-of-n* bootstrap)
  and the interval is rescaled by ``sqrt(m / n)`` around the full-data difference. The spread
  of a smooth metric's estimate shrinks like ``1 / sqrt(rows)``, so the ``m``-row spread times
  ``sqrt(m / n)`` is the ``n``-row spread; this keeps the cost bounded (a 1,000,000-row eval
  would otherwise cost 50 times more per resample) for a slightly approximate interval, which
  is noted in the outcome. Point values are always the full data's.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_ci.eval.metrics import MetricSpec, batched_metric, compute_metric, encode, resample_sums
from mlops_ci.eval.types import Predictions, Task, Verdict

if TYPE_CHECKING:
    import numpy as np

CAP = 20_000  # rows drawn per resample at most (m-out-of-n beyond; see the docstring)
CHUNK_CELLS = 2_000_000  # row indices held at once (16 MB): resamples are drawn in chunks
MIN_VALID = 0.9  # resamples on which the metric must be computable for an interval


@dataclass(frozen=True)
class Paired:
    """One metric on the same rows for both models, and the interval of their difference."""

    metric: str
    candidate: float
    baseline: float
    delta: float
    low: float | None  # None: no interval (the metric cannot be computed on these rows)
    high: float | None
    rescaled: bool = False  # the m-out-of-n interval (more than CAP rows)


def take(pred: Predictions, rows: np.ndarray) -> Predictions:
    """The predictions of ``rows`` only."""
    scores = None if pred.scores is None else pred.scores[rows]
    return Predictions(pred.labels[rows], scores, pred.classes)


def rng_for(seed: int, key: str) -> np.random.Generator:
    """The generator of one group (``key``): independent of the others, stable across runs."""
    import numpy as np

    return np.random.default_rng([seed, zlib.crc32(key.encode())])


def draws(rows: int, resamples: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Row indices of ``resamples`` resamples, in chunks of shape (chunk, min(rows, CAP))."""
    import numpy as np

    m = min(rows, CAP)
    chunk = max(1, CHUNK_CELLS // max(1, m))
    for start in range(0, resamples, chunk):
        count = min(chunk, resamples - start)
        yield rng.integers(0, rows, size=(count, m), dtype=np.int64)


def decide(low: float | None, high: float | None, higher_is_better: bool, limit: float) -> Verdict:
    """PASS when the whole interval is within the tolerated change, FAIL when it is wholly
    beyond it, INCONCLUSIVE otherwise (or without an interval)."""
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return "inconclusive"
    if higher_is_better:
        if low >= -limit:
            return "pass"
        return "fail" if high < -limit else "inconclusive"
    if high <= limit:
        return "pass"
    return "fail" if low > limit else "inconclusive"


def paired_bootstrap(
    specs: Sequence[MetricSpec],
    task: Task,
    y_true: np.ndarray,
    candidate: Predictions,
    baseline: Predictions,
    positive_label: Any,
    *,
    confidence: float,
    resamples: int,
    seed: int,
    key: str = "",
) -> tuple[Paired, ...]:
    """Each metric for both models on these rows, with the paired-bootstrap interval of
    candidate - baseline (the same resampled rows for every metric and both models)."""
    import numpy as np

    rows = int(y_true.shape[0])
    points = [
        (
            compute_metric(spec, task, y_true, candidate, positive_label),
            compute_metric(spec, task, y_true, baseline, positive_label),
        )
        for spec in specs
    ]
    evaluators = [
        _evaluator(spec, task, y_true, candidate, baseline, positive_label)
        if not (math.isnan(c) or math.isnan(b))
        else None
        for spec, (c, b) in zip(specs, points, strict=True)
    ]
    diffs: list[list[np.ndarray]] = [[] for _ in specs]
    if rows and any(evaluator is not None for evaluator in evaluators):
        for idx in draws(rows, resamples, rng_for(seed, key)):
            for index, evaluator in enumerate(evaluators):
                if evaluator is not None:
                    diffs[index].append(evaluator(idx))
    results = []
    alpha = (1 - confidence) / 2
    scale = math.sqrt(min(rows, CAP) / rows) if rows else 1.0
    for spec, (c, b), parts in zip(specs, points, diffs, strict=True):
        delta = c - b
        low = high = None
        if parts:
            values = np.concatenate(parts)
            finite = values[np.isfinite(values)]
            if finite.size >= MIN_VALID * values.size:
                q_low, q_high = (float(v) for v in np.quantile(finite, [alpha, 1 - alpha]))
                low, high = delta + scale * (q_low - delta), delta + scale * (q_high - delta)
        results.append(Paired(spec.name, c, b, delta, low, high, rescaled=rows > CAP))
    return tuple(results)


def _evaluator(
    spec: MetricSpec,
    task: Task,
    y: np.ndarray,
    candidate: Predictions,
    baseline: Predictions,
    positive_label: Any,
) -> Any:
    """A function: resample indices -> candidate - baseline on each resample."""
    fast_c = batched_metric(spec, task, y, candidate, positive_label)
    fast_b = batched_metric(spec, task, y, baseline, positive_label)
    if fast_c is not None and fast_b is not None:
        return lambda idx: fast_c(idx) - fast_b(idx)
    if spec.uses == "labels":
        triples = compress(y, candidate, baseline)
        if triples is not None:
            return _triple_evaluator(spec, task, triples, candidate.classes, positive_label)
    return _weighted_evaluator(spec, task, y, candidate, baseline, positive_label)


@dataclass(frozen=True)
class Triples:
    """Rows compressed to their distinct (truth, candidate label, baseline label) triples."""

    ids: np.ndarray  # per row: its triple's index
    y: np.ndarray  # per triple
    candidate: np.ndarray
    baseline: np.ndarray
    counts: np.ndarray  # rows per triple


def compress(y: np.ndarray, candidate: Predictions, baseline: Predictions) -> Triples | None:
    """The distinct triples of the rows (None when a value is not one of the classes)."""
    import numpy as np

    classes = candidate.classes
    codes = [encode(values, classes) for values in (y, candidate.labels, baseline.labels)]
    if any(code is None for code in codes) or not classes:
        return None
    size = len(classes)
    truth, cand, base = (code for code in codes if code is not None)
    key = (truth * size + cand) * size + base
    unique, ids, counts = np.unique(key, return_inverse=True, return_counts=True)
    first = np.zeros(unique.shape[0], dtype=np.int64)
    first[ids.reshape(-1)] = np.arange(key.shape[0])  # any row of each triple
    return Triples(
        ids.reshape(-1).astype(np.int64),
        y[first],
        candidate.labels[first],
        baseline.labels[first],
        counts.astype(np.float64),
    )


def _triple_evaluator(
    spec: MetricSpec, task: Task, triples: Triples, classes: tuple[Any, ...], positive: Any
) -> Any:
    import numpy as np

    def evaluate(idx: np.ndarray) -> np.ndarray:
        weights = resample_sums(triples.ids, idx, triples.counts.shape[0])
        out = np.empty(idx.shape[0])
        for row, weight in enumerate(weights):
            keep = weight > 0
            y = triples.y[keep]
            c = Predictions(triples.candidate[keep], None, classes)
            b = Predictions(triples.baseline[keep], None, classes)
            w = weight[keep]
            out[row] = compute_metric(spec, task, y, c, positive, w) - compute_metric(
                spec, task, y, b, positive, w
            )
        return out

    return evaluate


def _weighted_evaluator(
    spec: MetricSpec,
    task: Task,
    y: np.ndarray,
    candidate: Predictions,
    baseline: Predictions,
    positive: Any,
) -> Any:
    import numpy as np

    rows = y.shape[0]

    def evaluate(idx: np.ndarray) -> np.ndarray:
        out = np.empty(idx.shape[0])
        for row in range(idx.shape[0]):
            weight = np.bincount(idx[row], minlength=rows).astype(np.float64)
            keep = np.flatnonzero(weight)  # rows drawn zero times drop out
            w = weight[keep]
            out[row] = compute_metric(
                spec, task, y[keep], take(candidate, keep), positive, w
            ) - compute_metric(spec, task, y[keep], take(baseline, keep), positive, w)
        return out

    return evaluate
