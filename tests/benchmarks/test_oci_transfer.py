"""Push and pull of a large model through a loopback registry (issue 17, acceptance 6).

Data: a directory model of 8 x 256 MiB random files (2 GiB), signed in key mode. Registry:
Debian's docker-registry (distribution 2.8.2) on loopback. Compared, interleaved, medians of
``RUNS``, each a fresh process timed and measured (peak RSS through ``getrusage(RUSAGE_CHILDREN)``
in a small wrapper process):

- ``mlops-ci push m --to oci://...`` into a fresh repository (every blob is sent) against
  ``skopeo copy oci:LAYOUT docker://...`` of the same artifact (the same blobs, from an OCI
  layout directory) into another fresh repository;
- ``mlops-ci pull oci://...@DIGEST --to DIR`` against ``skopeo copy docker://... oci:DIR``.

mlops-ci's work beyond the transfer: push hashes every file first (the layer digests, checked
against the signature), pull hashes while it writes, and both send the evidence referrers.

A fresh registry per run: skopeo remembers where it saw a blob and mounts it from another
repository of the same registry instead of sending it (0.2 s for the 2 GiB, measured).

Measured 2026-12-03 on the 2-core machine shared with other jobs, medians of 3 (runs vary
by up to 1.5x on this machine): mlops-ci push 11.3 s (181 MiB/s, including hashing the 2 GiB
once to check the files against the signature) vs skopeo push 16.7 s (123 MiB/s), 0.68x;
mlops-ci pull 8.4 s (243 MiB/s) vs skopeo pull 12.0 s (171 MiB/s), 0.70x; peak RSS of push
79 MiB, of pull 50 MiB. (Before uploads were sent in 1 MiB blocks instead of urllib3's 16 KiB:
push 14.3 s vs skopeo 17.4 s.)

Goals: peak RSS of mlops-ci's push and pull under 300 MiB (streamed, bounded memory); the times are
reported beside skopeo's. Run with ``pytest tests/benchmarks/test_oci_transfer.py --benchmarks
-s`` (needs ~8 GiB free in the temporary directory).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.oci_models import CONFIG
from tests.oci_registry import skopeo, start_registry
from tests.pki import write_key_pair

MIB = 1 << 20
FILES, FILE_MIB = 8, 256
RUNS = 3
RSS_BOUND = 300 * MIB
WRAPPER = (
    "import json, resource, subprocess, sys, time\n"
    "start = time.perf_counter()\n"
    "done = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)\n"
    "wall = time.perf_counter() - start\n"
    "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024\n"
    "print(json.dumps({'code': done.returncode, 'wall': wall, 'rss': rss,"
    " 'out': done.stdout.decode()[-2000:], 'err': done.stderr.decode()[-2000:]}))\n"
)


def measure(command: list[str], cwd: Path) -> dict[str, object]:
    """Wall time, peak RSS and output of ``command`` in a fresh process; it must succeed."""
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, *command],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    figures: dict[str, object] = json.loads(done.stdout)
    assert figures["code"] == 0, figures
    return figures


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("oci-transfer")
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def repo(workspace: Path) -> Path:
    root = workspace / "repo"
    model = root / "model"
    model.mkdir(parents=True)
    for index in range(FILES):
        with (model / f"shard-{index}.bin").open("wb") as handle:
            for _ in range(FILE_MIB):
                handle.write(os.urandom(MIB))
    write_key_pair(root)
    (root / "card.md").write_text("---\nlicense: mit\n---\n# m\n")
    (root / "mlops-ci.yaml").write_text(CONFIG)
    mlops_ci = str(Path(sys.executable).parent / "mlops-ci")
    subprocess.run([mlops_ci, "sign", "--model", "m"], cwd=root, check=True, capture_output=True)
    return root


def _digest(figures: dict[str, object]) -> str:
    return str(figures["out"]).rsplit("digest: ", 1)[1].strip()


def test_push_and_pull_of_2_gib_stream_in_bounded_memory(repo: Path, workspace: Path) -> None:
    mlops_ci = str(Path(sys.executable).parent / "mlops-ci")
    tool = skopeo()
    # Warm-up (not measured): the page cache, and the OCI layout skopeo pushes from.
    layout = workspace / "layout"
    with start_registry(workspace / "registry-warm-up") as warm_up:
        host = warm_up.host
        warm = measure([mlops_ci, "push", "m", "--to", f"oci://{host}/bench/m:v1"], repo)
        source = f"docker://{host}/bench/m@{_digest(warm)}"
        measure([tool, "copy", "--src-tls-verify=false", source, f"oci:{layout}:bench"], workspace)
    times: dict[str, list[float]] = {k: [] for k in ("push", "skopeo push", "pull", "skopeo pull")}
    rss: dict[str, list[float]] = {"push": [], "pull": []}
    for run in range(RUNS):
        # A fresh registry per run: skopeo remembers where it saw each blob and would mount it
        # from another repository of the same registry instead of sending it (0.2 s for 2 GiB).
        with start_registry(workspace / f"registry-{run}") as registry:
            host = registry.host
            out, skopeo_out = workspace / f"pulled-{run}", workspace / f"skopeo-pulled-{run}"
            steps = {
                "push": [mlops_ci, "push", "m", "--to", f"oci://{host}/bench/mlops:v1"],
                "skopeo push": [
                    tool,
                    "copy",
                    "--dest-tls-verify=false",
                    f"oci:{layout}:bench",
                    f"docker://{host}/bench/skopeo:v1",
                ],
            }
            order = ["push", "skopeo push"] if run % 2 == 0 else ["skopeo push", "push"]
            done = {name: measure(steps[name], repo) for name in order}
            for name in order:
                times[name].append(float(done[name]["wall"]))  # type: ignore[arg-type]
            rss["push"].append(float(done["push"]["rss"]))  # type: ignore[arg-type]
            assert "0 uploaded" not in str(done["push"]["out"])
            pinned = _digest(done["push"])
            steps = {
                "pull": [mlops_ci, "pull", f"oci://{host}/bench/mlops@{pinned}", "--to", str(out)],
                "skopeo pull": [
                    tool,
                    "copy",
                    "--src-tls-verify=false",
                    f"docker://{host}/bench/skopeo:v1",
                    f"oci:{skopeo_out}:bench",
                ],
            }
            order = ["pull", "skopeo pull"] if run % 2 == 0 else ["skopeo pull", "pull"]
            done = {name: measure(steps[name], workspace) for name in order}
            for name in order:
                times[name].append(float(done[name]["wall"]))  # type: ignore[arg-type]
            rss["pull"].append(float(done["pull"]["rss"]))  # type: ignore[arg-type]
            assert (out / "model" / "shard-0.bin").stat().st_size == FILE_MIB * MIB
            shutil.rmtree(out)
            shutil.rmtree(skopeo_out)
        shutil.rmtree(workspace / f"registry-{run}")
    medians = {k: statistics.median(v) for k, v in times.items()}
    peaks = {k: max(v) for k, v in rss.items()}
    size_mib = FILES * FILE_MIB
    print()
    for name, seconds in medians.items():
        runs = ", ".join(f"{t:.2f}" for t in times[name])
        print(f"{name:<12} median {seconds:6.2f} s ({size_mib / seconds:5.0f} MiB/s), runs {runs}")
    for name, peak in peaks.items():
        print(f"mlops-ci {name} peak RSS {peak / MIB:.0f} MiB")
    print(
        f"push / skopeo push {medians['push'] / medians['skopeo push']:.2f}x,"
        f" pull / skopeo pull {medians['pull'] / medians['skopeo pull']:.2f}x"
    )
    assert peaks["push"] < RSS_BOUND, peaks
    assert peaks["pull"] < RSS_BOUND, peaks
