"""SBOM of this project's own dev environment (100+ packages) against its baseline, same run.

Baseline: ``cyclonedx-py environment --no-validate`` plus one in-process validation of its output
with ``JsonStrictValidator(SchemaVersion.V1_6)`` in a fresh Python process (which never imports
mlops-ci, so no cache of ours helps it), timed inside that process: importing the validator,
building it and validating (the interpreter's start-up is left out). ``mlops-ci sbom`` (a fresh
process, start-up included) must take at most 1.2x that, comparing medians of interleaved runs.
Also printed: the baseline with the validating process's whole wall time, and with the
``validate_str`` call alone (no import, no construction).

Run with ``pytest tests/benchmarks/test_sbom_environment.py --benchmarks -s``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 5
VALIDATE = """
import json, sys, time
t0 = time.perf_counter()
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
text = open(sys.argv[1], encoding="utf-8").read()
validator = JsonStrictValidator(SchemaVersion.V1_6)
t1 = time.perf_counter()
error = validator.validate_str(text)
t2 = time.perf_counter()
assert error is None, error
print(json.dumps({"in_process_s": t2 - t0, "call_s": t2 - t1}))
"""


def _timed(command: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, done.stdout


def test_environment_sbom_within_1_2x_of_cyclonedx_py_plus_validation(tmp_path: Path) -> None:
    from mlops_ci.demo import create_demo

    repo = create_demo(tmp_path / "demo")
    config = repo / "mlops-ci.yaml"
    config.write_text(
        config.read_text().replace(
            "sbom: {requirements: [requirements.txt]}", "sbom: {source: environment}"
        )
    )
    bin_dir = Path(sys.executable).parent
    process, in_process, call_only, ours = [], [], [], []
    components = 0
    for run in range(RUNS):
        if run % 2:  # alternate which goes first, so neither always finds a warmer machine
            ours.append(
                _timed([str(bin_dir / "mlops-ci"), "sbom", "-o", f"ours{run}.json"], repo)[0]
            )
        cdx, _ = _timed(
            [str(bin_dir / "cyclonedx-py"), "environment", "--no-validate", "-o", "base.json"],
            repo,
        )
        whole, out = _timed([sys.executable, "-c", VALIDATE, "base.json"], repo)
        inner = json.loads(out)
        process.append(cdx + whole)
        in_process.append(cdx + inner["in_process_s"])
        call_only.append(cdx + inner["call_s"])
        if not run % 2:
            ours.append(
                _timed([str(bin_dir / "mlops-ci"), "sbom", "-o", f"ours{run}.json"], repo)[0]
            )
        components = len(json.loads((repo / f"ours{run}.json").read_text())["components"])
    packages = len(json.loads((repo / "base.json").read_text())["components"])
    load = os.getloadavg()
    a, b, c, m = (statistics.median(x) for x in (process, in_process, call_only, ours))
    print(
        f"\nSBOM of the dev environment: {packages} packages ({components} top-level components"
        f" in mlops-ci's document), medians of {RUNS} interleaved runs"
        f"\n  mlops-ci sbom:                               {m:6.2f} s  {_runs(ours)}"
        f"\n  baseline (cyclonedx-py --no-validate + import, build, validate in-process):"
        f"\n                                               {b:6.2f} s  {_runs(in_process)}"
        f"  ratio {m / b:.2f}"
        f"\n  baseline with the whole validating process:  {a:6.2f} s  {_runs(process)}"
        f"  ratio {m / a:.2f}"
        f"\n  baseline with the validate_str call alone:   {c:6.2f} s  {_runs(call_only)}"
        f"  ratio {m / c:.2f}"
        f"\n  load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs"
    )
    assert packages >= 100
    assert m <= 1.2 * b


def _runs(samples: list[float]) -> str:
    return "(" + ", ".join(f"{s:.2f}" for s in samples) + ")"
