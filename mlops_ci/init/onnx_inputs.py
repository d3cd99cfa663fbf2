"""The real inputs of an ONNX model (names, element types, shapes), read for ``bench:``.

The model is parsed with ``onnx`` without its external data (only the graph is needed, and a
missing or escaping data file is the ``artifacts`` check's business, not init's). A model that
does not parse gets no ``bench.inputs``; init says so and ``check`` reports it properly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlops_ci.config_sections import MAX_DIM, MAX_RANK
from mlops_ci.onnx_native import NP_DTYPE_NAMES

# ONNX TensorProto element types bench.inputs can synthesise -> their numpy dtype names.
_DTYPES = {code: NP_DTYPE_NAMES[code] for code in (1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13)}
_MAX_NAME = 200
_MAX_PROTO = 2 << 30  # protobuf's limit on one message


@dataclass(frozen=True)
class ModelInput:
    """One graph input: its shape (ints, and dimension names for dynamic ones) and dtype."""

    name: str
    shape: tuple[int | str, ...]
    dtype: str


@dataclass(frozen=True)
class ModelInputs:
    """The inputs of one model, the dynamic dimension names they use, or why none were read."""

    inputs: tuple[ModelInput, ...] = ()
    dynamic: tuple[str, ...] = ()
    problem: str | None = None


def read_inputs(path: Path) -> ModelInputs:
    """The graph inputs of the ONNX model at ``path`` (initializers are not inputs)."""
    import onnx

    if path.stat().st_size >= _MAX_PROTO:
        return ModelInputs(problem="over 2 GiB: protobuf cannot parse it (use external data)")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf raises many kinds; the onnx-model check reports it
        return ModelInputs(problem=f"not a readable ONNX model ({type(exc).__name__})")
    initializers = {tensor.name for tensor in model.graph.initializer}
    inputs: list[ModelInput] = []
    dynamic: list[str] = []
    for value in model.graph.input:
        if value.name in initializers:
            continue
        if not _plain(value.name):
            return ModelInputs(problem="an input name is not plain text")
        tensor = value.type.tensor_type
        dtype = _DTYPES.get(tensor.elem_type)
        if not value.type.HasField("tensor_type") or dtype is None:
            return ModelInputs(problem=f"input {value.name!r} is not a numeric tensor")
        if not tensor.HasField("shape"):
            return ModelInputs(problem=f"input {value.name!r} declares no shape")
        shape: list[int | str] = []
        for axis, dim in enumerate(tensor.shape.dim):
            if dim.HasField("dim_value") and 0 < dim.dim_value <= MAX_DIM:
                shape.append(int(dim.dim_value))
                continue
            name = dim.dim_param if _plain(dim.dim_param) else f"{value.name}_dim{axis}"
            shape.append(name)
            if name not in dynamic:
                dynamic.append(name)
        if len(shape) > MAX_RANK:
            return ModelInputs(problem=f"input {value.name!r} has more than {MAX_RANK} dimensions")
        inputs.append(ModelInput(value.name, tuple(shape), dtype))
    return ModelInputs(tuple(inputs), tuple(dynamic))


def _plain(text: str) -> bool:
    return bool(text) and len(text) <= _MAX_NAME and text.isprintable()
