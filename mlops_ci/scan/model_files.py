"""Walking a model path and scanning each file by what it is, without loading anything.

- pickles (``.pkl``, ``.pickle``, ``.joblib``, legacy ``torch.save`` files, and any file that
  starts like a protocol 2+ pickle), gzip/bz2/xz-compressed ones included;
- zip archives (PyTorch ``.pt``/``.pth``/``.bin``/``.ckpt``): every ``*.pkl`` member, such as
  ``archive/data.pkl``, and every object-dtype ``.npy`` member;
- ``.npy`` files and ``.npz`` archives: an object-dtype array's data is a pickle, and is scanned;
- ``.onnx`` files (see :mod:`mlops_ci.scan.onnx_scan`); a single-file ONNX model's external data
  files are part of the model and are scanned like any other file.

Symlinks are never followed: one whose target lies outside the model path is reported, any other
is skipped (its target is scanned where it lives). Files are opened with ``O_NOFOLLOW``.
"""

from __future__ import annotations

import ast
import bz2
import gzip
import lzma
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from mlops_ci.errors import InputError, SourcePosition
from mlops_ci.scan.onnx_scan import OnnxScan, scan_onnx, within
from mlops_ci.scan.pickles import PickleScan, scan_pickle, scan_pickles

PICKLE_SUFFIXES = frozenset({".pkl", ".pickle", ".joblib", ".pt", ".pth", ".ckpt", ".dat"})
ZIP_MAGIC = b"PK\x03\x04"
NPY_MAGIC = b"\x93NUMPY"
_COMPRESSION_MAGIC = (b"\x1f\x8b", b"BZ", b"\xfd7")


@dataclass(frozen=True)
class PickleFinding:
    """A pickle (a file, or a member of an archive) that imports unsafe or unknown globals."""

    path: Path
    member: str | None
    scan: PickleScan


@dataclass(frozen=True)
class SymlinkEscape:
    """A symlink under the model path whose target is outside it."""

    path: Path
    target: str


@dataclass
class ModelFilesScan:
    """Everything found under one model path."""

    files: int = 0
    pickles: int = 0
    pickle_findings: list[PickleFinding] = field(default_factory=list)
    symlinks: list[SymlinkEscape] = field(default_factory=list)
    onnx: list[tuple[Path, OnnxScan]] = field(default_factory=list)


def walk(root: Path) -> Iterator[tuple[Path, bool]]:
    """Every entry under ``root`` as ``(path, is_symlink)``, never following a symlink."""
    if root.is_symlink() or not root.is_dir():
        yield root, root.is_symlink()
        return
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        for name in sorted(dirnames):
            path = Path(directory) / name
            if path.is_symlink():
                yield path, True
        for name in sorted(filenames):
            path = Path(directory) / name
            yield path, path.is_symlink()
        dirnames.sort()


def scan_model_path(model_path: Path) -> ModelFilesScan:
    """Scan every file under ``model_path`` (a directory, or a single file)."""
    root = model_path if model_path.is_dir() else model_path.parent
    report = ModelFilesScan()
    entries = list(walk(model_path))
    if not model_path.is_dir() and not model_path.is_symlink():
        entries += [(data, False) for data in _data_files(model_path)]
    for path, is_link in entries:
        if is_link:
            target = str(path.readlink())
            if not within(os.path.realpath(path), os.path.realpath(root)):
                report.symlinks.append(SymlinkEscape(path, target))
            continue
        if not path.is_file():
            continue
        report.files += 1
        _scan_file(path, root, report)
    return report


def _data_files(model_file: Path) -> list[Path]:
    """The accepted external data files of a single ONNX file (refused ones are findings)."""
    from mlops_ci.signing.scope import ExternalDataError, external_data_files

    try:
        return list(external_data_files(model_file, sniff=True))
    except ExternalDataError:
        return []  # scan_onnx reports the refused location


def _open(path: Path) -> IO[bytes]:
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise InputError(
            f"cannot read the model file ({exc.strerror or exc.__class__.__name__});"
            " check its permissions",
            SourcePosition(str(path)),
        ) from None
    return os.fdopen(descriptor, "rb")


def _scan_file(path: Path, root: Path, report: ModelFilesScan) -> None:
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        report.onnx.append((path, scan_onnx(path, root)))
        return
    with _open(path) as handle:
        head = handle.read(16)
        handle.seek(0)
        if head.startswith(ZIP_MAGIC):
            _scan_zip(path, handle, report)
        elif head.startswith(NPY_MAGIC):
            _scan_npy(path, None, handle, report)
        elif suffix in PICKLE_SUFFIXES and head[:2] in _COMPRESSION_MAGIC:
            _scan_compressed(path, _decompressed(head[:2], handle), report)
        elif suffix in PICKLE_SUFFIXES:
            _record(path, None, list(scan_pickles(handle)), report)
        elif len(head) > 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
            scans = list(scan_pickles(handle))
            if scans and (scans[0].imported or scans[0].error is None):
                _record(path, None, scans, report)  # it parsed: it is a pickle


def _decompressed(magic: bytes, raw: IO[bytes]) -> IO[bytes]:
    """A gzip, bz2 or xz reader over ``raw`` (joblib's usual compressors)."""
    if magic == b"\x1f\x8b":
        return cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb"))
    if magic == b"BZ":
        return cast(IO[bytes], bz2.BZ2File(raw))
    return cast(IO[bytes], lzma.LZMAFile(raw))


def _scan_compressed(path: Path, stream: IO[bytes], report: ModelFilesScan) -> None:
    try:
        with stream:
            scans = list(scan_pickles(stream))
    except (OSError, EOFError, lzma.LZMAError) as exc:
        scans = [PickleScan(error=f"the compressed stream could not be read: {exc}"[:200])]
    _record(path, None, scans, report)


def _scan_zip(path: Path, handle: IO[bytes], report: ModelFilesScan) -> None:
    try:
        archive = zipfile.ZipFile(handle)
    except zipfile.BadZipFile:
        return
    with archive:
        for info in archive.infolist():
            name = info.filename
            if info.is_dir():
                continue
            if name.endswith((".pkl", ".pickle")):
                with archive.open(info) as member:
                    _record(path, name, [scan_pickle(member)], report)
            elif name.endswith(".npy"):
                with archive.open(info) as member:
                    _scan_npy(path, name, member, report)


def _scan_npy(path: Path, member: str | None, handle: IO[bytes], report: ModelFilesScan) -> None:
    header = _npy_header(handle)
    if header is None:
        error = PickleScan(error="not a readable .npy header")
        report.pickle_findings.append(PickleFinding(path, member, error))
        return
    if "O" in repr(header.get("descr")):
        _record(path, member, [scan_pickle(handle)], report)


def _npy_header(handle: IO[bytes]) -> dict[str, Any] | None:
    """The header dict of a .npy stream (read with ``ast.literal_eval``); the stream is left at
    the start of the array data."""
    magic = handle.read(8)
    if len(magic) < 8 or not magic.startswith(NPY_MAGIC):
        return None
    size_bytes = 2 if magic[6] == 1 else 4
    length = int.from_bytes(handle.read(size_bytes), "little")
    if length > 1 << 20:
        return None
    try:
        header = ast.literal_eval(handle.read(length).decode("latin1"))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return header if isinstance(header, dict) else None


def _record(
    path: Path, member: str | None, scans: list[PickleScan], report: ModelFilesScan
) -> None:
    report.pickles += 1
    unsafe = tuple(dict.fromkeys(g for s in scans for g in s.unsafe))
    unknown = tuple(dict.fromkeys(g for s in scans for g in s.unknown))
    imported = tuple(dict.fromkeys(g for s in scans for g in s.imported))
    error = next((s.error for s in scans if s.error), None)
    if unsafe or unknown or error:
        merged = PickleScan(unsafe, unknown, imported, error)
        report.pickle_findings.append(PickleFinding(path, member, merged))
