"""onnx's full checker on an ONNX file, without holding its large tensors in memory (issue 16).

``onnx.checker.check_model(path, full_check=True)`` reads the whole file into a string and
parses it: two copies, ~2 GiB of peak memory for a 1 GiB model. :func:`check_model_file` gives
the same verdict while holding the model less its large tensors:

1. The file is walked through a memory map (the wire walk of :mod:`mlops_ci.onnx_graph`). Each
   initializer of the main graph or a subgraph whose ``raw_data`` is at least
   :data:`STRIP_BYTES` long becomes an external-data reference (``data_location=EXTERNAL``) to
   the stripped copy's own file name, *only when the checker accepts its inline data anyway*:
   a fixed-width or packed type (not ``UNDEFINED``, ``STRING`` or unknown), ``raw_data`` the
   only value field and present once, no data location or external-data entries, no negative
   dimension, and ``raw_data`` exactly as long as type and dimensions require. That is all
   ``check_tensor`` verifies of inline data (type set, one value field, element count, a size
   at least the required one: onnx 1.23 fails a short ``raw_data`` and accepts a long one, and
   both stay inline for it to judge). Of an external tensor it verifies only that its location
   resolves, which the copy's own name does.
2. The stripped copy is written to a fresh temporary directory (never into the repository,
   removed afterwards) and ``check_model(copy, full_check=True)`` runs on it: the same checks
   and the same shape inference, on the same bytes less the stripped payloads.
3. Shape inference reads the *values* of some inputs (a ``Reshape``'s shape, a ``Slice``'s
   starts); those are small, and a stripped one fails the copy's check ("Cannot parse data from
   external tensors"). So no failure of the copy is reported: the checker then runs on the
   original path, whose verdict and message stand. The copy can only decide by *passing*, and
   by (1) no stripped tensor can make the original fail.

Files the walk does not take (a wire-format surprise, 2 GiB or more, nothing to strip) and files
holding external-data references of their own (their ``.onnx`` is small; their locations must
resolve in their own directory) go to the checker on the path, as before.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import secrets
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_ci.onnx_graph import (
    MAX_DEPTH,
    PROTOBUF_LIMIT,
    _Unexpected,
    _varint,
    encode_varint,
    fields,
    message_class,
)
from mlops_ci.onnx_native import check_model_path

STRIP_BYTES = 64 << 10  # shape-inference inputs (shapes, axes, pads) are far smaller

# Message fields to descend into (numbers from onnx.proto). "initializer" is a graph's
# initializer (a repeated field, so protobuf never merges two occurrences into one tensor): the
# only tensors stripped. Every other tensor is visited for its data location only.
_CHILDREN: dict[str, dict[int, str]] = {
    "model": {7: "graph", 25: "function"},
    "graph": {1: "node", 5: "initializer", 15: "sparse"},
    "node": {5: "attribute"},
    "attribute": {5: "tensor", 6: "graph", 10: "tensor", 11: "graph", 22: "sparse", 23: "sparse"},
    "sparse": {1: "tensor", 2: "tensor"},
    "function": {7: "node", 11: "attribute"},
    "tensor": {},
    "initializer": {},
}
_RAW_DATA = 9
_DATA_LOCATION = 14
# Bytes per element of the fixed-width types (onnx 1.23's check_tensor list); packed sub-byte
# types hold several elements per byte.
_WIDTHS = {
    **dict.fromkeys(("UINT8", "INT8", "BOOL", "FLOAT8E4M3FN", "FLOAT8E4M3FNUZ"), 1),
    **dict.fromkeys(("FLOAT8E5M2", "FLOAT8E5M2FNUZ", "FLOAT8E8M0"), 1),
    **dict.fromkeys(("UINT16", "INT16", "FLOAT16", "BFLOAT16"), 2),
    **dict.fromkeys(("FLOAT", "INT32", "UINT32"), 4),
    **dict.fromkeys(("DOUBLE", "INT64", "UINT64", "COMPLEX64"), 8),
    "COMPLEX128": 16,
}
_PER_BYTE = {"UINT4": 2, "INT4": 2, "FLOAT4E2M1": 2, "UINT2": 4, "INT2": 4}
_VALUE_FIELDS = (
    "float_data",
    "int32_data",
    "string_data",
    "int64_data",
    "double_data",
    "uint64_data",
)


def check_model_file(path: Path) -> None:
    """``onnx.checker.check_model(str(path), full_check=True)``: the same verdict and, on
    failure, the same exception, with large initializers left on disk (see the module doc).

    The checker is onnx's C++ function, called without ``import onnx`` (:mod:`onnx_native`).
    """
    stripped = stripped_copy(path)
    if stripped is not None:
        data, name = stripped
        with tempfile.TemporaryDirectory(
            prefix="mlops-ci-onnx-", ignore_cleanup_errors=True
        ) as scratch:
            copy = Path(scratch) / name
            # Any failure of the copy (a stripped tensor read by shape inference, a full disk)
            # is not reported: the checker on the original then decides, verdict and message.
            with contextlib.suppress(Exception):
                copy.write_bytes(data)
                check_model_path(str(copy))
                return
    check_model_path(str(path))


def stripped_copy(path: Path) -> tuple[bytes, str] | None:
    """The file's bytes with its large, checker-valid initializers made external references to
    a file of the returned name; None when nothing is stripped or the file is left to the
    checker on its path (not regular, 2 GiB or more, unexpected wire format, external data)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or not 0 < info.st_size < PROTOBUF_LIMIT:
            return None
        walk = _Walk(f"{secrets.token_hex(8)}.onnx")
        with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as blob:
            reduced = walk.message(blob, 0, info.st_size, "model", 0)
    except (_Unexpected, OSError, ValueError):
        return None
    finally:
        os.close(fd)
    if reduced is None or walk.external or not walk.stripped:
        return None
    return reduced, walk.location


@dataclass
class _Walk:
    """One walk over a file: what it stripped and whether it saw external data."""

    location: str
    stripped: int = 0
    external: bool = False

    def message(self, buf: Any, start: int, end: int, kind: str, depth: int) -> bytes | None:
        """``buf[start:end]`` with its large initializers stripped; None when unchanged."""
        if depth > MAX_DEPTH:
            raise _Unexpected
        if kind in ("tensor", "initializer"):
            return self._tensor(buf, start, end, strippable=kind == "initializer")
        children = _CHILDREN[kind]
        pieces: list[bytes] = []
        copied = start
        for number, wire, field_start, body, pos in fields(buf, start, end):
            if wire == 2 and number in children:
                inner = self.message(buf, body, pos, children[number], depth + 1)
                if inner is not None:
                    tag = encode_varint(number << 3 | 2)
                    pieces += [bytes(buf[copied:field_start]), tag, encode_varint(len(inner))]
                    pieces.append(inner)
                    copied = pos
        if not pieces:
            return None
        pieces.append(bytes(buf[copied:end]))
        return b"".join(pieces)

    def _tensor(self, buf: Any, start: int, end: int, *, strippable: bool) -> bytes | None:
        raw: list[tuple[int, int, int]] = []  # (field start, data start, end) of raw_data
        for number, wire, field_start, body, pos in fields(buf, start, end):
            if number == _DATA_LOCATION and (wire != 0 or _varint(buf, body, pos)[0] != 0):
                self.external = True  # resolved against its own directory: the path check
            elif number == _RAW_DATA and wire == 2:
                raw.append((field_start, body, pos))
        if not strippable or len(raw) != 1 or raw[0][2] - raw[0][1] < STRIP_BYTES:
            return None
        field_start, body, pos = raw[0]
        header = bytes(buf[start:field_start]) + bytes(buf[pos:end])
        if not _checker_accepts_inline(header, pos - body):
            return None
        entry = _string_field(1, b"location") + _string_field(2, self.location.encode())
        self.stripped += 1
        # data_location = EXTERNAL last: protobuf keeps the last value of a scalar field.
        return header + _string_field(13, entry) + encode_varint(_DATA_LOCATION << 3) + b"\x01"


def _string_field(number: int, value: bytes) -> bytes:
    return encode_varint(number << 3 | 2) + encode_varint(len(value)) + value


def _checker_accepts_inline(header: bytes, raw_length: int) -> bool:
    """Whether the tensor ``header`` (every field but ``raw_data``) with ``raw_length`` bytes of
    ``raw_data`` passes check_tensor's inline-data rules, with its length exactly the one its
    type and dimensions require."""
    tensor_class = message_class("TensorProto")
    tensor = tensor_class()
    try:
        tensor.ParseFromString(header)
    except Exception:  # protobuf's error: the checker on the path reports it
        return False
    if any(len(getattr(tensor, field)) for field in _VALUE_FIELDS):
        return False
    if tensor.HasField("data_location") or len(tensor.external_data):
        return False
    if not tensor.HasField("data_type") or any(dim < 0 for dim in tensor.dims):
        return False
    count = 1
    for dim in tensor.dims:
        count *= dim
    try:
        name = tensor_class.DataType.Name(tensor.data_type)
    except ValueError:  # a value the enum does not know
        name = ""
    if name in _WIDTHS:
        expected = count * _WIDTHS[name]
    elif name in _PER_BYTE:
        expected = -(-count // _PER_BYTE[name])
    else:
        return False  # UNDEFINED, STRING or a type this table does not know: not stripped
    return count > 0 and expected == raw_length
