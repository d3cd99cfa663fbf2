"""Issue 14: the eval gate's throughput and memory on 1,000,000 rows x 30 float features.

Data: a seeded Parquet file (1M rows, 30 float64 features, a 0/1 label; row groups of 64Ki rows);
model: a scikit-learn LogisticRegression trained on 20,000 of its rows, converted with skl2onnx
(probabilities as a tensor, no ZipMap). Measured, each run in its own subprocess (for its peak RSS),
five rounds alternating so machine load falls on both:

- ``bare``: pyarrow ``iter_batches`` of 8192 rows, one batched ``session.run`` per batch, one
  ``sklearn.metrics.roc_auc_score`` call: what a hand-written script does;
- ``bare_unbuffered``: the same with ``pre_buffer=False``, as the engine reads (reported, so the
  engine's own overhead can be read off; not gated);
- ``eval``: ``engine.collect_rows`` (importance off, no baseline) plus the same ``roc_auc_score``
  call; and, when ``mlops_ci.eval.analysis`` exists, ``engine.run_eval`` with metrics [roc_auc].

Timed from before the session opens to after the metric; library imports (numpy, pyarrow,
onnxruntime, scikit-learn, and onnx for the eval, which reads class labels from the graph; ~0.5 s
once per process) are excluded for both. The eval side also hashes the data file (its digest is
evidence), in a thread alongside the reading. Wanted: the eval's median rows/s is at
least 0.85 of the bare script's, and every eval run's peak RSS stays under 1 GiB.

Run with ``pytest tests/benchmarks/test_eval_throughput.py --benchmarks -s`` (about a minute).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROWS, FEATURES, CHUNK = 1_000_000, 30, 100_000
ROUNDS = 5
GIB = 1 << 30

_PRELUDE = """
import json, resource, sys, time
import numpy as np, onnxruntime, pyarrow.parquet as pq
from sklearn.metrics import roc_auc_score
data, model, mode = sys.argv[1], sys.argv[2], sys.argv[3]
cols = [f"f{i:02d}" for i in range(30)]
"""
_BARE = """
start = time.perf_counter()
session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
ys, ps = [], []
reader = pq.ParquetFile(data, pre_buffer=mode == "bare")  # bare: pyarrow's default
for batch in reader.iter_batches(batch_size=8192, columns=[*cols, "label"]):
    x = np.column_stack([batch.column(c).to_numpy() for c in cols]).astype(np.float32)
    ps.append(session.run(["probabilities"], {"input": x})[0][:, 1])
    ys.append(batch.column("label").to_numpy())
value = roc_auc_score(np.concatenate(ys), np.concatenate(ps))
rows = sum(len(y) for y in ys)
"""
_EVAL = """
from pathlib import Path
import onnx  # a library import, like onnxruntime's above (~0.5 s, paid once per process)
from mlops_ci.eval.data import open_data
from mlops_ci.eval.engine import EvalPlan, collect_rows, run_eval
from mlops_ci.eval.settings import EvalSettings
settings = EvalSettings(data=data, label="label", features=cols, metrics=["roc_auc"],
                        importance={"enabled": False})
start = time.perf_counter()
plan = EvalPlan(Path(model), "model.onnx", None, None, open_data(Path(data), "eval.parquet"),
                settings)
if mode == "eval":
    got, _, _ = collect_rows(plan)
    value = roc_auc_score(got.y_true, got.candidate.scores[:, 1])
    rows = got.rows
else:
    outcome = run_eval(plan)
    value = next(m.candidate for m in outcome.metrics if m.name == "roc_auc")
    rows = outcome.rows
"""
_REPORT = """
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"rows": rows, "seconds": seconds, "auc": float(value), "peak": peak}))
"""


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The seeded 1M-row Parquet file and the LogisticRegression converted to ONNX."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.linear_model import LogisticRegression

    root = tmp_path_factory.mktemp("eval-bench")
    rng = np.random.default_rng(20261202)
    weights = rng.standard_normal(FEATURES)
    names = [f"f{i:02d}" for i in range(FEATURES)]
    path = root / "eval.parquet"
    first: tuple[np.ndarray, np.ndarray] | None = None
    schema = pa.schema([(n, pa.float64()) for n in names] + [("label", pa.int64())])
    with pq.ParquetWriter(path, schema) as writer:
        for _ in range(ROWS // CHUNK):
            x = rng.standard_normal((CHUNK, FEATURES))
            y = (x @ weights + rng.standard_normal(CHUNK) * 2 > 0).astype(np.int64)
            first = first or (x[:20_000], y[:20_000])
            columns = [pa.array(x[:, i]) for i in range(FEATURES)] + [pa.array(y)]
            writer.write_table(pa.table(columns, schema=schema), row_group_size=1 << 16)
    assert first is not None
    clf = LogisticRegression(max_iter=1000).fit(*first)
    onnx = convert_sklearn(
        clf,
        initial_types=[("input", FloatTensorType([None, FEATURES]))],
        options={id(clf): {"zipmap": False}},
    )
    model = root / "model.onnx"
    model.write_bytes(onnx.SerializeToString())
    return path, model


def _run(mode: str, data: Path, model: Path) -> dict[str, float]:
    body = _BARE if mode.startswith("bare") else _EVAL
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", _PRELUDE + body + _REPORT, str(data), str(model), mode],
        capture_output=True,
        text=True,
        check=False,
        cwd=repo,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_eval_throughput_within_15_percent_of_bare(dataset: tuple[Path, Path]) -> None:
    import importlib.util

    data, model = dataset
    modes = ["bare", "eval", "bare_unbuffered"]
    if importlib.util.find_spec("mlops_ci.eval.analysis") is not None:
        modes.append("run_eval")
    runs: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
    for round_ in range(ROUNDS):
        order = modes if round_ % 2 == 0 else modes[::-1]
        for mode in order:
            runs[mode].append(_run(mode, data, model))
    rate = {m: statistics.median(r["rows"] / r["seconds"] for r in runs[m]) for m in modes}
    peak = {m: max(r["peak"] for r in runs[m]) for m in modes}
    aucs = {m: runs[m][0]["auc"] for m in modes}
    print()
    for mode in modes:
        print(
            f"{mode:>8}: {rate[mode]:>10,.0f} rows/s (median of {ROUNDS}),"
            f" ratio {rate[mode] / rate['bare']:.3f}, peak RSS {peak[mode] / 2**20:,.0f} MiB,"
            f" roc_auc {aucs[mode]:.6f}"
        )
    for mode in (m for m in modes if not m.startswith("bare")):
        assert abs(aucs[mode] - aucs["bare"]) < 1e-6
        assert runs[mode][0]["rows"] == ROWS
        assert rate[mode] >= 0.85 * rate["bare"], f"{mode} is more than 15% slower than bare"
        assert peak[mode] < GIB, f"{mode} peaked at {peak[mode] / 2**20:.0f} MiB"
