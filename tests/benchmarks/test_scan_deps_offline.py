"""Offline audit of 300 real pinned package versions against the full PyPA advisory database.

Targets (issue 4): under 5 s wall time cold (no index cache), under 2 s warm (index cached).
Each figure is the median of 5 runs of the real command line
(``mlops-ci scan --offline --requirements R --vuln-db DB``) in a fresh process.

Run with ``.venv/bin/python -m pytest tests/benchmarks/test_scan_deps_offline.py --benchmarks -s``.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlops_ci.scan.osv import parse_version
from mlops_ci.scan.osv_index import load_index

PACKAGES = 300
RUNS = 5


def pinned_versions(db: Path) -> list[tuple[str, str]]:
    """300 packages of the database, each pinned at a version it lists (two thirds) or at a
    fixed version (one third), chosen deterministically."""
    index = load_index(db, None)
    pins = []
    for name in sorted(index.packages):
        if len(pins) == PACKAGES:
            break
        number = len(pins)
        record = index.records[index.packages[name][0]]
        entry = next(a for a in record["affected"] if a["package"]["name"] == name)
        fixed = [e["fixed"] for r in entry["ranges"] for e in r["events"] if "fixed" in e]
        versions = [v for v in entry["versions"] if parse_version(v) is not None]
        fixed = [v for v in fixed if parse_version(v) is not None]
        if number % 3 == 2 and fixed:
            pins.append((name, fixed[-1]))
        elif versions:
            pins.append((name, versions[len(versions) // 2]))
        elif fixed:
            pins.append((name, fixed[-1]))
    return pins


def run_scan(cwd: Path, requirements: Path, db: Path) -> tuple[float, float, dict]:  # type: ignore[type-arg]
    exe = Path(sys.executable).parent / "mlops-ci"
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "mlops_ci"]
    command += ["scan", "--offline", "-r", str(requirements), "--vuln-db", str(db)]
    command += ["--format", "json=report.json"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert done.returncode in (0, 1), done.stderr
    report = json.loads((cwd / "report.json").read_text())
    (deps,) = [r for r in report["results"] if r["check"] == "deps"]
    return elapsed, cpu, deps["facts"]


@pytest.mark.shared_data
def test_offline_audit_of_300_pins(shared_data: Path, tmp_path: Path) -> None:
    db = shared_data / "pypa-advisory-db"
    pins = pinned_versions(db)
    assert len(pins) == PACKAGES
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("".join(f"{n}=={v}\n" for n, v in pins))
    cache = tmp_path / ".mlops-ci"
    cold, warm, cold_cpu, warm_cpu = [], [], [], []
    facts: dict = {}  # type: ignore[type-arg]
    for _ in range(RUNS):
        shutil.rmtree(cache, ignore_errors=True)
        elapsed, cpu, facts = run_scan(tmp_path, requirements, db)
        cold.append(elapsed)
        cold_cpu.append(cpu)
        elapsed, cpu, facts = run_scan(tmp_path, requirements, db)
        warm.append(elapsed)
        warm_cpu.append(cpu)
    load = os.getloadavg()
    print(
        f"\noffline audit, {PACKAGES} pins, {facts['total']} advisories matched,"
        f" {facts['unaudited']} unaudited, {facts['packages']} packages audited\n"
        f"cold (no index cache): median {statistics.median(cold):.2f} s"
        f" (runs {', '.join(f'{t:.2f}' for t in cold)});"
        f" CPU (user+sys, both processes) median {statistics.median(cold_cpu):.2f} s\n"
        f"warm (index cached):   median {statistics.median(warm):.2f} s"
        f" (runs {', '.join(f'{t:.2f}' for t in warm)});"
        f" CPU median {statistics.median(warm_cpu):.2f} s\n"
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {os.cpu_count()} CPUs"
    )
    assert facts["unaudited"] == 0 and facts["total"] > PACKAGES // 2
    assert statistics.median(cold) < 5.0
    assert statistics.median(warm) < 2.0
