"""The bench's quantile confidence intervals (order statistics, Hahn & Meeker) against independent
oracles: scipy.stats' binomial quantiles for the indices, and a seeded coverage simulation."""

from __future__ import annotations

import math
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from mlops_ci.bench import stats

scipy_stats = pytest.importorskip("scipy.stats")

LEVELS = (0.001, 0.005, 0.025, 0.05, 0.3, 0.95, 0.975, 0.995)


def test_binomial_quantiles_match_scipy() -> None:
    # Every small n, and a seeded spread of large ones up to past MAX_SAMPLES (250,000).
    rng = np.random.default_rng(7)
    sizes = [*range(1, 301), *(int(n) for n in rng.integers(301, 400_000, 120))]
    for n in sizes:
        for p in (0.001, 0.01, 0.1, 0.37, 0.5, 0.9, 0.95, 0.99):
            ours = [stats.binomial_ppf(level, n, p) for level in LEVELS]
            assert ours == [int(v) for v in scipy_stats.binom.ppf(LEVELS, n, p)], (n, p)


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_interval_indices_are_scipys_and_their_coverage_is_nominal(confidence: float) -> None:
    tail = (1 - confidence) / 2
    for n in (60, 100, 101, 1000, 26_000, 250_000):  # 60: both ranks exist at 99% for p90
        for q in (0.5, 0.9):
            low, high = stats.order_statistic_indices(n, q, confidence)
            binom = scipy_stats.binom(n, q)
            # l = ppf(tail) (1-based), u = ppf(1 - tail) + 1 (1-based), as 0-based indices.
            assert (low, high) == (int(binom.ppf(tail)) - 1, int(binom.ppf(1 - tail))), (n, q)
            # P(x(l) <= quantile <= x(u)) >= P(l <= B <= u - 1) = F(u - 1) - F(l - 1).
            assert binom.cdf(high) - binom.cdf(low) >= confidence - 1e-12, (n, q)


def test_the_interval_holds_the_reported_percentile() -> None:
    # numpy's linear-interpolation percentile lies between x(floor(h)) and x(ceil(h)),
    # h = (n - 1) q: the interval must reach both, or the report would show p90 outside its CI.
    for n in range(1, 3000):
        for q in (0.5, 0.9):
            low, high = stats.order_statistic_indices(n, q, 0.95)
            h = (n - 1) * q
            assert 0 <= low <= math.floor(h) and math.ceil(h) <= high <= n - 1, (n, q)


def _coverage(draw: Any, truth: float, n: int, q: float, trials: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    data = draw(rng, (trials, n))
    low, high = stats.order_statistic_indices(n, q, 0.95)
    ranked = np.partition(data, [low, high], axis=1)
    return float(np.mean((ranked[:, low] <= truth) & (truth <= ranked[:, high])))


DISTRIBUTIONS: dict[str, tuple[Any, Any]] = {
    # latency-like: right-skewed and heavy-tailed, and integer counts with many ties
    "lognormal": (lambda r, s: r.lognormal(0.0, 0.5, s), scipy_stats.lognorm(0.5)),
    "exponential": (lambda r, s: r.exponential(1.0, s), scipy_stats.expon()),
    "pareto": (lambda r, s: r.pareto(2.5, s), scipy_stats.lomax(2.5)),
    "poisson (ties)": (lambda r, s: r.poisson(3.0, s), scipy_stats.poisson(3.0)),
}
SEEDS = {name: 1000 + i for i, name in enumerate(sorted(DISTRIBUTIONS))}


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
@pytest.mark.parametrize(("n", "q"), [(400, 0.9), (2000, 0.5)])
def test_coverage_simulation_is_consistent_with_the_nominal_confidence(
    name: str, n: int, q: float
) -> None:
    # Where the exact coverage is within a few tenths of a point of 95%, a simulation can only
    # show that it is not below beyond chance: 4000 trials have a standard error of ~0.35 points.
    draw, law = DISTRIBUTIONS[name]
    trials = 4000
    covered = _coverage(draw, float(law.ppf(q)), n, q, trials, SEEDS[name])
    assert covered >= 0.95 - 2.3 * math.sqrt(0.95 * 0.05 / trials), (name, n, q, covered)


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_seeded_coverage_simulation_reaches_the_nominal_confidence(name: str) -> None:
    # Sizes where the exact coverage is at least 95.5%: with 20,000 trials (standard error
    # ~0.15 points) the simulated coverage is at least 95%, and agrees with the exact figure
    # for continuous data (ties only raise it).
    draw, law = DISTRIBUTIONS[name]
    trials = 20_000
    for n, q in ((50, 0.5), (100, 0.5), (60, 0.9), (100, 0.9)):
        covered = _coverage(draw, float(law.ppf(q)), n, q, trials, SEEDS[name])
        assert covered >= 0.95, (name, n, q, covered)
        low, high = stats.order_statistic_indices(n, q, 0.95)
        exact = float(scipy_stats.binom.cdf(high, n, q) - scipy_stats.binom.cdf(low, n, q))
        error = 4 * math.sqrt(exact * (1 - exact) / trials)
        assert covered >= exact - error and (name.endswith("(ties)") or covered <= exact + error)


def test_too_few_samples_clamp_to_the_sample_range() -> None:
    # For p90 at 95% the upper rank exists from 35 samples on (0.9^n <= 0.025).
    assert stats.order_statistic_indices(34, 0.9, 0.95)[1] == 33
    assert stats.order_statistic_indices(35, 0.9, 0.95)[1] == 34
    assert stats.quantile_ci([7.0], 0.9, 0.95) == (7.0, 7.0)
    assert stats.quantile_ci([], 0.9, 0.95) == (0.0, 0.0)
    with pytest.raises(ValueError, match="strictly between"):
        stats.order_statistic_indices(10, 1.0, 0.95)


def test_summary_intervals_are_the_order_statistics() -> None:
    rng = np.random.default_rng(3)
    samples = rng.integers(5_000, 9_000, 26_000)
    summary = stats.summarise(samples)
    ranked = np.sort(samples)
    for q, interval in ((0.5, summary.p50_ci_ns), (0.9, summary.p90_ci_ns)):
        low, high = stats.order_statistic_indices(samples.size, q, 0.95)
        assert interval == (float(ranked[low]), float(ranked[high]))


def test_summarising_imports_no_scipy() -> None:
    code = (
        "import sys; from mlops_ci.bench import stats;"
        " stats.summarise(list(range(1, 5000)));"
        " print(sorted(m for m in sys.modules if m.split('.')[0] == 'scipy'))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
