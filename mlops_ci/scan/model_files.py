"""Walking a model path and scanning every file by what its bytes are, without loading anything.

Every regular file is sniffed (see :mod:`mlops_ci.scan.containers`): pickles of every protocol
whatever the file is called, compressed ones, zip and tar archives and every member of them,
``.npy``/``.npz`` object arrays; ``.onnx`` files are also read as ONNX (see
:mod:`mlops_ci.scan.onnx_scan`). Files are mapped into memory, not read: a multi-gigabyte
weights file costs what its sniffing reads.

Symlinks are never followed: one whose target lies outside the model path is reported, any other
is skipped (its target is scanned where it lives). Files are opened with ``O_NOFOLLOW``.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mlops_ci.errors import InputError, SourcePosition
from mlops_ci.scan.containers import DEFAULT_LIMITS, BlobScanner, Limits
from mlops_ci.scan.onnx_scan import OnnxScan, scan_onnx, within
from mlops_ci.scan.pickles import DEFAULT_POLICY, PicklePolicy, PickleScan


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
    seen: set[Path] = field(default_factory=set)  # each file once, however it was reached


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


def scan_model_path(
    model_path: Path, policy: PicklePolicy = DEFAULT_POLICY, limits: Limits = DEFAULT_LIMITS
) -> ModelFilesScan:
    """Scan every file under ``model_path`` (a directory, or a single file)."""
    return scan_model_paths([model_path], policy, limits)


def scan_model_paths(
    model_paths: list[Path], policy: PicklePolicy = DEFAULT_POLICY, limits: Limits = DEFAULT_LIMITS
) -> ModelFilesScan:
    """Scan every file under each of ``model_paths`` (directories, or single files)."""
    report = ModelFilesScan()
    for model_path in model_paths:
        _scan_path(model_path, policy, limits, report)
    return report


def _scan_path(
    model_path: Path, policy: PicklePolicy, limits: Limits, report: ModelFilesScan
) -> None:
    root = model_path if model_path.is_dir() else model_path.parent
    entries = list(walk(model_path))
    if not model_path.is_dir() and not model_path.is_symlink():
        # A single ONNX file's external data may sit in a subdirectory: it is part of the model.
        entries += [(data, False) for data in _data_files(model_path)]
    for path, is_link in entries:
        if path in report.seen:
            continue
        report.seen.add(path)
        if is_link:
            target = str(path.readlink())
            if not within(os.path.realpath(path), os.path.realpath(root)):
                report.symlinks.append(SymlinkEscape(path, target))
            continue
        if not path.is_file():
            continue
        report.files += 1
        if path.suffix.lower() == ".onnx":
            report.onnx.append((path, scan_onnx(path, root)))
        _scan_file(path, policy, limits, report)


def _data_files(model_file: Path) -> list[Path]:
    """The accepted external data files of a single ONNX file (refused ones are findings)."""
    from mlops_ci.signing.scope import ExternalDataError, external_data_files

    try:
        return list(external_data_files(model_file, sniff=True))
    except ExternalDataError:
        return []  # scan_onnx reports the refused location


def _scan_file(path: Path, policy: PicklePolicy, limits: Limits, report: ModelFilesScan) -> None:
    found: dict[str | None, list[PickleScan]] = {}
    scanner = BlobScanner(
        policy, limits, lambda member, scan: found.setdefault(member, []).append(scan)
    )
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise InputError(
            f"cannot read the model file ({exc.strerror or exc.__class__.__name__});"
            " check its permissions",
            SourcePosition(str(path)),
        ) from None
    try:
        size = os.fstat(descriptor).st_size
        if size == 0:
            scanner.scan(b"", 0, 0, None, path.name, 0)
        else:
            with mmap.mmap(descriptor, 0, access=mmap.ACCESS_READ) as blob:
                scanner.scan(blob, 0, size, None, path.name, 0)
    finally:
        os.close(descriptor)
    for member, scans in found.items():
        _record(path, member, scans, report)


def _record(
    path: Path, member: str | None, scans: list[PickleScan], report: ModelFilesScan
) -> None:
    report.pickles += sum(1 for s in scans if s.pickles)
    unsafe = tuple(dict.fromkeys(g for s in scans for g in s.unsafe))
    unknown = tuple(dict.fromkeys(g for s in scans for g in s.unknown))
    imported = tuple(dict.fromkeys(g for s in scans for g in s.imported))
    error = next((s.error for s in scans if s.error), None)
    if unsafe or unknown or error:
        merged = PickleScan(unsafe, unknown, imported, error)
        report.pickle_findings.append(PickleFinding(path, member, merged))
