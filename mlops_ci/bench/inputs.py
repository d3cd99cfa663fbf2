"""Model inputs for benchmarking: synthesised from the graph, or read from an .npz file.

Every dynamic dimension must be given (``--dim NAME=VALUE`` or ``bench.dims``): a benchmark at a
silently chosen batch size of 1 would gate the wrong thing. An unnamed dynamic dimension is given
as ``INPUT:AXIS``, e.g. ``--dim input:0=8``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_ci.errors import InputError, SourcePosition

# The most memory the synthesised or loaded inputs of one model may take: a shape is checked
# against it before anything is allocated (a --dim typo must not exhaust the runner).
MAX_INPUT_BYTES = 1 << 30

# onnxruntime's type strings -> numpy dtype names.
_DTYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
    "tensor(int8)": "int8",
    "tensor(int16)": "int16",
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
    "tensor(uint8)": "uint8",
    "tensor(uint16)": "uint16",
    "tensor(uint32)": "uint32",
    "tensor(uint64)": "uint64",
    "tensor(bool)": "bool",
}


@dataclass(frozen=True)
class InputShape:
    """What the user said about one input (``bench.inputs``): its shape and dtype."""

    shape: tuple[int | str, ...]
    dtype: str = "float32"


@dataclass(frozen=True)
class GraphInput:
    """One input of the graph as onnxruntime reports it."""

    name: str
    type: str
    shape: tuple[int | str | None, ...]


def graph_inputs(session: Any) -> list[GraphInput]:
    """The inputs of an onnxruntime session."""
    return [
        GraphInput(
            name=arg.name,
            type=arg.type,
            shape=tuple(d if isinstance(d, int | str) else None for d in (arg.shape or [])),
        )
        for arg in session.get_inputs()
    ]


def resolve_shape(
    graph_input: GraphInput,
    dims: Mapping[str, int],
    declared: InputShape | None,
    where: str,
) -> tuple[int, ...]:
    """The concrete shape of one input; a dynamic dimension without a value is an input error."""
    shape: list[int] = []
    graph_shape = graph_input.shape
    if declared is not None and graph_shape and len(declared.shape) != len(graph_shape):
        raise InputError(
            f"bench.inputs.{graph_input.name} has {len(declared.shape)} dimensions but the model's"
            f" input has {len(graph_shape)}; fix the shape in mlops-ci.yaml",
            SourcePosition(where),
        )
    wanted = declared.shape if declared is not None else graph_shape
    for axis, dim in enumerate(wanted):
        model_dim = graph_shape[axis] if axis < len(graph_shape) else None
        value = _dimension(graph_input.name, axis, dim, dims, where)
        if isinstance(model_dim, int) and model_dim > 0 and value != model_dim:
            raise InputError(
                f"input {graph_input.name!r} dimension {axis} is {model_dim} in the model,"
                f" not {value}; fix bench.inputs or the --dim value",
                SourcePosition(where),
            )
        shape.append(value)
    return tuple(shape)


def _dimension(
    name: str, axis: int, dim: int | str | None, dims: Mapping[str, int], where: str
) -> int:
    if isinstance(dim, int) and dim > 0:
        return dim
    key = dim if isinstance(dim, str) and dim else f"{name}:{axis}"
    if key in dims:
        return int(dims[key])
    label = f"dimension {key!r} (axis {axis})" if isinstance(dim, str) and dim else f"axis {axis}"
    raise InputError(
        f"input {name!r} has a dynamic {label} with no value; give it with --dim {key}=N or"
        f" bench.dims in mlops-ci.yaml (mlops-ci never assumes 1)",
        SourcePosition(where),
    )


def numpy_dtype(graph_input: GraphInput, declared: InputShape | None, where: str) -> str:
    """The numpy dtype name of one input."""
    dtype = _DTYPES.get(graph_input.type)
    if dtype is None:
        raise InputError(
            f"input {graph_input.name!r} has type {graph_input.type}, which cannot be synthesised;"
            " give real inputs with bench.npz (an .npz file)",
            SourcePosition(where),
        )
    if declared is not None and declared.dtype != dtype:
        raise InputError(
            f"bench.inputs.{graph_input.name} says dtype {declared.dtype} but the model's input"
            f" is {dtype}; fix the dtype in mlops-ci.yaml",
            SourcePosition(where),
        )
    return dtype


def synthesise(
    inputs: list[GraphInput],
    dims: Mapping[str, int],
    declared: Mapping[str, InputShape],
    where: str,
    seed: int = 0,
) -> dict[str, Any]:
    """Seeded random arrays for every input (normal floats, small non-negative integers)."""
    import numpy as np

    unknown = sorted(set(declared) - {i.name for i in inputs})
    if unknown:
        known = ", ".join(i.name for i in inputs)
        raise InputError(
            f"bench.inputs names {unknown[0]!r}, which is not an input of the model"
            f" (inputs: {known})",
            SourcePosition(where),
        )
    rng = np.random.default_rng(seed)
    planned = []
    total = 0
    for graph_input in inputs:
        spec = declared.get(graph_input.name)
        dtype = numpy_dtype(graph_input, spec, where)
        shape = resolve_shape(graph_input, dims, spec, where)
        total += input_bytes(graph_input.name, shape, dtype, where)
        if total > MAX_INPUT_BYTES:
            raise InputError(
                f"the benchmark inputs would take more than {MAX_INPUT_BYTES >> 30} GiB (input"
                f" {graph_input.name!r} has shape {list(shape)}, {dtype}); use smaller --dim or"
                " bench.dims values",
                SourcePosition(where),
            )
        planned.append((graph_input, dtype, shape))
    feeds: dict[str, Any] = {}
    for graph_input, dtype, shape in planned:
        if dtype == "bool":
            feeds[graph_input.name] = rng.integers(0, 2, size=shape).astype(bool)
        elif dtype.startswith(("int", "uint")):
            feeds[graph_input.name] = rng.integers(0, 2, size=shape).astype(dtype)
        else:
            feeds[graph_input.name] = rng.standard_normal(shape).astype(dtype)
    return feeds


def input_bytes(name: str, shape: tuple[int, ...], dtype: str, where: str) -> int:
    """The bytes an array of ``shape`` and ``dtype`` takes (exact integers: no overflow)."""
    import math

    import numpy as np

    if any(d < 1 for d in shape):
        raise InputError(
            f"input {name!r} has a dimension below 1: {list(shape)}", SourcePosition(where)
        )
    # Synthesis draws float64 normals before casting: count the larger of the two.
    itemsize = max(np.dtype(dtype).itemsize, 8)
    return math.prod(shape) * itemsize


def load_npz(path: Path, inputs: list[GraphInput], display: str) -> dict[str, Any]:
    """Real inputs from an .npz file: one array per model input, dtypes and static dims checked."""
    import zipfile

    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as archive:
            declared = sum(info.file_size for info in archive.zip.infolist())
            if declared > MAX_INPUT_BYTES:
                raise InputError(
                    f"the inputs file holds {declared / (1 << 30):.1f} GiB uncompressed, over the"
                    f" {MAX_INPUT_BYTES >> 30} GiB limit; save smaller arrays",
                    SourcePosition(display),
                )
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(
            f"cannot read the inputs file ({exc.__class__.__name__}); give an .npz written by"
            " numpy.savez with one array per model input",
            SourcePosition(display),
        ) from None
    feeds: dict[str, Any] = {}
    for graph_input in inputs:
        if graph_input.name not in arrays:
            raise InputError(
                f"the inputs file has no array {graph_input.name!r} (it has"
                f" {', '.join(sorted(arrays)) or 'none'}); save one array per model input",
                SourcePosition(display),
            )
        array = arrays[graph_input.name]
        expected = _DTYPES.get(graph_input.type)
        if expected is not None and array.dtype.name != expected:
            raise InputError(
                f"array {graph_input.name!r} is {array.dtype.name} but the model wants {expected}",
                SourcePosition(display),
            )
        static = [(i, d) for i, d in enumerate(graph_input.shape) if isinstance(d, int) and d > 0]
        if len(array.shape) != len(graph_input.shape) or any(
            array.shape[i] != d for i, d in static
        ):
            raise InputError(
                f"array {graph_input.name!r} has shape {list(array.shape)} but the model wants"
                f" {[d if d is not None else '?' for d in graph_input.shape]}",
                SourcePosition(display),
            )
        feeds[graph_input.name] = np.ascontiguousarray(array)
    return feeds


def describe_feeds(feeds: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Name, dtype and shape of each input, for the results file."""
    return [
        {"name": name, "dtype": array.dtype.name, "shape": list(array.shape)}
        for name, array in feeds.items()
    ]
