"""`mlops-ci --version` must start in under 0.3 s (median of 5): heavy imports stay lazy.

Run with ``pytest tests/benchmarks/test_startup.py --benchmarks -s``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path


def test_version_startup_time() -> None:
    exe = Path(sys.executable).parent / "mlops-ci"
    command = (
        [str(exe), "--version"] if exe.exists() else [sys.executable, "-m", "mlops_ci", "--version"]
    )
    subprocess.run(command, check=True, capture_output=True)  # warm the file cache
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        samples.append(time.perf_counter() - start)
    bare = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare.append(time.perf_counter() - start)
    median = statistics.median(samples)
    print(
        f"\nmlops-ci --version: median {median * 1000:.0f} ms of 5"
        f" (min {min(samples) * 1000:.0f}, max {max(samples) * 1000:.0f});"
        f" bare python -c pass: median {statistics.median(bare) * 1000:.0f} ms"
    )
    assert median < 0.3
