"""The paired bootstrap: the candidate's metric minus the baseline's, on the same resampled rows.

One resample draws row indices with replacement; both models are scored on the *same* indices,
so what the two models share (hard rows, easy rows) cancels in the difference and the interval
is much narrower than two independent intervals would give. The interval is the percentile
interval of the resampled differences at ``confidence``; the generator is
``numpy.random.default_rng`` seeded from ``seed`` and the group's name, so the same inputs always
give the same interval; a metric's interval does not depend on which other metrics are asked.

Speed (a check runs this for every gated metric and every slice group):

- label metrics (accuracy, f1...) depend only on the (truth, candidate label, baseline label)
  triple of each row: rows compress to the few distinct triples with their counts, and a
  resample of the rows is a multinomial draw of counts over the triples (same distribution as
  drawing row indices, at the cost of a few numbers per resample). The metric on the weighted
  triples equals the metric on the resampled rows exactly (the tests prove it on the same
  indices). The common label metrics are evaluated for all resamples at once from the
  confusion matrices those counts give (:func:`mlops_ci.eval.batched.confusion_metric`); the
  others by ``sklearn.metrics`` on the weighted triples, one call per resample.
- score and value metrics: a resample is ``sample_weight`` = the rows' draw counts (rows drawn
  zero times drop out), batched where :mod:`~mlops_ci.eval.batched` has a form.
- score and value metrics on more than :data:`CAP` rows: each resample draws ``m = CAP`` rows (the *m-out-of-n* bootstrap)
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

from mlops_ci.eval.auc import RowCounter
from mlops_ci.eval.batched import BatchFn, batched_metric, confusion_metric, encode
from mlops_ci.eval.metrics import MetricSpec, compute_metric, positive_index
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
    candidate - baseline (the same resampled rows for both models; label metrics share one
    multinomial draw of triple counts, the other metrics one draw of row indices)."""
    import numpy as np

    rows = int(y_true.shape[0])
    points = [
        (
            compute_metric(spec, task, y_true, candidate, positive_label),
            compute_metric(spec, task, y_true, baseline, positive_label),
        )
        for spec in specs
    ]
    computable = [not (math.isnan(c) or math.isnan(b)) for c, b in points]
    if _identical(candidate, baseline):
        # The same prediction on every row: every resample's difference is exactly zero, so the
        # interval is [0, 0] without drawing (the baseline is the candidate's bytes, or a model
        # these rows cannot tell from it).
        return tuple(
            Paired(spec.name, c, b, c - b, *((0.0, 0.0) if ok else (None, None)))
            for spec, (c, b), ok in zip(specs, points, computable, strict=True)
        )
    triples = (
        compress(y_true, candidate, baseline)
        if any(spec.uses == "labels" for spec in specs)
        else None
    )
    evaluators = [
        _evaluator(spec, task, y_true, candidate, baseline, positive_label, triples) if ok else None
        for spec, ok in zip(specs, computable, strict=True)
    ]
    diffs: list[list[np.ndarray]] = [[] for _ in specs]
    kinds = {evaluator[0] for evaluator in evaluators if evaluator is not None}
    if rows and triples is not None and "triples" in kinds:
        # A row resample's triple counts are a multinomial draw over the triples' shares: drawn
        # directly (a few numbers per resample), all n rows, no m-out-of-n needed.
        draw = rng_for(seed, key + "\0triples").multinomial(
            rows, triples.counts / rows, size=resamples
        )
        counts = draw.astype(np.float64)
        for index, evaluator in enumerate(evaluators):
            if evaluator is not None and evaluator[0] == "triples":
                diffs[index].append(evaluator[1](counts))
    if rows and "rows" in kinds:
        for idx in draws(rows, resamples, rng_for(seed, key)):
            for index, evaluator in enumerate(evaluators):
                if evaluator is not None and evaluator[0] == "rows":
                    diffs[index].append(evaluator[1](idx))
    results = []
    alpha = (1 - confidence) / 2
    for spec, (c, b), parts, evaluator in zip(specs, points, diffs, evaluators, strict=True):
        delta = c - b
        low = high = None
        rescaled = rows > CAP and evaluator is not None and evaluator[0] == "rows"
        scale = math.sqrt(CAP / rows) if rescaled else 1.0
        if parts:
            values = np.concatenate(parts)
            finite = values[np.isfinite(values)]
            if finite.size >= MIN_VALID * values.size:
                q_low, q_high = (float(v) for v in np.quantile(finite, [alpha, 1 - alpha]))
                low, high = delta + scale * (q_low - delta), delta + scale * (q_high - delta)
        results.append(Paired(spec.name, c, b, delta, low, high, rescaled=rescaled))
    return tuple(results)


def _identical(candidate: Predictions, baseline: Predictions) -> bool:
    import numpy as np

    if not np.array_equal(candidate.labels, baseline.labels):
        return False
    if candidate.scores is None or baseline.scores is None:
        return candidate.scores is None and baseline.scores is None
    return bool(np.array_equal(candidate.scores, baseline.scores))


def _evaluator(
    spec: MetricSpec,
    task: Task,
    y: np.ndarray,
    candidate: Predictions,
    baseline: Predictions,
    positive_label: Any,
    triples: Triples | None,
) -> tuple[str, BatchFn]:
    """("triples", triple counts -> differences) for label metrics, else ("rows", resample
    indices -> differences): candidate - baseline on each resample."""
    if spec.uses == "labels" and triples is not None:
        pos = positive_index(candidate.classes, positive_label)
        from_confusion = confusion_metric(spec.canonical or spec.name, pos)
        if from_confusion is None:
            return "triples", _triple_evaluator(
                spec, task, triples, candidate.classes, positive_label
            )
        size = len(candidate.classes)
        to_candidate = _one_hot(triples.pair_candidate, size * size)
        to_baseline = _one_hot(triples.pair_baseline, size * size)
        return (
            "triples",
            lambda counts: (
                from_confusion(counts @ to_candidate) - from_confusion(counts @ to_baseline)
            ),
        )
    counter = RowCounter(int(y.shape[0]))  # one scatter per chunk, for both models
    fast_c = batched_metric(spec, task, y, candidate, positive_label, counter)
    fast_b = batched_metric(spec, task, y, baseline, positive_label, counter)
    if fast_c is not None and fast_b is not None:
        return "rows", lambda idx: fast_c(idx) - fast_b(idx)
    return "rows", _weighted_evaluator(spec, task, y, candidate, baseline, positive_label)


def _one_hot(codes: np.ndarray, width: int) -> np.ndarray:
    import numpy as np

    matrix = np.zeros((codes.shape[0], width))
    matrix[np.arange(codes.shape[0]), codes] = 1.0
    return matrix


@dataclass(frozen=True)
class Triples:
    """Rows compressed to their distinct (truth, candidate label, baseline label) triples."""

    ids: np.ndarray  # per row: its triple's index
    y: np.ndarray  # per triple
    candidate: np.ndarray
    baseline: np.ndarray
    counts: np.ndarray  # rows per triple
    pair_candidate: np.ndarray  # per triple: truth * classes + candidate label (class indices)
    pair_baseline: np.ndarray


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
        truth[first] * size + cand[first],
        truth[first] * size + base[first],
    )


def _triple_evaluator(
    spec: MetricSpec, task: Task, triples: Triples, classes: tuple[Any, ...], positive: Any
) -> BatchFn:
    import numpy as np

    def evaluate(weights: np.ndarray) -> np.ndarray:
        """Triple counts (resamples x triples) -> differences, by sklearn.metrics."""
        out = np.empty(weights.shape[0])
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
) -> BatchFn:
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
