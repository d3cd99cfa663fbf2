"""The regression gate: baseline and candidate measured in the same run, interleaved.

Each round times one block of the baseline and one block of the candidate, equally long, in a
random order. The round's ratio is the median of the candidate's block over the median of the
baseline's block: noise that lasts longer than a round (another job on the runner, a clock
change) hits both blocks and cancels in the ratio. The estimate is the median of the rounds'
ratios, with a bootstrap confidence interval over rounds. With margin ``m``:

- **fail** when the whole interval lies above ``1 + m`` (a regression beyond the margin);
- **pass** when the whole interval lies at or below ``1 + m``;
- otherwise more rounds are collected until the time budget (or :data:`MAX_SAMPLES`) ends:
  **inconclusive**.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from mlops_ci.bench.timing import BLOCK_TARGET_S, Progress, Runner, runs_for

Verdict = Literal["pass", "fail", "inconclusive"]
MIN_ROUNDS = 10
MIN_SAMPLES = 100
EXTENSION = 2.0  # how far past its budget a run may go to reach MIN_ROUNDS (see the loop)
# Past this many samples a side more rounds rarely settle a verdict, and the results file (raw
# samples) would grow past a few megabytes: a ~10 µs model reaches it after ~5 s.
MAX_SAMPLES = 250_000
# The stored comparison resamples at most this many samples a side (a random subset, which only
# widens its interval): 1000 resamples of more would take seconds.
BOOTSTRAP_CAP = 10_000


@dataclass(frozen=True)
class Decision:
    """A verdict on the candidate/baseline latency ratio."""

    verdict: Verdict
    ratio: float
    ci: tuple[float, float]
    margin: float
    confidence: float
    method: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "verdict": self.verdict,
            "ratio": round(self.ratio, 5),
            "ci": [round(self.ci[0], 5), round(self.ci[1], 5)],
            "margin": self.margin,
            "confidence": self.confidence,
            "method": self.method,
        }


def verdict_for(ci: tuple[float, float], margin: float) -> Verdict | None:
    """pass or fail when the interval settles it, None when more data is needed."""
    if ci[0] > 1 + margin:
        return "fail"
    if ci[1] <= 1 + margin:
        return "pass"
    return None


def median_ratio_ci(
    log_ratios: list[float], confidence: float, *, resamples: int = 2000, seed: int = 0
) -> tuple[float, tuple[float, float]]:
    """exp(median) of per-round log ratios, with a percentile-bootstrap interval over rounds."""
    import numpy as np

    data = np.asarray(log_ratios, dtype=np.float64)
    rng = np.random.default_rng(seed)
    picks = data[rng.integers(0, data.size, size=(resamples, data.size))]
    estimates = np.median(picks, axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(estimates, [alpha, 1 - alpha])
    return math.exp(float(np.median(data))), (math.exp(float(low)), math.exp(float(high)))


@dataclass
class _Rounds:
    """What the interleaved loop has collected so far (mutable while it runs)."""

    baseline: list[int] = field(default_factory=list)
    candidate: list[int] = field(default_factory=list)
    blocks: list[dict[str, Any]] = field(default_factory=list)
    log_ratios: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Interleaved:
    """The outcome of a same-run comparison: raw samples, block layout, decision."""

    baseline_samples: tuple[int, ...]
    candidate_samples: tuple[int, ...]
    blocks: tuple[dict[str, Any], ...]
    decision: Decision
    rounds: int
    seconds: float


def compare_interleaved(
    baseline: Runner,
    candidate: Runner,
    *,
    per_run_ns: float,
    budget_s: float,
    margin: float,
    confidence: float,
    seed: int = 0,
    progress: Progress | None = None,
) -> Interleaved:
    """Time ``baseline`` and ``candidate`` in randomised interleaved blocks and decide."""
    order = random.Random(seed)  # noqa: S311 (a reproducible shuffle, not cryptography)
    # The minimum rounds must fit in the budget: blocks no longer than a 2 * MIN_ROUNDS-th of it.
    runs = runs_for(min(BLOCK_TARGET_S, budget_s / (2 * MIN_ROUNDS)), per_run_ns)
    began = time.perf_counter()
    collected = _Rounds()
    decision: Decision | None = None
    next_check = MIN_ROUNDS
    interval = ""
    while True:
        candidate_first = order.random() < 0.5
        pair = (candidate, baseline) if candidate_first else (baseline, candidate)
        timed = {runner.label: runner.time(runs) for runner in pair}
        base, cand = timed[baseline.label], timed[candidate.label]
        collected.baseline.extend(base)
        collected.candidate.extend(cand)
        collected.blocks.append({"runs": runs, "candidate_first": candidate_first})
        collected.log_ratios.append(
            math.log(statistics.median(cand)) - math.log(statistics.median(base))
        )
        rounds = len(collected.log_ratios)
        elapsed = time.perf_counter() - began
        enough = rounds >= MIN_ROUNDS and len(collected.baseline) >= MIN_SAMPLES
        # Stop when another round of the same length would overrun the budget; a run that has
        # not yet collected the minimum rounds (a loaded machine makes every block slower than
        # calibrated) may take up to EXTENSION times the budget, blocks shrunk to fit, before
        # it gives up: an interval over too few rounds cannot decide, and "inconclusive" must
        # not be what a slow machine turns a clear regression into.
        limit = budget_s if enough else budget_s * EXTENSION
        out_of_time = (
            elapsed * (rounds + 1) / rounds >= limit or len(collected.baseline) + runs > MAX_SAMPLES
        )
        if not enough and not out_of_time and rounds < MIN_ROUNDS:
            per_round = elapsed / rounds
            left = max(0.0, limit - elapsed) / (MIN_ROUNDS - rounds)
            if per_round > left:
                runs = max(5, int(runs * left / per_round))
        if (enough and rounds >= next_check) or out_of_time:
            ratio, ci = median_ratio_ci(collected.log_ratios, confidence, seed=seed)
            verdict = verdict_for(ci, margin) if enough else None
            if verdict is not None or out_of_time:
                decision = Decision(
                    verdict or "inconclusive", ratio, ci, margin, confidence, "interleaved"
                )
                break
            next_check = rounds + max(1, rounds // 10)
            interval = f": ratio {ratio:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"
        if progress is not None:
            progress(f"round {rounds}{interval}", min(1.0, elapsed / budget_s))
    return Interleaved(
        baseline_samples=tuple(collected.baseline),
        candidate_samples=tuple(collected.candidate),
        blocks=tuple(collected.blocks),
        decision=decision,
        rounds=len(collected.log_ratios),
        seconds=time.perf_counter() - began,
    )


def compare_stored(
    baseline: Any, candidate: Any, *, margin: float, confidence: float, seed: int = 0
) -> Decision:
    """Compare fresh candidate samples with stored baseline samples (same environment only).

    The samples were not interleaved, so the interval resamples each set on its own: the ratio
    of medians with an independent percentile bootstrap.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    sets = []
    for samples in (baseline, candidate):
        data = np.asarray(samples, dtype=np.float64)
        if data.size > BOOTSTRAP_CAP:
            data = rng.choice(data, BOOTSTRAP_CAP, replace=False)
        sets.append(data)
    resamples = 1000
    medians = []
    for data in sets:
        values = np.empty(resamples)
        chunk = max(1, min(resamples, 2_000_000 // max(1, data.size)))
        for start in range(0, resamples, chunk):
            stop = min(resamples, start + chunk)
            picks = data[rng.integers(0, data.size, size=(stop - start, data.size))]
            values[start:stop] = np.median(picks, axis=1)
        medians.append(values)
    ratios = medians[1] / medians[0]
    alpha = (1 - confidence) / 2
    low, high = (float(v) for v in np.quantile(ratios, [alpha, 1 - alpha]))
    ratio = float(np.median(sets[1]) / np.median(sets[0]))
    verdict = verdict_for((low, high), margin) or "inconclusive"
    return Decision(verdict, ratio, (low, high), margin, confidence, "stored")
