"""Memory and time of ``check`` on a 1 GiB single-file model (acceptance 4 of issue 16).

Goal: ``check --offline --skip bench`` peak RSS <= 1.5 GiB and wall time <= 1.3x the sum of
``onnx.checker.check_model(path, full_check=True)`` and one ``sha256sum`` of the file (the two
things a gate cannot avoid: the full check reads and checks every byte, the digest hashes every
byte). The model: one 1 GiB float32 initializer feeding an ``Add``, written to the file field by
field (no 1 GiB message in this process). Each run is a fresh process; its peak RSS is what
``getrusage(RUSAGE_CHILDREN)`` reports in a small wrapper process. The three commands run
interleaved, medians of 3, with a cold result cache for ``check`` (``MLOPS_CI_CACHE_DIR`` is a
fresh directory per run: the cache hashes its inputs on a first run) and, reported apart, with
``--no-cache``.

Run with ``pytest tests/benchmarks/test_large_model.py --benchmarks -s`` (needs ~1.1 GiB in the
temporary directory and ~2.5 GiB of memory).
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

from mlops_ci.onnx_graph import encode_varint

GIB = 1 << 30
BLOCK = 16 << 20
RUNS = 3
SIDE = 16384  # 16384 x 16384 float32 = 1 GiB
# Measured on the 2-core machine shared with other jobs, medians of 3. Before issue 16: check
# 32.3 s / 6.11 GiB, --no-cache 33.3 s / 6.10 GiB (4.4x and 4.6x). With one parse and one hash
# per file (2026-12-03): check (cold result cache) 12.5 s and 10.9 s / 2.11 GiB, --no-cache
# 9.7 s and 9.1 s / 2.09 GiB, checker 3.5 s and 3.0 s / 2.04 GiB, sha256sum 4.8 s and 4.2 s:
# the checker in-process was the whole peak (it reads the file into a string, then parses it).
# With the checker run on a copy whose large initializers are external references
# (``mlops_ci/onnx_check.py``) and the cache keyed by the run's one digest, three sessions
# (2026-12-03, load average 3.3, 3.9 and 6.7): check (cold result cache) 4.15 s, 4.63 s and
# 6.79 s, --no-cache 3.93 s, 4.31 s and 4.86 s, all at 0.11 GiB peak RSS; checker 3.10 s,
# 3.94 s and 3.50 s at 2.04 GiB; sha256sum 3.97 s, 3.74 s and 5.18 s: ratios 0.59x, 0.60x and
# 0.78x (cold cache) and 0.56x in all three (no cache). The run is one hash of the file plus
# imports; the checker's own cost is gone from it.
RSS_BOUND = 1.5 * GIB  # the figure, absolute
RATIO_BOUND = 1.3  # with a cold result cache and with --no-cache alike

WRAPPER = (
    "import json, resource, subprocess, sys, time\n"
    "start = time.perf_counter()\n"
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
    "wall = time.perf_counter() - start\n"
    "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024\n"
    "print(json.dumps({'code': code, 'wall': wall, 'rss': rss}))\n"
)


def _field(number: int, length: int) -> bytes:
    """The tag and length of a length-delimited protobuf field."""
    return encode_varint(number << 3 | 2) + encode_varint(length)


def write_large_model(path: Path) -> None:
    """A 1 GiB single-file ONNX model, y = x + w, with w's 1 GiB of data streamed to disk."""
    import numpy as np
    from onnx import TensorProto, helper

    size = SIDE * SIDE * 4
    weight = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[SIDE, SIDE])
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [SIDE, SIDE])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [SIDE, SIDE])
    graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    # Protobuf merges fields in any order: the model without its graph, then the graph (its
    # fields, then the initializer: the tensor's header, then raw_data, field 9).
    tensor_head = weight.SerializeToString() + _field(9, size)
    tensor_length = len(tensor_head) + size
    graph_head = graph.SerializeToString() + _field(5, tensor_length)
    graph_length = len(graph_head) + tensor_length
    model.ClearField("graph")
    block = np.random.default_rng(0).standard_normal(BLOCK // 4, dtype=np.float32).tobytes()
    with path.open("wb") as handle:
        handle.write(model.SerializeToString() + _field(7, graph_length))
        handle.write(graph_head + tensor_head)
        for _ in range(size // BLOCK):
            handle.write(block)
    from mlops_ci.onnx_graph import load_graph

    assert list(load_graph(path).graph.initializer[0].dims) == [SIDE, SIDE]


def measure(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> dict[str, float]:
    """Wall time (s), peak RSS (bytes) and exit code of ``command`` in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, *command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    figures: dict[str, float] = json.loads(done.stdout)
    return figures


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from mlops_ci.demo import write_vuln_db

    root = tmp_path_factory.mktemp("large-model") / "repo"
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "models").mkdir()
    write_large_model(root / "models" / "model.onnx")
    (root / "requirements.txt").write_text("idna==3.7\n")
    write_vuln_db(root / "osv")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    subprocess.run(
        [sys.executable, "-m", "mlops_ci", "init", str(root), "--vuln-db", str(root / "osv")],
        check=True,
        env=env,
        capture_output=True,
    )
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(
        ["git", "-c", "user.name=b", "-c", "user.email=b@example.com", "commit", "-qm", "m"],
        cwd=root,
        check=True,
    )
    yield root
    shutil.rmtree(root.parent, ignore_errors=True)


def test_check_of_a_1_gib_model_is_bounded_by_the_checker_and_one_hash(repo: Path) -> None:
    model = str(repo / "models" / "model.onnx")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    check = [sys.executable, "-m", "mlops_ci", "check", "--offline", "--skip", "bench"]
    checker = [
        sys.executable,
        "-c",
        "import onnx, sys; onnx.checker.check_model(sys.argv[1], full_check=True)",
        model,
    ]
    sha256sum = ["sha256sum", model]
    samples: dict[str, list[dict[str, float]]] = {
        "check": [],
        "check --no-cache": [],
        "checker": [],
        "sha256sum": [],
    }
    measure(sha256sum, repo)  # the page cache holds the file for every tool alike
    for run in range(RUNS):
        cache_dir = repo.parent / f"cache-{run}"
        samples["check"].append(measure(check, repo, {**env, "MLOPS_CI_CACHE_DIR": str(cache_dir)}))
        samples["checker"].append(measure(checker, repo, env))
        samples["check --no-cache"].append(measure([*check, "--no-cache"], repo, env))
        samples["sha256sum"].append(measure(sha256sum, repo))
        shutil.rmtree(cache_dir, ignore_errors=True)
    wall = {name: statistics.median(s["wall"] for s in runs) for name, runs in samples.items()}
    rss = {name: max(s["rss"] for s in runs) for name, runs in samples.items()}
    floor = wall["checker"] + wall["sha256sum"]
    print(f"\nload average {os.getloadavg()}; file {Path(model).stat().st_size / GIB:.2f} GiB")
    for name, runs in samples.items():
        print(
            f"  {name:18} wall {wall[name]:6.2f} s (runs {[round(s['wall'], 2) for s in runs]})"
            f"  peak RSS {rss[name] / GIB:5.2f} GiB  exit {[int(s['code']) for s in runs]}"
        )
    for name in ("check", "check --no-cache"):
        print(f"  {name}: {wall[name] / floor:.2f}x (checker + sha256sum = {floor:.2f} s)")
    assert all(s["code"] == 0 for s in samples["check"] + samples["check --no-cache"])
    assert rss["check"] <= RSS_BOUND and rss["check --no-cache"] <= RSS_BOUND
    assert wall["check --no-cache"] <= RATIO_BOUND * floor
    assert wall["check"] <= RATIO_BOUND * floor
