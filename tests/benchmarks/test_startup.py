"""`mlops-ci --version` takes at most 3x a bare ``python -c pass`` (medians of 11, interleaved):
it answers before typer, click, rich or any command module is imported (issue 16).

Run with ``pytest tests/benchmarks/test_startup.py --benchmarks -s``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 11
LIMIT = 3.0


def _timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def test_version_startup_within_3x_of_bare_python() -> None:
    exe = Path(sys.executable).parent / "mlops-ci"
    command = (
        [str(exe), "--version"] if exe.exists() else [sys.executable, "-m", "mlops_ci", "--version"]
    )
    bare_command = [sys.executable, "-c", "pass"]
    _timed(command), _timed(bare_command)  # warm the file cache
    ours, bare = [], []
    for run in range(RUNS):
        # Alternate which goes first, so neither always finds a warmer machine.
        pair = (command, bare_command) if run % 2 else (bare_command, command)
        first, second = (_timed(c) for c in pair)
        ours.append(first if pair[0] is command else second)
        bare.append(second if pair[0] is command else first)
    median, bare_median = statistics.median(ours), statistics.median(bare)
    print(
        f"\nmlops-ci --version: median {median * 1000:.0f} ms of {RUNS}"
        f" (min {min(ours) * 1000:.0f}, max {max(ours) * 1000:.0f});"
        f" bare python -c pass: median {bare_median * 1000:.0f} ms;"
        f" ratio {median / bare_median:.2f}x (limit {LIMIT:.0f}x)"
    )
    assert median <= LIMIT * bare_median
