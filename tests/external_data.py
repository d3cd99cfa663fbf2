"""ONNX models that keep their weights in an external data file (``model.onnx.data``)."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

DATA_NAME = "model.onnx.data"
NAN = struct.pack("<f", float("nan"))


def save_external(path: Path, *, retrain: int | None = None, location: str = DATA_NAME) -> Path:
    """The demo MLP saved as ``path`` plus every tensor in the one external file ``location``;
    ``retrain`` gives a retrained one (the weights moved as the demo's retrain moves them)."""
    import onnx

    from mlops_ci.demo import RETRAIN_JITTER
    from mlops_ci.demo.model import build_mlp

    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(
        build_mlp((64, 32, 2), seed=7)
        if retrain is None
        else build_mlp((64, 32, 2), seed=7, jitter=RETRAIN_JITTER, jitter_seed=retrain),
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=location,
        size_threshold=0,
    )
    return path


def poison(data: Path) -> None:
    """Overwrite the first weight with NaN: same size, and every output becomes NaN."""
    raw = bytearray(data.read_bytes())
    raw[0:4] = NAN
    data.write_bytes(bytes(raw))


def run_model(path: Path) -> Any:
    """The model's output for a fixed input (onnxruntime, CPU)."""
    import numpy as np
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    batch = np.ones((1, 64), dtype=np.float32)
    return session.run(None, {session.get_inputs()[0].name: batch})[0]


def point_at(model: Path, location: str) -> None:
    """Rewrite every external tensor of ``model`` to keep its data at ``location``."""
    import onnx

    proto = onnx.load(str(model), load_external_data=False)
    for tensor in proto.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = location
    onnx.save_model(proto, str(model))


def use_external_data(repo: Path) -> Path:
    """Replace the demo model of ``repo`` by the same MLP with its weights in ``model.onnx.data``."""
    model = repo / "models" / "fraud-detector" / "model.onnx"
    save_external(model)
    return model
