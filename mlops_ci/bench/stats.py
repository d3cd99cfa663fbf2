"""Statistics of latency samples: percentiles, bootstrap intervals, pyperf-style instability.

Samples are nanoseconds; :meth:`Summary.to_dict` reports milliseconds. Bootstrap intervals use the
percentile method with a fixed seed (the same samples always give the same interval). Very large
sample sets are thinned to :data:`BOOTSTRAP_CAP` random samples first, which only widens the
interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_CAP = 10_000
# pyperf's checks (`pyperf check`): the standard deviation above 10% of the mean, or the minimum
# or maximum 50% below or above the mean, make a result "unstable".
STDEV_LIMIT = 0.10
SPREAD_LIMIT = 0.50


@dataclass(frozen=True)
class Summary:
    """Latency statistics of one sample set (nanoseconds)."""

    count: int
    p50_ns: float
    p90_ns: float
    p95_ns: float
    p99_ns: float
    mean_ns: float
    stdev_ns: float
    min_ns: float
    max_ns: float
    p50_ci_ns: tuple[float, float]
    p90_ci_ns: tuple[float, float]
    confidence: float
    instability: tuple[str, ...]

    @property
    def unstable(self) -> bool:
        """Whether any pyperf-style stability check failed."""
        return bool(self.instability)

    @property
    def throughput_per_s(self) -> float:
        """Inferences per second, from the mean latency."""
        return 1e9 / self.mean_ns if self.mean_ns > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, in milliseconds."""

        def ms(value: float) -> float:
            return round(value / 1e6, 6)

        return {
            "samples": self.count,
            "p50_ms": ms(self.p50_ns),
            "p90_ms": ms(self.p90_ns),
            "p95_ms": ms(self.p95_ns),
            "p99_ms": ms(self.p99_ns),
            "mean_ms": ms(self.mean_ns),
            "stdev_ms": ms(self.stdev_ns),
            "min_ms": ms(self.min_ns),
            "max_ms": ms(self.max_ns),
            "throughput_per_s": round(self.throughput_per_s, 3),
            "p50_ci_ms": [ms(v) for v in self.p50_ci_ns],
            "p90_ci_ms": [ms(v) for v in self.p90_ci_ns],
            "confidence": self.confidence,
            "unstable": self.unstable,
            "instability": list(self.instability),
        }


def summarise(samples: Sequence[int] | Any, confidence: float = 0.95, seed: int = 0) -> Summary:
    """Percentiles, moments, bootstrap intervals for p50 and p90, and the stability checks."""
    import numpy as np

    data = np.asarray(samples, dtype=np.float64)
    if data.size == 0:
        raise ValueError("no samples to summarise")
    p50, p90, p95, p99 = (float(v) for v in np.percentile(data, [50, 90, 95, 99]))
    mean = float(data.mean())
    stdev = float(data.std(ddof=1)) if data.size > 1 else 0.0
    low, high = float(data.min()), float(data.max())
    return Summary(
        count=int(data.size),
        p50_ns=p50,
        p90_ns=p90,
        p95_ns=p95,
        p99_ns=p99,
        mean_ns=mean,
        stdev_ns=stdev,
        min_ns=low,
        max_ns=high,
        p50_ci_ns=bootstrap_quantile_ci(data, 0.5, confidence, seed=seed),
        p90_ci_ns=bootstrap_quantile_ci(data, 0.9, confidence, seed=seed + 1),
        confidence=confidence,
        instability=instability(mean, stdev, low, high),
    )


def instability(mean: float, stdev: float, low: float, high: float) -> tuple[str, ...]:
    """pyperf's stability checks, each failure as one sentence (empty when stable)."""
    if mean <= 0:
        return ()
    reasons = []
    if stdev > STDEV_LIMIT * mean:
        reasons.append(f"the standard deviation is {stdev / mean:.0%} of the mean")
    if high > (1 + SPREAD_LIMIT) * mean:
        reasons.append(f"the maximum is {high / mean - 1:.0%} greater than the mean")
    if low < (1 - SPREAD_LIMIT) * mean:
        reasons.append(f"the minimum is {1 - low / mean:.0%} smaller than the mean")
    return tuple(reasons)


def bootstrap_quantile_ci(
    samples: Any,
    quantile: float,
    confidence: float,
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float]:
    """A percentile-bootstrap confidence interval for one quantile of ``samples``."""
    import numpy as np

    rng = np.random.default_rng(seed)
    data = np.asarray(samples, dtype=np.float64)
    if data.size > BOOTSTRAP_CAP:
        data = rng.choice(data, BOOTSTRAP_CAP, replace=False)
    if data.size < 2:
        value = float(data[0]) if data.size else 0.0
        return (value, value)
    estimates = np.empty(resamples)
    chunk = max(1, min(resamples, 2_000_000 // data.size))
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        picks = data[rng.integers(0, data.size, size=(stop - start, data.size))]
        estimates[start:stop] = np.quantile(picks, quantile, axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(estimates, [alpha, 1 - alpha])
    return (float(low), float(high))


def relative_half_width(interval: tuple[float, float], centre: float) -> float:
    """Half the width of ``interval`` relative to ``centre`` (inf when centre is 0)."""
    if centre <= 0:
        return float("inf")
    return (interval[1] - interval[0]) / 2 / centre
