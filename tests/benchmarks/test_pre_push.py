"""The pre-push hook through pre-commit, second run with nothing changed: under 1 s (median of 7).

Run with ``pytest tests/benchmarks/test_pre_push.py --benchmarks -s``. It also prints, for the
same demo repository, the hook alone (``mlops-ci hook run``) when replayed from its stamp, when
only the result cache is warm (stamp removed), and with no cache at all.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.pre_commit_support import (
    hook_environment,
    pre_commit,
    snapshot_checkout,
    use_readme_config,
)

RUNS = 7


def _median_s(action: Callable[[], object], runs: int = RUNS) -> tuple[float, float, float]:
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        action()
        samples.append(time.perf_counter() - began)
    return statistics.median(samples), min(samples), max(samples)


def test_second_pre_push_run_is_under_a_second(demo_repo: Path, tmp_path: Path) -> None:
    hook_repo = tmp_path / "hook-repo"
    hook_repo.mkdir()
    rev = snapshot_checkout(hook_repo)
    home = tmp_path / "pre-commit-home"
    use_readme_config(demo_repo, hook_repo, rev)
    subprocess.run(["git", "add", "-A"], cwd=demo_repo, check=True)
    subprocess.run(["git", "commit", "-qm", "pre-commit"], cwd=demo_repo, check=True)

    began = time.perf_counter()
    first = pre_commit(demo_repo, home, "run", "--hook-stage", "pre-push")
    cold = time.perf_counter() - began
    assert first.returncode == 0, first.stdout + first.stderr

    def second() -> None:
        done = pre_commit(demo_repo, home, "run", "--hook-stage", "pre-push")
        assert done.returncode == 0, done.stdout
        assert "Passed" in done.stdout

    warm = _median_s(second)

    mlops_ci = str(Path(sys.executable).parent / "mlops-ci")
    env = hook_environment(home)

    def hook_run(extra: dict[str, str] | None = None) -> None:
        subprocess.run(
            [mlops_ci, "hook", "run"],
            cwd=demo_repo,
            env={**env, **(extra or {})},
            capture_output=True,
            check=True,
        )

    replay = _median_s(hook_run)

    def cache_only() -> None:
        shutil.rmtree(demo_repo / ".mlops-ci" / "cache" / "stamps", ignore_errors=True)
        hook_run()

    cached = _median_s(cache_only)
    uncached = _median_s(lambda: hook_run({"MLOPS_CI_NO_CACHE": "1"}), runs=5)
    load = os.getloadavg()
    print(
        f"\npre-commit run --hook-stage pre-push: first run {cold:.2f} s (hook environment built);"
        f" second run, nothing changed: median {warm[0]:.3f} s of {RUNS}"
        f" (min {warm[1]:.3f}, max {warm[2]:.3f})"
        f"\nmlops-ci hook run alone: replayed {replay[0]:.3f} s, result cache only"
        f" {cached[0]:.3f} s, no cache {uncached[0]:.3f} s (medians)"
        f"\nload average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs"
    )
    assert warm[0] < 1.0
