"""Acceptance 5 of issue 6 under pytest: GPU latency (skipped where onnxruntime has no CUDA).

Run with ``pytest tests/benchmarks/test_gpu_latency.py --benchmarks -s``; see gpu_latency.py.
"""

from __future__ import annotations

from pathlib import Path

import onnxruntime
import pytest

from tests.benchmarks import gpu_latency


@pytest.mark.skipif(
    "CUDAExecutionProvider" not in onnxruntime.get_available_providers(),
    reason="onnxruntime has no CUDA provider here (install onnxruntime-gpu on a GPU machine)",
)
def test_gpu_latency(tmp_path: Path) -> None:
    rows = gpu_latency.run(tmp_path)
    print("\n" + gpu_latency.table(rows))
    assert any(row["config"] == "CUDA, IO binding" for row in rows)
