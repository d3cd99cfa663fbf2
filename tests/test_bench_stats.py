"""Statistics and the regression decision, on a simulated clock (no timing in tests)."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from mlops_ci.bench import compare, results, stats, timing
from mlops_ci.bench.compare import compare_interleaved, compare_stored, verdict_for
from mlops_ci.errors import InputError


class FakeClock:
    """A clock that advances only when a simulated inference runs."""

    def __init__(self) -> None:
        self.ns = 0

    def perf_counter_ns(self) -> int:
        return self.ns

    def perf_counter(self) -> float:
        return self.ns / 1e9

    def runner(self, label: str, costs: list[int]) -> timing.Runner:
        cycle = itertools.cycle(costs)

        def call() -> None:
            self.ns += next(cycle)

        return timing.Runner(label, call)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    namespace = SimpleNamespace(
        perf_counter_ns=fake.perf_counter_ns, perf_counter=fake.perf_counter
    )
    monkeypatch.setattr(timing, "time", namespace)
    monkeypatch.setattr(compare, "time", namespace)
    return fake


def run(
    clock: FakeClock, base: list[int], cand: list[int], budget_s: float = 5.0
) -> compare.Interleaved:
    return compare_interleaved(
        clock.runner("baseline", base),
        clock.runner("candidate", cand),
        per_run_ns=100_000,
        budget_s=budget_s,
        margin=0.05,
        confidence=0.95,
        seed=1,
    )


def test_identical_models_pass_after_the_minimum_rounds(clock: FakeClock) -> None:
    outcome = run(clock, [100_000, 101_000, 99_000], [100_000, 99_500, 100_500])
    assert outcome.decision.verdict == "pass"
    assert outcome.rounds == compare.MIN_ROUNDS
    assert abs(outcome.decision.ratio - 1) < 0.01
    assert len(outcome.baseline_samples) == len(outcome.candidate_samples) == 200 * 10
    orders = {b["candidate_first"] for b in outcome.blocks}
    assert orders == {True, False}  # randomised order


def test_a_ten_percent_slower_candidate_fails(clock: FakeClock) -> None:
    outcome = run(clock, [100_000, 102_000, 98_000], [110_000, 112_000, 108_000])
    decision = outcome.decision
    assert decision.verdict == "fail"
    assert decision.ci[0] > 1.05 and math.isclose(decision.ratio, 1.1, rel_tol=0.01)


def test_a_borderline_candidate_is_inconclusive_at_the_budget(clock: FakeClock) -> None:
    # Rounds alternate between a block at ratio 1.0 and one at 1.1: the interval straddles 1.05.
    base = [100_000] * 200
    cand = [100_000] * 200 + [110_000] * 200
    outcome = run(clock, base, cand, budget_s=1.0)
    assert outcome.decision.verdict == "inconclusive"
    assert outcome.decision.ci[0] <= 1.05 < outcome.decision.ci[1]
    assert 0.9 <= outcome.seconds <= 1.0 and outcome.rounds > compare.MIN_ROUNDS


def test_too_short_a_budget_is_inconclusive(clock: FakeClock) -> None:
    outcome = run(clock, [100_000], [200_000], budget_s=0.01)
    assert outcome.decision.verdict == "inconclusive"
    assert len(outcome.baseline_samples) < compare.MIN_SAMPLES
    assert outcome.seconds <= 0.02


def test_a_loaded_machine_still_decides_a_clear_regression(clock: FakeClock) -> None:
    """Calibrated at 100 us a run, every run then takes 4x as long (another job on the runner):
    with the blocks sized by the calibration only four rounds fit in the budget. The blocks
    shrink and the run may go past its budget to reach the minimum rounds, so a candidate 1.7x
    slower fails instead of being waved through as inconclusive (seen on 2 loaded cores)."""
    outcome = compare_interleaved(
        clock.runner("baseline", [400_000, 404_000, 396_000]),
        clock.runner("candidate", [680_000, 690_000, 670_000]),
        per_run_ns=100_000,  # calibrated before the load came
        budget_s=1.0,
        margin=0.05,
        confidence=0.95,
        seed=1,
    )
    assert outcome.decision.verdict == "fail", outcome.decision
    assert outcome.rounds >= compare.MIN_ROUNDS
    assert outcome.seconds <= 2.0


def test_verdict_rule() -> None:
    assert verdict_for((1.06, 1.2), 0.05) == "fail"
    assert verdict_for((0.9, 1.05), 0.05) == "pass"
    assert verdict_for((1.0, 1.06), 0.05) is None


def test_stored_comparison() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(1_000_000, 20_000, 3000)
    assert compare_stored(base, base * 1.2, margin=0.05, confidence=0.95).verdict == "fail"
    same = compare_stored(base, rng.normal(1_000_000, 20_000, 3000), margin=0.05, confidence=0.95)
    assert same.verdict == "pass" and same.method == "stored"


def test_summary_statistics() -> None:
    samples = list(range(1, 1001))
    summary = stats.summarise(samples)
    assert (summary.count, summary.min_ns, summary.max_ns) == (1000, 1, 1000)
    assert summary.p50_ns == pytest.approx(500.5) and summary.p90_ns == pytest.approx(900.1)
    assert summary.p99_ns == pytest.approx(990.01)
    assert summary.p50_ci_ns[0] <= summary.p50_ns <= summary.p50_ci_ns[1]
    assert summary.p90_ci_ns[0] <= summary.p90_ns <= summary.p90_ci_ns[1]
    assert summary == stats.summarise(samples)  # order statistics: no resampling, no seed
    data = summary.to_dict()
    assert data["p50_ms"] == pytest.approx(500.5e-6, abs=1e-6) and data["samples"] == 1000
    assert data["throughput_per_s"] == pytest.approx(1e9 / 500.5, rel=1e-6)
    assert summary.unstable  # uniform 1..1000: the stdev is 58% of the mean


def test_instability_checks_follow_pyperf() -> None:
    assert stats.instability(100.0, 5.0, 90.0, 120.0) == ()
    reasons = stats.instability(100.0, 20.0, 40.0, 200.0)
    assert reasons == (
        "the standard deviation is 20% of the mean",
        "the maximum is 100% greater than the mean",
        "the minimum is 60% smaller than the mean",
    )


def test_quantile_interval_handles_large_and_tiny_sets() -> None:
    big = np.arange(50_000, dtype=float)
    low, high = stats.quantile_ci(big, 0.5, 0.95)
    assert low < 25_000 < high
    assert stats.quantile_ci([7.0], 0.9, 0.95) == (7.0, 7.0)
    assert stats.relative_half_width((90, 110), 100) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="no samples"):
        stats.summarise([])


def test_results_file_round_trip_and_pytest_benchmark_fields(tmp_path: Path) -> None:
    entry = results.benchmark_entry("g", "candidate", "m::candidate", [1000, 2000, 3000], {})
    stats_block = entry["stats"]
    assert stats_block["data"] == [1e-6, 2e-6, 3e-6] and stats_block["rounds"] == 3
    assert stats_block["median"] == pytest.approx(2e-6) and stats_block["iterations"] == 1
    document = {
        "benchmarks": [entry],
        "mlops_ci": {"results_version": 1, "fingerprint": {"cpu_model": "x"}, "model": {}},
    }
    path = tmp_path / "r.json"
    results.write_results(path, document)
    stored = results.load_results(path, "r.json")
    assert stored.samples_ns == (1000, 2000, 3000) and stored.fingerprint == {"cpu_model": "x"}
    path.write_text(json.dumps({"benchmarks": []}))
    with pytest.raises(InputError, match="not an mlops-ci results file"):
        results.load_results(path, "r.json")
    path.write_text("{")
    with pytest.raises(InputError, match="cannot read the stored results"):
        results.load_results(path, "r.json")


def test_results_data_are_the_samples_in_seconds_exactly() -> None:
    # numpy's division gives the same floats as int(v) / 1e9 for every nanosecond count a
    # sample can hold (below 2**53): the raw data pytest-benchmark reads do not move.
    rng = np.random.default_rng(5)
    samples = [*rng.integers(1, 2**53, 5000).tolist(), *rng.integers(1, 10**7, 5000).tolist()]
    data = results.pytest_benchmark_stats(samples)["data"]
    assert data == [int(v) / 1e9 for v in samples]
    assert all(type(v) is float for v in data)
