"""The JSON results file: raw samples, statistics, environment and verdict.

The file has pytest-benchmark's storage layout (``machine_info``, ``commit_info``, ``benchmarks``
with ``stats`` and the raw ``stats.data`` in seconds, ``datetime``, ``version``), so
``pytest-benchmark compare FILE.json`` lists and compares it. Everything pytest-benchmark has no
field for sits in ``mlops_ci`` (versioned by ``results_version``): percentiles, order-statistic
confidence intervals (:mod:`mlops_ci.bench.stats`), instability, warm-up, block layout of an
interleaved comparison, the decision, the fingerprint used to decide whether a stored result may
serve as a baseline.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_ci.errors import InputError, SourcePosition

if TYPE_CHECKING:
    from mlops_ci.bench.engine import BenchOutcome

RESULTS_VERSION = 1
# The pytest-benchmark storage version this layout follows.
PYTEST_BENCHMARK_VERSION = "5.1.0"


def pytest_benchmark_stats(samples_ns: Sequence[int]) -> dict[str, Any]:
    """pytest-benchmark's ``stats`` block (seconds) for ``samples_ns``, raw data included."""
    import numpy as np

    data = np.asarray(samples_ns, dtype=np.float64) / 1e9
    mean = float(data.mean())
    stddev = float(data.std(ddof=1)) if data.size > 1 else 0.0
    q1, median, q3 = (float(v) for v in np.percentile(data, [25, 50, 75]))
    iqr = q3 - q1
    low_fence, high_fence = q1 - 1.5 * iqr, q3 + 1.5 * iqr
    inside = data[(data >= low_fence) & (data <= high_fence)]
    iqr_outliers = int(data.size - inside.size)
    stddev_outliers = int(((data < mean - stddev) | (data > mean + stddev)).sum())
    total = float(data.sum())
    return {
        "min": float(data.min()),
        "max": float(data.max()),
        "mean": mean,
        "stddev": stddev,
        "rounds": int(data.size),
        "median": median,
        "iqr": iqr,
        "q1": q1,
        "q3": q3,
        "iqr_outliers": iqr_outliers,
        "stddev_outliers": stddev_outliers,
        "outliers": f"{stddev_outliers};{iqr_outliers}",
        "ld15iqr": float(inside.min()) if inside.size else float(data.min()),
        "hd15iqr": float(inside.max()) if inside.size else float(data.max()),
        "ops": data.size / total if total > 0 else 0.0,
        "total": total,
        # The same floats as int(v) / 1e9 (exact below 2**53 ns), without a Python loop.
        "data": data.tolist(),
        "iterations": 1,
    }


def benchmark_entry(
    group: str, name: str, fullname: str, samples_ns: Sequence[int], extra: Mapping[str, Any]
) -> dict[str, Any]:
    """One entry of ``benchmarks``: what pytest-benchmark writes for one benchmark."""
    return {
        "group": group,
        "name": name,
        "fullname": fullname,
        "params": None,
        "param": None,
        "extra_info": dict(extra),
        "options": {
            "disable_gc": False,
            "timer": "perf_counter_ns",
            "min_rounds": 1,
            "max_time": None,
            "min_time": None,
            "warmup": True,
        },
        "stats": pytest_benchmark_stats(samples_ns),
    }


def machine_info(fingerprint: Mapping[str, Any]) -> dict[str, Any]:
    """pytest-benchmark's ``machine_info`` from a fingerprint."""
    return {
        "node": "",
        "processor": fingerprint.get("cpu_model"),
        "machine": fingerprint.get("machine"),
        "python_implementation": "CPython",
        "python_version": fingerprint.get("python"),
        "system": fingerprint.get("system"),
        "cpu": {"brand_raw": fingerprint.get("cpu_model"), "count": fingerprint.get("cpu_count")},
    }


def write_results(path: Path, document: Mapping[str, Any]) -> None:
    """Write the results file atomically."""
    from mlops_ci.fsutil import atomic_write

    # Compact: the raw samples are most of the file, and tools (jq, pytest-benchmark) read it.
    atomic_write(path, json.dumps(document, separators=(",", ":")) + "\n")


@dataclass(frozen=True)
class StoredResults:
    """A results file read back: what a later run needs to use it as a baseline."""

    path: Path
    fingerprint: Mapping[str, Any]
    samples_ns: tuple[int, ...]
    label: str


def load_results(path: Path, display: str) -> StoredResults:
    """Read a results file written by ``mlops-ci bench``; a foreign file is an input error."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(
            f"cannot read the stored results ({exc.__class__.__name__}); give a results file"
            " written by mlops-ci bench",
            SourcePosition(display),
        ) from None
    section = document.get("mlops_ci") if isinstance(document, dict) else None
    if not isinstance(section, dict) or section.get("results_version") != RESULTS_VERSION:
        raise InputError(
            f"not an mlops-ci results file (results_version {RESULTS_VERSION} expected);"
            " give a file written by mlops-ci bench, or an .onnx baseline",
            SourcePosition(display),
        )
    entries = [b for b in document.get("benchmarks", []) if b.get("name") == "candidate"]
    if not entries or not entries[0].get("stats", {}).get("data"):
        raise InputError(
            "the stored results hold no raw samples of a candidate", SourcePosition(display)
        )
    samples = tuple(round(float(v) * 1e9) for v in entries[0]["stats"]["data"])
    return StoredResults(
        path=path,
        fingerprint=dict(section.get("fingerprint") or {}),
        samples_ns=samples,
        label=f"{display} ({section.get('model', {}).get('path', '?')})",
    )


def outcome_document(
    outcome: BenchOutcome,
    *,
    model_name: str,
    started_at: str,
    commit: Mapping[str, Any] | None = None,
    budgets: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The results file's content for one run."""
    plan = outcome.plan
    fingerprint = outcome.fingerprint.to_dict()
    measured = [m for m in (outcome.candidate, outcome.baseline) if m is not None]
    benchmarks = []
    for measurement in measured:
        model = plan.display if measurement.label == "candidate" else outcome.baseline_label
        extra = {"model": model, **measurement.summary.to_dict()}
        if outcome.blocks:
            extra["blocks"] = [b["runs"] for b in outcome.blocks]
        benchmarks.append(
            benchmark_entry(
                f"mlops-ci bench {model_name}",
                measurement.label,
                f"{model_name}::{measurement.label} [{model}]",
                measurement.samples_ns,
                extra,
            )
        )
    section: dict[str, Any] = {
        "results_version": RESULTS_VERSION,
        "model": {"name": model_name, "path": plan.display},
        "fingerprint": fingerprint,
        "session": plan.settings.to_dict(),
        "provider": {"name": outcome.provider.name, "providers": list(outcome.provider.providers)},
        "inputs": list(outcome.feed_shapes),
        "budget_s": plan.budget_s,
        "seconds": round(outcome.seconds, 3),
        "measured_s": round(outcome.measured_s, 3),
        "measurements": {
            m.label: {
                "summary": m.summary.to_dict(),
                "warmup": m.warmup.to_dict() if m.warmup else None,
            }
            for m in measured
        },
        "baseline": outcome.baseline_label,
        "decision": outcome.decision.to_dict() if outcome.decision else None,
        "blocks": list(outcome.blocks),
        "budgets": [dict(b) for b in budgets],
        "notes": list(outcome.notes),
    }
    return {
        "machine_info": machine_info(fingerprint),
        "commit_info": dict(commit or {}),
        "benchmarks": benchmarks,
        "datetime": started_at,
        "version": PYTEST_BENCHMARK_VERSION,
        "mlops_ci": section,
    }
