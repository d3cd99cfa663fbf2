"""A baseline with the candidate's bytes (a first release against its default branch, a re-run
after promotion) is scored once, and its intervals are exactly [0, 0] without drawing."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlops_ci.eval.bootstrap import paired_bootstrap
from mlops_ci.eval.engine import collect_rows, run_eval
from mlops_ci.eval.metrics import metric_spec
from mlops_ci.eval.types import Predictions
from tests.eval_fixtures import plan, trained


def test_identical_predictions_give_a_zero_interval() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 500)
    scores = rng.random((500, 2))
    same = Predictions(scores.argmax(axis=1), scores, (0, 1))
    copy = Predictions(same.labels.copy(), scores.copy(), (0, 1))
    specs = [metric_spec(name, "binary") for name in ("roc_auc", "accuracy", "f1")]
    results = paired_bootstrap(
        specs, "binary", y, same, copy, 1, confidence=0.95, resamples=200, seed=0
    )
    assert [(r.delta, r.low, r.high) for r in results] == [(0.0, 0.0, 0.0)] * 3
    one_class = paired_bootstrap(
        specs[:1], "binary", np.zeros(500, dtype=int), same, copy, 1,
        confidence=0.95, resamples=200, seed=0,
    )  # fmt: skip
    assert one_class[0].low is None  # ROC AUC of one class: no interval, never a pass


def test_a_baseline_with_the_candidates_bytes_is_scored_once(tmp_path: Path) -> None:
    model = trained("binary")
    data = model.write(tmp_path)
    evaluation = plan(model, data, baseline=model.onnx, metrics=["roc_auc", "accuracy"])
    rows, predict_candidate, predict_baseline = collect_rows(evaluation, same_model=True)
    assert predict_baseline is predict_candidate
    assert rows.baseline is not None
    assert np.array_equal(rows.baseline.labels, rows.candidate.labels)
    gated = plan(
        model,
        data,
        baseline=model.onnx,
        gate={"roc_auc": {"max_drop": 0.0}, "accuracy": {"max_drop": 0.0}},
    )
    outcome = run_eval(gated)
    assert outcome.verdict == "pass"
    assert outcome.candidate_digest == outcome.baseline_digest
    assert {(m.delta, m.low, m.high) for m in outcome.metrics if m.limit is not None} == {
        (0.0, 0.0, 0.0)
    }
    assert all(i.baseline == i.candidate for i in outcome.importance)
