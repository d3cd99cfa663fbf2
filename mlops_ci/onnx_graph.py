"""An ONNX file's graph without its tensor data, parsed once per run (issue 16).

Every reader in mlops-ci (the signature and artifacts scans of external data, the SBOM's inputs
and outputs, the check's opset and parameter counts; :mod:`mlops_ci.onnx_check` walks the same
wire format for the checker) needs the graph's structure, names, shapes and external-data references, never the
weights. :func:`load_graph` reads the file through a memory map, walks the protobuf wire format
down to every tensor (initializers, sparse initializers and attribute tensors of every graph,
subgraph and function) and leaves out only their inline data (``raw_data``, packed
``float_data``/``double_data``), then parses what remains with protobuf. A 1 GiB model is read
in well under a second and costs a few kilobytes, instead of a 1 GiB byte string plus a 1 GiB
message per reader.

Nothing else changes: any field the walker does not expect, a wire-format error, a file of 2 GiB
or more, or a parse error sends the file to ``onnx.load(path, load_external_data=False)``, so a
broken file fails exactly as it did. The ``onnx-model`` check still runs the full checker (on a
copy without large initializers, :mod:`mlops_ci.onnx_check`), and the artifacts scan still reads
every byte for pickles and archives. The parsed message is shared by the checks of one run (:mod:`mlops_ci.runmemo`):
callers must not modify it.
"""

from __future__ import annotations

import mmap
import os
import stat
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlops_ci import runmemo

PROTOBUF_LIMIT = 2 << 30
EXTERNAL = 1  # onnx.TensorProto.DataLocation.EXTERNAL
MAX_DEPTH = 64  # protobuf's own recursion limit is 100; deeper graphs take the slow path

# Message fields to descend into, by message kind (numbers from onnx.proto).
_CHILDREN: dict[str, dict[int, str]] = {
    "model": {7: "graph", 25: "function"},
    "graph": {1: "node", 5: "tensor", 15: "sparse"},
    "node": {5: "attribute"},
    "attribute": {5: "tensor", 6: "graph", 10: "tensor", 11: "graph", 22: "sparse", 23: "sparse"},
    "sparse": {1: "tensor", 2: "tensor"},
    "function": {7: "node"},
    "tensor": {},
}
# TensorProto data fields left out: number -> (fixed wire type, element size). Varint-packed
# fields (int32/int64/uint64_data) and strings stay in, for protobuf to validate as before.
_DATA_FIELDS = {4: (5, 4), 9: (2, 1), 10: (1, 8)}


class _Unexpected(Exception):
    """The wire walk met something it leaves to protobuf: take the slow path."""


def load_graph(path: Path) -> Any:
    """``onnx.load(path, load_external_data=False)`` without tensor data, memoised per run.

    Raises what ``onnx.load`` raises for a file that does not parse.
    """
    return runmemo.memoised("onnx-graph", path, lambda: _read(path))


def _read(path: Path) -> tuple[Any, runmemo.StatKey | None]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return _onnx_load(path), None
    try:
        info = os.fstat(fd)
        before = runmemo.stat_key(info)
        model = None
        if stat.S_ISREG(info.st_mode) and 0 < info.st_size < PROTOBUF_LIMIT:
            model = _skeleton(fd, info.st_size)
        after = runmemo.stat_key(os.fstat(fd))
    finally:
        os.close(fd)
    if model is None:
        # Not regular, empty, too large or unexpected: exactly what onnx.load says, not kept.
        return _onnx_load(path), None
    return model, (before if before == after else None)


def _onnx_load(path: Path) -> Any:
    import onnx

    return onnx.load(str(path), load_external_data=False)


def _skeleton(fd: int, size: int) -> Any | None:
    try:
        with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as blob:
            reduced = _reduce(blob, 0, size, "model", 0)
            data = blob[:] if reduced is None else reduced
        model = model_class()()
        model.ParseFromString(data)
    except Exception:  # _Unexpected, a DecodeError, a file shrunk under the map: the slow path
        return None
    return model


_CLASS_LOCK = threading.Lock()
_CLASSES: dict[str, type] = {}
_POOL: list[Any] = []  # [descriptor pool or None], built once


def model_class() -> type:
    """The ``ModelProto`` message class, without importing the ``onnx`` package when it is not
    imported yet (see :func:`message_class`)."""
    found: type = message_class("ModelProto")
    return found


def message_class(name: str) -> Any:
    """The message class ``onnx.<name>`` (``ModelProto``, ``TensorProto``...), without importing
    the ``onnx`` package when it is not imported yet.

    ``import onnx`` costs over a second (``ml_dtypes``, the helpers), and commands that only
    read a graph's structure (``sign``, ``verify``: the external-data references) need none of
    it. The class is built from the serialized ``onnx-ml.proto`` descriptor inside the installed
    onnx's own generated module, in a private descriptor pool: the same schema, parsed by the
    same protobuf runtime, and no clash with ``onnx``'s own registration when onnx is imported
    later. Readers only read fields, so either class serves; when the descriptor cannot be
    found (a future onnx laid out differently), onnx's own class is used.
    """
    with _CLASS_LOCK:
        if name not in _CLASSES:
            # When onnx is loaded already, its own class costs nothing more.
            light = None if "onnx" in sys.modules else _light_class(name)
            _CLASSES[name] = light or _onnx_class(name)
        return _CLASSES[name]


def _onnx_class(name: str) -> type:
    import onnx

    found: type = getattr(onnx, name)
    return found


def _light_class(name: str) -> type | None:
    try:
        from google.protobuf import message_factory

        if not _POOL:
            _POOL.append(_light_pool())
        if _POOL[0] is None:
            return None
        built: type = message_factory.GetMessageClass(
            _POOL[0].FindMessageTypeByName(f"onnx.{name}")
        )
        return built
    except Exception:  # a descriptor protobuf refuses: use onnx's
        return None


def _light_pool() -> Any:
    """A descriptor pool holding ``onnx-ml.proto``, or None when it cannot be built."""
    import ast
    import importlib.util

    try:
        from google.protobuf import descriptor_pool

        spec = importlib.util.find_spec("onnx")
        if spec is None or spec.origin is None:
            return None
        source = Path(spec.origin).with_name("onnx_ml_pb2.py").read_text(encoding="utf-8")
        serialized = next(
            node.args[0].value
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call)
            and getattr(node.func, "attr", "") == "AddSerializedFile"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, bytes)
        )
        pool = descriptor_pool.DescriptorPool()
        pool.AddSerializedFile(serialized)
        return pool
    except Exception:  # no such module, no literal, a descriptor protobuf refuses: use onnx's
        return None


def _varint(buf: Any, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise _Unexpected
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def encode_varint(value: int) -> bytes:
    """``value`` as a protobuf base-128 varint (the benchmark writes a 1 GiB model with it)."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def fields(buf: Any, start: int, end: int) -> Iterator[tuple[int, int, int, int, int]]:
    """(number, wire type, field start, body start, end) of each field of ``buf[start:end]``.

    Raises ``_Unexpected`` for a wire-format error or a group (not in onnx.proto).
    """
    pos = start
    while pos < end:
        field_start = pos
        tag, pos = _varint(buf, pos, end)
        number, wire = tag >> 3, tag & 7
        body = pos
        if wire == 0:
            _, pos = _varint(buf, pos, end)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length, body = _varint(buf, pos, end)
            pos = body + length
        else:
            raise _Unexpected  # groups: not in onnx.proto
        if pos > end or number == 0:
            raise _Unexpected
        yield number, wire, field_start, body, pos


def _reduce(buf: Any, start: int, end: int, kind: str, depth: int) -> bytes | None:
    """The message ``buf[start:end]`` without tensor data, or None when nothing was left out.

    Fields keep their order, so protobuf's merging of repeated occurrences is unchanged.
    """
    if depth > MAX_DEPTH:
        raise _Unexpected
    children = _CHILDREN[kind]
    pieces: list[bytes] = []
    copied = start  # bytes from here to the current field are copied unchanged
    for number, wire, field_start, body, pos in fields(buf, start, end):
        replacement: bytes | None = None
        if kind == "tensor" and number in _DATA_FIELDS:
            fixed_wire, width = _DATA_FIELDS[number]
            if wire == 2 and (pos - body) % width:
                raise _Unexpected  # a packed array cut mid-element: protobuf's error
            if wire in (2, fixed_wire):
                replacement = b""
        elif wire == 2 and number in children:
            inner = _reduce(buf, body, pos, children[number], depth + 1)
            if inner is not None:
                tag = encode_varint(number << 3 | wire)
                replacement = tag + encode_varint(len(inner)) + inner
        if replacement is not None:
            pieces.append(bytes(buf[copied:field_start]))
            pieces.append(replacement)
            copied = pos
    if not pieces:
        return None
    pieces.append(bytes(buf[copied:end]))
    return b"".join(pieces)
