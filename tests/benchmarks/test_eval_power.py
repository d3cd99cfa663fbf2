"""Acceptance 2 of issue 14: power and false alarms of the eval gate's paired bootstrap.

Each trial draws a fresh seeded problem (``make_classification``, 5,000 evaluation rows, label
noise), trains a logistic regression (the baseline), and builds a candidate from the baseline's
predictions; the analysis runs with the trial's own bootstrap seed (1,000 resamples, 95%).
The gate is the contract's spirit: ``accuracy: {max_drop: 0.01}`` and the default
``slice_gate: {max_drop: 0.03, min_rows: 200}``, slices ``region`` (one group of 10% of the rows,
three of 30%) and ``plan`` (four random groups). Candidates:

- **worse**: 2 points of accuracy worse (3% of the rows the baseline gets right turned wrong,
  1% of those it gets wrong turned right: the models disagree on 4% of the rows);
- **identical**: the baseline's own predictions;
- **equivalent**: as accurate as the baseline but different (1% right turned wrong, 1% wrong
  turned right): reported, not a criterion of the issue;
- **group**: 6 points worse on ``region = north`` only (10% of the rows; 0.6 points overall).

Wanted: *worse* FAILs in at least 19 of 20 trials; *identical* FAILs in at most 1 of 20;
*group* gets an ``EVAL-SLICE-REGRESSION`` (the ``north`` slice FAILs) while the aggregate
accuracy PASSes, in at least 19 of 20 trials, and no other group fails.

Run with ``pytest tests/benchmarks/test_eval_power.py --benchmarks -s`` (about 5 s; a quick
version of 5 trials runs in the default tier: tests/test_eval_stats_power.py).
"""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from mlops_ci.eval.analysis import analyse
from mlops_ci.eval.settings import EvalSettings
from mlops_ci.eval.types import EvalOutcome, EvalRows, Predictions

ROWS = 5000
TRIALS = 20
KINDS = ("worse", "identical", "equivalent", "group")


def problem(seed: int) -> tuple[np.ndarray, Predictions, dict[str, np.ndarray]]:
    """Labels, the baseline's predictions and the group columns of one seeded trial."""
    x, y = make_classification(
        n_samples=ROWS + 2000, n_features=10, n_informative=5, flip_y=0.05, random_state=seed
    )
    model = LogisticRegression().fit(x[ROWS:], y[ROWS:])
    rng = np.random.default_rng(seed)
    region = np.array(["east", "south", "west"])[rng.integers(0, 3, ROWS)]
    region[rng.permutation(ROWS)[: ROWS // 10]] = "north"
    groups = {"region": region, "plan": np.array(list("abcd"))[rng.integers(0, 4, ROWS)]}
    pred = Predictions(model.predict(x[:ROWS]), model.predict_proba(x[:ROWS]), (0, 1))
    return y[:ROWS], pred, groups


def flip(pred: Predictions, rows: np.ndarray) -> Predictions:
    """The predictions with the label (and the scores) of ``rows`` swapped."""
    labels, scores = pred.labels.copy(), None if pred.scores is None else pred.scores.copy()
    labels[rows] = 1 - labels[rows]
    if scores is not None:
        scores[rows] = scores[rows][:, ::-1]
    return Predictions(labels, scores, pred.classes)


def candidate(
    kind: str, y: np.ndarray, base: Predictions, groups: dict[str, np.ndarray], seed: int
) -> Predictions:
    """The candidate of one kind (see the module docstring)."""
    rng = np.random.default_rng(seed + 7919)
    right = np.flatnonzero(base.labels == y)
    wrong = np.flatnonzero(base.labels != y)
    if kind == "identical":
        return base
    if kind == "group":
        north = right[groups["region"][right] == "north"]
        return flip(base, rng.choice(north, int(0.06 * ROWS / 10), replace=False))
    to_wrong, to_right = {"worse": (0.03, 0.01), "equivalent": (0.01, 0.01)}[kind]
    rows = np.concatenate(
        [
            rng.choice(right, int(to_wrong * ROWS), replace=False),
            rng.choice(wrong, int(to_right * ROWS), replace=False),
        ]
    )
    return flip(base, rows)


def trial(kind: str, seed: int, resamples: int = 1000) -> EvalOutcome:
    """One seeded trial of one kind: data noise and bootstrap both seeded by ``seed``."""
    y, base, groups = problem(seed)
    cand = candidate(kind, y, base, groups, seed)
    rows = EvalRows("binary", y, cand, base, groups, None, "sha256:0", "power", positive_label=1)
    config = EvalSettings.model_validate(
        {
            "data": "power.parquet",
            "label": "y",
            "features": ["x"],
            "metrics": ["accuracy", "roc_auc"],
            "gate": {"accuracy": {"max_drop": 0.01}},
            "slices": ["region", "plan"],
            "seed": seed,
            "resamples": resamples,
        }
    )
    return analyse(
        rows, config, predict_candidate=lambda _: base, predict_baseline=None, baseline_label="base"
    )


def summary(outcome: EvalOutcome) -> tuple[str, str, bool, bool]:
    """The aggregate accuracy verdict, the overall verdict, whether north failed, and whether
    any other slice group failed."""
    accuracy = next(m for m in outcome.metrics if m.name == "accuracy")
    north = any(
        s.verdict == "fail" for s in outcome.slices if (s.column, s.group) == ("region", "north")
    )
    others = any(
        s.verdict == "fail" for s in outcome.slices if (s.column, s.group) != ("region", "north")
    )
    return accuracy.verdict, outcome.verdict, north, others


def run_trials(trials: int, resamples: int = 1000) -> dict[str, Counter[str]]:
    """Counts per kind: aggregate verdicts, 'north-fail', 'other-slice-fail'."""
    counts: dict[str, Counter[str]] = {kind: Counter() for kind in KINDS}
    for seed in range(trials):
        for kind in KINDS:
            aggregate, _, north, others = summary(trial(kind, seed, resamples))
            counts[kind][aggregate] += 1
            counts[kind]["north-fail"] += north
            counts[kind]["other-slice-fail"] += others
    return counts


def check(counts: dict[str, Counter[str]], trials: int) -> None:
    """The acceptance criteria, scaled to ``trials``."""
    allowed = max(1, trials // 20)
    assert counts["worse"]["fail"] >= trials - allowed, counts
    assert counts["identical"]["fail"] <= allowed, counts
    assert counts["equivalent"]["fail"] <= allowed, counts
    assert counts["group"]["pass"] >= trials - allowed, counts
    assert counts["group"]["north-fail"] >= trials - allowed, counts
    for kind in KINDS:
        assert counts[kind]["other-slice-fail"] <= allowed, counts


def test_power_and_false_alarms() -> None:
    began = time.perf_counter()
    counts = run_trials(TRIALS)
    seconds = time.perf_counter() - began
    for kind in KINDS:
        print(f"{kind:>10}: {dict(sorted(counts[kind].items()))}")
    print(f"{TRIALS} trials x {len(KINDS)} kinds in {seconds:.1f} s")
    check(counts, TRIALS)
