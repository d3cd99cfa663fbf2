"""``check`` on a repository of 1 and of 20 models (issue 16): a warm re-run with nothing changed,
and the cold cost of 20 models against 1.

Run with ``pytest tests/benchmarks/test_warm_rerun.py --benchmarks -s``. Each repository is what
``mlops-ci init`` makes of tiny ONNX models (one card each), one shared requirements file and the
demo's offline advisory database; every run is ``python -m mlops_ci check --offline --skip bench``
in a subprocess, as CI runs it.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_init import CLEAN_PINS, tiny_model

PROJECT = Path(__file__).resolve().parents[2]
WARM_RUNS = 5
COLD_RUNS = 3
# The acceptance bounds of issue 16. Measured 2026-12-03 on 2 cores shared with other jobs (load
# average 2.7-4.0), two sessions: warm medians 0.66/0.69 s (1 model) and 0.90/0.72 s (20 models);
# cold 1 vs 20 models 3.69/3.60 s vs 4.18/4.38 s, ratios 1.13/1.22. Before the per-run memos of
# cards, packs and confined paths and git asked directly (same day): 0.99 s, 1.46 s and 1.59.
WARM_BOUND_S = 1.0
COLD_RATIO_BOUND = 1.3
CHECK = ("check", "--offline", "--skip", "bench", "-q")


def _environ(**extra: str) -> dict[str, str]:
    environ = dict(os.environ)
    environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(PROJECT), environ.get("PYTHONPATH", "")) if p
    )
    environ.pop("MLOPS_CI_NO_CACHE", None)
    environ.update(extra)
    return environ


def _mlops_ci(repo: Path, *args: str, **extra: str) -> float:
    """Run ``python -m mlops_ci ARGS`` in ``repo``; its wall time in seconds."""
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "mlops_ci", *args],
        cwd=repo,
        env=_environ(**extra),
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - began
    assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
    return elapsed


def make_repository(root: Path, models: int) -> Path:
    """A committed repository with ``models`` tiny models, configured by ``mlops-ci init``."""
    from mlops_ci.demo import write_vuln_db

    subprocess.run(["git", "init", "-q", str(root)], check=True)
    for index in range(models):
        tiny_model(root / "models" / f"m{index:02d}" / "model.onnx")
    (root / "requirements.txt").write_text(CLEAN_PINS + "requests==2.32.3\n")
    (root / "src").mkdir()
    (root / "src" / "serve.py").write_text("def handler(x):\n    return x\n")
    write_vuln_db(root / "osv")
    _mlops_ci(root, "init", ".", "--vuln-db", "osv")
    git = ["git", "-C", str(root), "-c", "user.name=bench", "-c", "user.email=bench@invalid"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "models"], check=True)
    return root


@pytest.fixture(scope="module")
def repositories(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    # Byte-compile the package first, as ``pip install`` does for users: in an editable
    # checkout with PYTHONDONTWRITEBYTECODE set (this machine's default) every run would
    # otherwise compile ~100 modules from source (~0.16 s), which no installed copy pays.
    import compileall

    compileall.compile_dir(PROJECT / "mlops_ci", quiet=1)
    base = tmp_path_factory.mktemp("warm-rerun")
    return {n: make_repository(base / f"models-{n}", n) for n in (1, 20)}


def test_warm_rerun_is_under_a_second(repositories: dict[int, Path]) -> None:
    medians = {}
    for count, repo in repositories.items():
        cold = _mlops_ci(repo, *CHECK)
        samples = [_mlops_ci(repo, *CHECK) for _ in range(WARM_RUNS)]
        medians[count] = statistics.median(samples)
        print(
            f"\n{count:2d} model(s): cold {cold:.2f} s; warm median {medians[count]:.2f} s"
            f" (min {min(samples):.2f}, max {max(samples):.2f}, {WARM_RUNS} runs)"
        )
    assert all(m <= WARM_BOUND_S for m in medians.values()), medians


def test_twenty_models_cost_little_more_than_one_cold(repositories: dict[int, Path]) -> None:
    samples: dict[int, list[float]] = {1: [], 20: []}
    for _ in range(COLD_RUNS):  # interleaved, so machine load hits both alike
        for count, repo in repositories.items():
            samples[count].append(_mlops_ci(repo, *CHECK, MLOPS_CI_NO_CACHE="1"))
    one, twenty = (statistics.median(samples[n]) for n in (1, 20))
    ratio = twenty / one
    print(
        f"\ncold, no cache, median of {COLD_RUNS}: 1 model {one:.2f} s, 20 models {twenty:.2f} s,"
        f" ratio {ratio:.2f}"
    )
    assert ratio <= COLD_RATIO_BOUND, (one, twenty)
