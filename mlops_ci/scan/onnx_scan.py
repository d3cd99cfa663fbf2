"""ONNX files: external-data locations that leave the model directory, custom operator domains,
opset and size, all read from the protobuf with ``load_external_data=False``.

An external-data location escapes when it is absolute, when it climbs out with ``..``, or when a
symlink on its way resolves outside. The check is made on the path string and with
``os.path.realpath`` (which reads symlinks, never file contents): the external file itself is
never opened, so a model pointing at ``/etc/passwd`` cannot make the scanner read it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

STANDARD_DOMAINS = frozenset(
    {"", "ai.onnx", "ai.onnx.ml", "ai.onnx.training", "ai.onnx.preview.training"}
)


@dataclass(frozen=True)
class ExternalEscape:
    """A tensor whose external data lies outside the model directory."""

    tensor: str
    location: str
    reason: str


@dataclass(frozen=True)
class OnnxScan:
    """What an ONNX file declares, without loading its external data."""

    opset: int | None
    size_bytes: int
    external_bytes: int
    external_tensors: int
    escapes: tuple[ExternalEscape, ...]
    custom_domains: tuple[tuple[str, tuple[str, ...]], ...]
    error: str | None = None


def within(path: str | Path, root: str | Path) -> bool:
    """Whether ``path`` is ``root`` or below it (both already normalised)."""
    path, root = os.fspath(path), os.fspath(root)
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def escape_reason(location: str, model_dir: Path, root: Path) -> str | None:
    """Why ``location`` (relative to ``model_dir``) leaves ``root``, or None when it stays in."""
    if (
        PurePosixPath(location).is_absolute()
        or PureWindowsPath(location).is_absolute()
        or location.startswith(("/", "\\"))
    ):
        return "an absolute path"
    joined = os.path.normpath(model_dir / location)
    if not within(joined, os.path.normpath(root)):
        return "a path that climbs out with '..'"
    if not within(os.path.realpath(joined), os.path.realpath(root)):
        return "a symlink that resolves outside"
    return None


def _subgraphs(graph: Any) -> Iterator[Any]:
    yield graph
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("g"):
                yield from _subgraphs(attribute.g)
            for sub in attribute.graphs:
                yield from _subgraphs(sub)


def _tensors(model: Any) -> Iterator[Any]:
    nodes: list[Any] = []
    for graph in _subgraphs(model.graph):
        yield from graph.initializer
        for sparse in graph.sparse_initializer:
            yield sparse.values
            yield sparse.indices
        nodes.extend(graph.node)
    for function in model.functions:
        nodes.extend(function.node)
    for node in nodes:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors


def _nodes(model: Any) -> Iterator[Any]:
    for graph in _subgraphs(model.graph):
        yield from graph.node
    for function in model.functions:
        yield from function.node


def scan_onnx(path: Path, root: Path) -> OnnxScan:
    """Scan the ONNX file ``path``; external data must stay under ``root``."""
    import onnx
    from google.protobuf.message import DecodeError

    size = path.stat().st_size
    if not path.is_file():  # never open a FIFO or a device: it would block or never end
        return OnnxScan(None, size, 0, 0, (), (), "not a regular file")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, ValueError, RuntimeError, OSError) as exc:
        return OnnxScan(
            None, size, 0, 0, (), (), f"not a loadable ONNX model ({exc.__class__.__name__})"
        )
    escapes: list[ExternalEscape] = []
    external_bytes = external_tensors = 0
    for tensor in _tensors(model):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        entries = {entry.key: entry.value for entry in tensor.external_data}
        external_tensors += 1
        location = entries.get("location", "")
        reason = escape_reason(location, path.parent, root) if location else "no location"
        if reason is not None:
            escapes.append(ExternalEscape(tensor.name, location, reason))
        elif entries.get("length", "").isdigit():
            external_bytes += int(entries["length"])
    local_functions = {function.domain for function in model.functions}
    custom: dict[str, set[str]] = {}
    for node in _nodes(model):
        if node.domain not in STANDARD_DOMAINS and node.domain not in local_functions:
            custom.setdefault(node.domain, set()).add(node.op_type)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    return OnnxScan(
        opset=opset,
        size_bytes=size,
        external_bytes=external_bytes,
        external_tensors=external_tensors,
        escapes=tuple(escapes),
        custom_domains=tuple((d, tuple(sorted(ops))) for d, ops in sorted(custom.items())),
    )
