"""Latency of the demo model and of a 4-layer MLP of width 4096 at batch 64, on CPU and on GPU.

Acceptance item 5 of issue 6. Run on a machine with onnxruntime-gpu and a CUDA GPU:

    python tests/benchmarks/gpu_latency.py OUT_DIR

or through ``pytest tests/benchmarks/test_gpu_latency.py --benchmarks -s`` (skipped without
CUDA). Each row is one run of the harness (``mlops_ci.bench.engine.run_bench``): CPU rows use
``session.run``, CUDA rows IO binding with device-resident inputs and outputs and explicit
synchronisation. For contrast, the last rows time ``session.run`` on CUDA with host numpy inputs,
which includes the host-to-device and device-to-host copies the harness keeps out.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

MODELS = {
    "demo 64-32-2, batch 1": ((64, 32, 2), 1),
    "MLP 4x4096, batch 64": ((4096, 4096, 4096, 4096, 4096), 64),
}
# (label, provider, intra-op threads, budget in seconds)
CONFIGS = (
    ("CPU, 1 thread", "cpu", 1, 6.0),
    ("CPU, all cores", "cpu", 0, 6.0),
    ("CUDA, IO binding", "cuda", 1, 6.0),
)


def run(out_dir: Path) -> list[dict[str, Any]]:
    """Measure every model under every configuration; write JSON files; return the rows."""
    import onnxruntime

    from mlops_ci.bench.engine import BenchPlan, run_bench
    from mlops_ci.bench.results import outcome_document, write_results
    from mlops_ci.bench.session import SessionSettings
    from mlops_ci.demo.model import save_mlp

    out_dir.mkdir(parents=True, exist_ok=True)
    available = onnxruntime.get_available_providers()
    rows: list[dict[str, Any]] = []
    for name, (widths, batch) in MODELS.items():
        path = save_mlp(Path("/tmp") / f"bench-{widths[0]}-{len(widths)}.onnx", widths, seed=1)
        for label, provider, threads, budget in CONFIGS:
            if provider == "cuda" and "CUDAExecutionProvider" not in available:
                continue
            plan = BenchPlan(
                name=name,
                model=path,
                display=path.name,
                dims={"batch": batch},
                settings=SessionSettings(provider=provider, intra_op_threads=threads),  # type: ignore[arg-type]
                budget_s=budget,
            )
            outcome = run_bench(plan)
            summary = outcome.candidate.summary
            rows.append(
                {
                    "model": name,
                    "config": label,
                    "p50_ms": summary.p50_ns / 1e6,
                    "p90_ms": summary.p90_ns / 1e6,
                    "p50_ci_ms": [v / 1e6 for v in summary.p50_ci_ns],
                    "p90_ci_ms": [v / 1e6 for v in summary.p90_ci_ns],
                    "samples": summary.count,
                    "warmup_stable": bool(
                        outcome.candidate.warmup and outcome.candidate.warmup.stable
                    ),
                    "unstable": summary.unstable,
                    "providers": list(outcome.provider.providers),
                }
            )
            slug = f"{widths[0]}-{provider}-{threads}".replace(" ", "")
            document = outcome_document(outcome, model_name=name, started_at=time.strftime("%FT%T"))
            write_results(out_dir / f"bench-{slug}.json", document)
            if provider == "cuda":
                rows.append(_plain_run_on_cuda(name, path, batch, widths[0]))
                print("fingerprint:", json.dumps(outcome.fingerprint.to_dict()), flush=True)
    return rows


def _plain_run_on_cuda(name: str, path: Path, batch: int, width: int) -> dict[str, Any]:
    """``session.run`` with host inputs on CUDA: the copies included, for contrast."""
    import numpy as np
    import onnxruntime

    session = onnxruntime.InferenceSession(
        str(path), providers=["CUDAExecutionProvider", "CPUExecutionProvider"]
    )
    feeds = {"input": np.random.default_rng(0).standard_normal((batch, width)).astype(np.float32)}
    for _ in range(50):
        session.run(None, feeds)
    samples = []
    deadline = time.perf_counter() + 3.0
    while time.perf_counter() < deadline:
        start = time.perf_counter_ns()
        session.run(None, feeds)
        samples.append(time.perf_counter_ns() - start)
    ordered = sorted(samples)
    return {
        "model": name,
        "config": "CUDA, session.run with host copies",
        "p50_ms": statistics.median(samples) / 1e6,
        "p90_ms": ordered[int(0.9 * (len(ordered) - 1))] / 1e6,
        "samples": len(samples),
    }


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table."""
    lines = [
        "| model | configuration | p50 ms | p90 ms | p50 95% CI | p90 95% CI | samples |",
        "| --- | --- | ---: | ---: | --- | --- | ---: |",
    ]
    for row in rows:
        ci50 = "–".join(f"{v:.4f}" for v in row.get("p50_ci_ms", [])) or "—"
        ci90 = "–".join(f"{v:.4f}" for v in row.get("p90_ci_ms", [])) or "—"
        lines.append(
            f"| {row['model']} | {row['config']} | {row['p50_ms']:.4f} | {row['p90_ms']:.4f}"
            f" | {ci50} | {ci90} | {row['samples']} |"
        )
    return "\n".join(lines)


def main() -> int:
    """Entry point: ``python gpu_latency.py OUT_DIR``."""
    out_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "gpu-latency")
    rows = run(out_dir)
    (out_dir / "gpu_latency.json").write_text(json.dumps(rows, indent=1))
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
