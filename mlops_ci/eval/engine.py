"""Stream the evaluation rows through the candidate and the baseline; keep only what counts.

Per batch of ``eval.batch_rows`` rows: both models score the same rows; the labels (coerced into
the models' class domain), both models' predictions, the slice and sensitive columns (as text)
and a seeded reservoir sample of the features (for permutation importance) are kept. The kept
arrays are concatenated once at the end.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_ci.errors import InputError, SourcePosition
from mlops_ci.eval.data import DataSource, EvalDataError, data_digest, read_batches
from mlops_ci.eval.model import EvalModel
from mlops_ci.eval.types import EvalOutcome, EvalRows, FeatureSample, Predictions, Predictor

if TYPE_CHECKING:
    import numpy as np

    from mlops_ci.eval.settings import EvalSettings


@dataclass(frozen=True)
class EvalPlan:
    """What one evaluation compares, on which data, with which settings."""

    candidate: Path | bytes
    candidate_display: str
    baseline: Path | bytes | None
    baseline_label: str | None
    data: DataSource
    settings: EvalSettings


def model_digest(model: Path | bytes) -> str:
    """``sha256:<hex>`` of a model's bytes (a file is streamed)."""
    from mlops_ci.sbom.mlbom import sha256_file

    if isinstance(model, bytes):
        return f"sha256:{hashlib.sha256(model).hexdigest()}"
    return f"sha256:{sha256_file(model)}"


class _Reservoir:
    """A uniform, seeded sample of ``size`` rows: each row draws a key from one seeded stream
    (so the sample does not depend on the batch size) and the smallest keys are kept."""

    def __init__(self, size: int, seed: int) -> None:
        import numpy as np

        self._size = size
        self._rng = np.random.default_rng(seed)
        self._keys = np.empty(0)
        self._index = np.empty(0, dtype=np.int64)
        self._values: dict[str, np.ndarray] = {}

    def add(self, batch: Mapping[str, np.ndarray], offset: int) -> None:
        import numpy as np

        rows = len(next(iter(batch.values())))
        drawn = self._rng.random(rows)
        new = np.arange(rows)
        if len(self._keys) >= self._size:  # full: only rows that beat the worst kept key count
            new = np.flatnonzero(drawn < self._keys.max())
        keys = np.concatenate([self._keys, drawn[new]])
        index = np.concatenate([self._index, new + offset])
        values = {
            c: np.concatenate([self._values[c], v[new]]) if c in self._values else v[new]
            for c, v in batch.items()
        }
        if len(keys) > self._size:
            keep = np.sort(np.argpartition(keys, self._size - 1)[: self._size])
            keys, index = keys[keep], index[keep]
            values = {c: v[keep] for c, v in values.items()}
        self._keys, self._index, self._values = keys, index, values

    def result(self) -> dict[str, np.ndarray]:
        """The sampled rows' values, in data order."""
        import numpy as np

        order = np.argsort(self._index, kind="stable")
        return {c: v[order] for c, v in self._values.items()}


def _label_domain(
    y: np.ndarray, model: EvalModel, column: str, where: SourcePosition, offset: int
) -> np.ndarray:
    """``y`` in the model's class domain, where the conversion is lossless; else EVAL-DATA."""
    import numpy as np

    if y.dtype.kind == "f":
        bad = ~np.isfinite(y)
        if bad.any():
            row = offset + int(np.argmax(bad)) + 1
            raise EvalDataError(
                f"label column {column!r} has a NaN or infinite value (row {row}); fix or drop"
                " those rows",
                where,
            )
    if model.task == "regression":
        if y.dtype == object:
            raise EvalDataError(
                f"label column {column!r} holds text, but the model is a regressor; give numbers",
                where,
            )
        return y.astype(np.float64)
    classes = model.classes
    text = any(isinstance(c, str) for c in classes)
    if text:
        if y.dtype.kind == "f" and np.all(y == np.round(y)):
            y = y.astype(np.int64)
        domain = y.astype(str).astype(object)
    elif y.dtype == object:
        try:
            domain = np.array([int(v) for v in y], dtype=np.int64)
        except ValueError:
            domain = y
    elif (y.dtype.kind == "f" and np.all(y == np.round(y))) or y.dtype.kind in "biu":
        domain = y.astype(np.int64)
    else:
        domain = y
    unknown = ~np.isin(domain, np.asarray(classes, dtype=object if text else np.int64))
    if domain.dtype == object and not text:
        unknown = np.ones(len(domain), dtype=bool)
    if unknown.any():
        values = sorted(
            {v.item() if isinstance(v, np.generic) else v for v in domain[unknown]}, key=str
        )
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            shown = ", ".join(repr(v) for v in values[:5]) + (" …" if len(values) > 5 else "")
        else:  # text is the file's own content: say where, not what
            row = offset + int(np.argmax(unknown)) + 1
            shown = f"{len(values)} distinct text value(s), the first in data row {row}"
        raise EvalDataError(
            f"label column {column!r} has values the model cannot produce ({shown}); the model's"
            f" classes are {', '.join(map(repr, classes[:10]))}; fix eval.label or the data",
            where,
        )
    return domain


def _positive(settings: EvalSettings, classes: tuple[Any, ...], where: SourcePosition) -> Any:
    if settings.positive_label is None:
        return classes[-1]
    for value in classes:
        if str(value) == str(settings.positive_label):
            return value
    raise InputError(
        f"eval.positive_label {settings.positive_label!r} is not a class of the model (its"
        f" classes are {', '.join(map(repr, classes))}); fix eval.positive_label",
        where,
    )


def _finite(got: Predictions, model: EvalModel, where: SourcePosition, offset: int) -> Predictions:
    """``got``, refused when the model gave NaN or infinite scores (NaN features, usually)."""
    import numpy as np

    values = got.scores if got.scores is not None else got.labels
    finite = np.isfinite(values)
    if not finite.all():
        bad = ~finite.reshape(len(values), -1).all(axis=1)
        raise EvalDataError(
            f"the model {model.display} gives NaN or infinite scores for {int(bad.sum())} rows"
            f" (first: row {offset + int(np.argmax(bad)) + 1}); look for NaN or infinite values"
            " in the eval.features columns there",
            where,
        )
    return got


def _concat(parts: list[Predictions], classes: tuple[Any, ...]) -> Predictions:
    import numpy as np

    scores = [p.scores for p in parts if p.scores is not None]
    return Predictions(
        labels=np.concatenate([p.labels for p in parts]),
        scores=np.concatenate(scores) if scores else None,
        classes=classes,
    )


def _groups(values: np.ndarray) -> np.ndarray:
    import numpy as np

    if values.dtype == object:
        return np.asarray(values, dtype=str)
    return values.astype(str)


def collect_rows(
    plan: EvalPlan, *, same_model: bool = False
) -> tuple[EvalRows, Predictor, Predictor | None]:
    """Stream the data through both models; the kept rows and each model's predictor.

    ``same_model``: the baseline's bytes are the candidate's (a first release compared with the
    default branch, a re-run after promotion): one session scores the rows for both, and the
    baseline's predictor *is* the candidate's, so the analysis need not measure it twice.
    """
    import threading
    from concurrent.futures import ThreadPoolExecutor

    # The data's digest is hashed alongside the reading (hashlib releases the GIL); an error
    # stops it, so that the user does not wait for a large file to be hashed for nothing.
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as pool:
        digest = pool.submit(data_digest, plan.data, stop=stop)
        try:
            return _collect(plan, digest.result, same_model)
        except BaseException:
            stop.set()
            raise


def _collect(
    plan: EvalPlan, digest: Callable[[], str], same_model: bool
) -> tuple[EvalRows, Predictor, Predictor | None]:
    import numpy as np

    settings = plan.settings
    # The models' EVAL-DATA errors name the data as given (--data may override eval.data).
    fed = settings.model_copy(update={"data": plan.data.display})
    data_where = SourcePosition(plan.data.display)
    candidate = EvalModel(plan.candidate, fed, plan.candidate_display)
    baseline = None
    if plan.baseline is not None and same_model:
        baseline = candidate
    elif plan.baseline is not None:
        shown = plan.baseline_label or "baseline"
        baseline = EvalModel(plan.baseline, fed, shown)
        if baseline.task != candidate.task or baseline.classes != candidate.classes:
            raise InputError(
                f"the baseline ({shown}) predicts {baseline.task} classes"
                f" {list(baseline.classes)}, the candidate {candidate.task} classes"
                f" {list(candidate.classes)}; compare models of the same task and classes",
                SourcePosition(plan.candidate_display),
            )
    features = settings.feature_columns()
    group_columns = list(dict.fromkeys([*settings.slices, *(f.by for f in settings.fairness)]))
    columns = list(dict.fromkeys([settings.label, *features, *group_columns]))
    nullable = set(group_columns) - {settings.label, *features}
    reservoir = (
        _Reservoir(settings.importance.rows, settings.seed) if settings.importance.enabled else None
    )
    y_parts: list[np.ndarray] = []
    cand_parts: list[Predictions] = []
    base_parts: list[Predictions] = []
    group_parts: dict[str, list[np.ndarray]] = {c: [] for c in group_columns}
    offset = 0
    for batch in read_batches(plan.data, columns, settings.batch_rows, nullable=nullable):
        y = _label_domain(batch[settings.label], candidate, settings.label, data_where, offset)
        feats = {c: batch[c] for c in features}
        cand_parts.append(_finite(candidate.predict(feats), candidate, data_where, offset))
        if baseline is candidate:
            base_parts.append(cand_parts[-1])
        elif baseline is not None:
            base_parts.append(_finite(baseline.predict(feats), baseline, data_where, offset))
        y_parts.append(y)
        for column in group_columns:
            group_parts[column].append(_groups(batch[column]))
        if reservoir is not None:
            reservoir.add({**feats, "\0y": y}, offset)
        offset += len(y)
    sample = None
    if reservoir is not None:
        kept = reservoir.result()
        y_sample = kept.pop("\0y")
        sample = FeatureSample(columns=tuple(features), values=kept, y_true=y_sample)
    positive = (
        _positive(settings, candidate.classes, SourcePosition(plan.candidate_display))
        if candidate.task == "binary"
        else None
    )
    rows = EvalRows(
        task=candidate.task,
        y_true=np.concatenate(y_parts),
        candidate=_concat(cand_parts, candidate.classes),
        baseline=_concat(base_parts, candidate.classes) if baseline is not None else None,
        groups={c: np.concatenate(parts) for c, parts in group_parts.items()},
        sample=sample,
        data_digest=digest(),
        data_display=plan.data.display,
        positive_label=positive,
    )
    predict_candidate = candidate.predict
    if baseline is candidate:
        return rows, predict_candidate, predict_candidate
    return rows, predict_candidate, baseline.predict if baseline is not None else None


def run_eval(plan: EvalPlan) -> EvalOutcome:
    """The whole evaluation: stream the rows, analyse them, and record both models' digests."""
    # Looked up at run time: analysis.py is the statistics half of the gate (its own module).
    analysis = importlib.import_module("mlops_ci.eval.analysis")
    candidate_digest = model_digest(plan.candidate)
    baseline_digest = model_digest(plan.baseline) if plan.baseline is not None else None
    rows, predict_candidate, predict_baseline = collect_rows(
        plan, same_model=baseline_digest == candidate_digest
    )
    outcome: EvalOutcome = analysis.analyse(
        rows,
        plan.settings,
        predict_candidate=predict_candidate,
        predict_baseline=predict_baseline,
        baseline_label=plan.baseline_label,
    )
    return dataclasses.replace(
        outcome,
        candidate_digest=candidate_digest,
        baseline_digest=baseline_digest,
    )
