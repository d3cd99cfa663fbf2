"""``check --offline`` + ``sign`` on the demo against the tools it replaces, run by hand (issue 16).

The hand-run sequence does what a team's script does without mlops-ci, on the same demo
repository and the same data: bandit on the source, pip-audit against the same OSV records
(served on loopback, as mlops-ci serves them to pip-audit), ``cyclonedx-py requirements``, an
onnxruntime timing script that times the candidate and the baseline model alternately for the
demo's bench budget, and ``model_signing sign key``. Each tool is its own process, one after
another. mlops-ci runs ``check --offline`` then ``sign`` with its result cache off (a cold run:
the hand-run sequence has no cache either). Runs are interleaved, each on a fresh copy of the
demo; the figures are medians.

Run with ``pytest tests/benchmarks/test_vs_by_hand.py --benchmarks -s``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import copy_demo

ROUNDS = 3
# Measured 2026-12-03 on 2 cores: 0.41 idle (0.90-1.16 before that day's second round of work).
# The bound catches a return to the old cost, with room for a loaded machine's noise.
SAME_WORK_BOUND = 0.7
BIN = Path(sys.executable).parent
MODEL = "models/fraud-detector/model.onnx"

TIMING_SCRIPT = """
import sys, time
import numpy as np
import onnxruntime as ort
budget = float(sys.argv[3])
feed = {"input": np.random.default_rng(0).standard_normal((1, 64), dtype=np.float32)}
sessions = [ort.InferenceSession(p, providers=["CPUExecutionProvider"]) for p in sys.argv[1:3]]
times = [[], []]
for s in sessions:
    for _ in range(50):
        s.run(None, feed)
end = time.perf_counter() + budget
while time.perf_counter() < end:
    for i, s in enumerate(sessions):
        t = time.perf_counter_ns(); s.run(None, feed); times[i].append(time.perf_counter_ns() - t)
print([sorted(t)[len(t) // 2] for t in times])
"""


def _hand_run(repo: Path, budget_s: float | None) -> None:
    """The hand-run sequence; ``budget_s`` None leaves out the timing script."""
    from mlops_ci.scan.osv_index import load_index
    from mlops_ci.scan.osv_server import LoopbackOsvServer

    def tool(*args: str) -> None:
        done = subprocess.run(args, cwd=repo, capture_output=True, text=True, check=False)
        assert done.returncode in (0, 1), f"{args[0]}: {done.stderr[-2000:]}"

    tool(str(BIN / "bandit"), "-r", "src", "-q", "-f", "json", "-o", "bandit.json")
    with LoopbackOsvServer() as server:
        server.serve(load_index(repo / "vuln-db", None))
        tool(
            str(BIN / "pip-audit"), "-r", "requirements.txt", "--no-deps", "--disable-pip",
            "-s", "osv", "--osv-url", server.url, "-f", "json", "-o", "audit.json",
            "--progress-spinner", "off",
        )  # fmt: skip
    tool(str(BIN / "cyclonedx-py"), "requirements", "requirements.txt", "-o", "sbom.json")
    baseline = repo / "baseline.onnx"
    baseline.write_bytes(
        subprocess.run(
            ["git", "show", f"origin/main:{MODEL}"], cwd=repo, capture_output=True, check=True
        ).stdout
    )
    if budget_s is not None:
        tool(sys.executable, "-c", TIMING_SCRIPT, MODEL, str(baseline), str(budget_s))
    tool(
        str(BIN / "model_signing"), "sign", "key", "models/fraud-detector",
        "--private_key", ".mlops-ci/keys/signing-key.pem", "--signature", "model.sig",
    )  # fmt: skip


def _mlops_ci(repo: Path, skip: tuple[str, ...] = ()) -> None:
    env = {**os.environ, "MLOPS_CI_NO_CACHE": "1"}
    skipped = [a for name in skip for a in ("--skip", name)]
    for args in (
        ["check", "--offline", "-q", "--format", "json=reports/mlops-ci.json", *skipped],
        ["sign"],
    ):
        done = subprocess.run(
            [str(BIN / "mlops-ci"), *args],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, (
            f"mlops-ci {args[0]}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
        )


def _timed(action: Callable[[Path], None], repo: Path) -> float:
    start = time.perf_counter()
    action(repo)
    return time.perf_counter() - start


@pytest.mark.slow
def test_check_and_sign_against_the_hand_run_sequence(tmp_path: Path) -> None:
    """Issue 16, acceptance 1: ratio <= 0.5. Measured 2026-12-03 on 2 idle cores: 0.34 (hand-run
    6.48 s, mlops-ci 2.22 s). The timing script spends its whole budget; mlops-ci's comparison
    stops when its interval decides (at least 10 rounds), and mlops-ci also evaluates 5,000
    rows, which the hand-run sequence does not do at all."""
    from mlops_ci.demo import create_demo

    template = create_demo(tmp_path / "template")
    budget_s = 3.0  # the demo's bench.budget_s
    hand, tool = [], []
    for i in range(ROUNDS):
        hand.append(
            _timed(lambda r: _hand_run(r, budget_s), copy_demo(template, tmp_path / f"h{i}"))
        )
        tool.append(_timed(_mlops_ci, copy_demo(template, tmp_path / f"t{i}")))
    ratio = statistics.median(tool) / statistics.median(hand)
    print(
        f"\nhand-run sequence: median {statistics.median(hand):.2f} s of {ROUNDS}"
        f" ({', '.join(f'{t:.2f}' for t in hand)});"
        f" mlops-ci check --offline + sign: median {statistics.median(tool):.2f} s"
        f" ({', '.join(f'{t:.2f}' for t in tool)}); ratio {ratio:.2f}"
    )
    assert ratio <= 0.5


@pytest.mark.slow
def test_the_same_work_without_timing_against_the_hand_run_sequence(tmp_path: Path) -> None:
    """The comparison above less what only one side does or what cannot get faster: the 3 s
    latency budget (both sides spend it, and issue 16 wants the bench alone in the process) and
    the evaluation (which the hand-run sequence does not do at all). What is left is the same
    work on both sides: audit, SAST, SBOM, model scan and checks, signing. Reported, and bounded
    at the measured figure (no acceptance bound of its own)."""
    from mlops_ci.demo import create_demo

    template = create_demo(tmp_path / "template")
    hand, tool = [], []
    for i in range(ROUNDS):
        hand.append(_timed(lambda r: _hand_run(r, None), copy_demo(template, tmp_path / f"h{i}")))
        tool.append(
            _timed(
                lambda r: _mlops_ci(r, skip=("bench", "eval")),
                copy_demo(template, tmp_path / f"t{i}"),
            )
        )
    ratio = statistics.median(tool) / statistics.median(hand)
    print(
        f"\nwithout timing or evaluation: hand-run median {statistics.median(hand):.2f} s"
        f" ({', '.join(f'{t:.2f}' for t in hand)}); mlops-ci check --offline --skip bench"
        f" --skip eval + sign: median {statistics.median(tool):.2f} s"
        f" ({', '.join(f'{t:.2f}' for t in tool)}); ratio {ratio:.2f}"
    )
    assert ratio <= SAME_WORK_BOUND
