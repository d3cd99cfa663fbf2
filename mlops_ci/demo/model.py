"""Small, real ONNX models built with ``onnx.helper`` (for the demo, tests and benchmarks)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

OPSET = 17
IR_VERSION = 8


def build_mlp(
    widths: Sequence[int] = (64, 32, 2),
    *,
    seed: int = 0,
    batch: int | str = "batch",
    name: str = "mlp",
    input_name: str = "input",
    output_name: str = "output",
    jitter: float = 0.0,
    jitter_seed: int = 1,
) -> Any:
    """An MLP (MatMul + Add, ReLU between layers) as an ``onnx.ModelProto``.

    ``widths`` lists the input width, then each layer's width; ``batch`` is a fixed size or the
    name of a dynamic dimension. Weights come from a seeded generator, so the same arguments give
    the same bytes. ``jitter`` adds seeded noise of that relative size to every weight: a
    "retrained" model close to the one ``seed`` alone gives.
    """
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    noise = np.random.default_rng(jitter_seed)
    nodes = []
    initializers = []
    current = input_name
    layers = len(widths) - 1
    for index in range(layers):
        fan_in, fan_out = widths[index], widths[index + 1]
        weight = (rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)).astype(np.float32)
        bias = (rng.standard_normal(fan_out) * 0.01).astype(np.float32)
        if jitter:
            weight = (weight * (1 + jitter * noise.standard_normal(weight.shape))).astype(
                np.float32
            )
        w_name, b_name = f"layer{index}.weight", f"layer{index}.bias"
        initializers += [
            numpy_helper.from_array(weight, w_name),
            numpy_helper.from_array(bias, b_name),
        ]
        matmul, added = f"layer{index}.matmul", f"layer{index}.out"
        nodes.append(helper.make_node("MatMul", [current, w_name], [matmul]))
        last = index == layers - 1
        nodes.append(helper.make_node("Add", [matmul, b_name], [output_name if last else added]))
        current = added
        if not last:
            relu = f"layer{index}.relu"
            nodes.append(helper.make_node("Relu", [added], [relu]))
            current = relu
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [batch, widths[0]])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, [batch, widths[-1]])],
        initializers,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="mlops-ci"
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def save_mlp(
    path: Path, widths: Sequence[int] = (64, 32, 2), *, seed: int = 0, **kwargs: Any
) -> Path:
    """Build an MLP with :func:`build_mlp` and save it to ``path``."""
    import onnx

    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(build_mlp(widths, seed=seed, **kwargs), str(path))
    return path
