"""ONNX files: external-data locations, custom operator domains, opset and size, all read from
the protobuf with ``load_external_data=False``.

An external-data location is accepted only when it names a regular file inside the model's
directory, reached without ``..`` and without any symlink (:func:`location_problem`). Otherwise it
*escapes* (absolute, ``..``, a symlink on its way: ``ART-ONNX-EXTERNAL-ESCAPE``) or is *invalid*
(missing, empty, a directory, FIFO or device: ``ART-ONNX-EXTERNAL-INVALID``). The checks use
``lstat`` only: the external file itself is never opened here, so a model pointing at
``/etc/passwd`` or at a FIFO cannot make the scanner read it (or block on it). Accepted data files
are part of the model: its signature, its digest and its scan (see ``mlops_ci.signing.scope``).
"""

from __future__ import annotations

import os
import stat
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


# The reasons of location_problem that mean "outside the model directory" (the rest: invalid).
ESCAPE_REASONS = ("an absolute path", "a path that climbs out with '..'", "a symlink")


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
    invalid: tuple[ExternalEscape, ...] = ()


def within(path: str | Path, root: str | Path) -> bool:
    """Whether ``path`` is ``root`` or below it (both already normalised)."""
    path, root = os.fspath(path), os.fspath(root)
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def location_problem(location: str, model_dir: Path) -> str | None:
    """Why the external-data ``location`` of an ONNX file in ``model_dir`` is refused, or None.

    Accepted: a relative path, without ``..``, ``\\`` or NUL, to a regular file inside
    ``model_dir`` with no symlink on the way. Only ``lstat`` is used (nothing is opened).
    """
    if not location:
        return "no location"
    if "\x00" in location or "\\" in location:
        return "a path with a NUL or backslash character"
    if (
        PurePosixPath(location).is_absolute()
        or PureWindowsPath(location).is_absolute()
        or PureWindowsPath(location).drive
    ):
        return "an absolute path"
    parts = PurePosixPath(location).parts
    if ".." in parts:
        return "a path that climbs out with '..'"
    current = model_dir
    for index, part in enumerate(parts):
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            return "a file that does not exist"
        except OSError:
            return "a path that cannot be examined"
        if stat.S_ISLNK(mode):
            return "a symlink"
        if index < len(parts) - 1 and not stat.S_ISDIR(mode):
            return "a path through something that is not a directory"
        if index == len(parts) - 1 and not stat.S_ISREG(mode):
            return "not a regular file (a directory, FIFO, socket or device)"
    return None if parts else "no location"


def external_locations(model: Any) -> list[tuple[str, str]]:
    """``(tensor name, location)`` of every tensor of ``model`` whose data is external.

    Covers initializers of the main graph and every subgraph, sparse initializers, attribute
    tensors, and the nodes of model-local functions.
    """
    from mlops_ci.onnx_graph import EXTERNAL

    found = []
    for tensor in _tensors(model):
        if tensor.data_location == EXTERNAL:
            entries = {entry.key: entry.value for entry in tensor.external_data}
            found.append((tensor.name, entries.get("location", "")))
    return found


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
    """Scan the ONNX file ``path`` (in the model path ``root``); external data must lie beside it.

    Data files are accepted only below ``path``'s own directory, which is inside ``root``.
    """
    del root  # kept for callers: the stricter rule (beside the file) implies "under root"
    from google.protobuf.message import DecodeError

    from mlops_ci.onnx_graph import EXTERNAL, load_graph

    size = path.stat().st_size
    if not path.is_file():  # never open a FIFO or a device: it would block or never end
        return OnnxScan(None, size, 0, 0, (), (), "not a regular file")
    try:
        model = load_graph(path)  # shared with the other checks of the run
    except (DecodeError, ValueError, RuntimeError, OSError) as exc:
        return OnnxScan(
            None, size, 0, 0, (), (), f"not a loadable ONNX model ({exc.__class__.__name__})"
        )
    escapes: list[ExternalEscape] = []
    invalid: list[ExternalEscape] = []
    external_bytes = external_tensors = 0
    for tensor in _tensors(model):
        if tensor.data_location != EXTERNAL:
            continue
        entries = {entry.key: entry.value for entry in tensor.external_data}
        external_tensors += 1
        location = entries.get("location", "")
        # Relative, no '..', no symlink: inside path.parent, hence inside root.
        reason = location_problem(location, path.parent)
        if reason is not None:
            bucket = escapes if reason.startswith(ESCAPE_REASONS) else invalid
            bucket.append(ExternalEscape(tensor.name, location, reason))
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
        invalid=tuple(invalid),
    )
