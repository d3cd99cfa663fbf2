"""File digests, once per file per run: SHA-256 streamed in 1 MiB blocks, memoised by
:mod:`mlops_ci.runmemo` (path + stat identity, one run). The SBOM's file hashes and the OMS
model digest of a single file or an ONNX file with its data files share it (issue 16)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from mlops_ci import runmemo

BLOCK = 1 << 20


def sha256_hex(path: Path) -> str:
    """The SHA-256 (hex) of a regular file; a FIFO or device is refused, never read."""
    return runmemo.memoised("sha256", path, lambda: _stream(path))


def _stream(path: Path) -> tuple[str, runmemo.StatKey | None]:
    from mlops_ci.safepath import open_regular

    digest = hashlib.sha256()
    buffer = bytearray(BLOCK)
    view = memoryview(buffer)
    with open_regular(path, what=f"model file {path.name}") as handle:
        before = runmemo.stat_key(os.fstat(handle.fileno()))
        # readinto one reused buffer: no 1 MiB allocation per block; hashlib releases the GIL.
        while count := handle.readinto(buffer):  # type: ignore[attr-defined]
            digest.update(view[:count])
        after = runmemo.stat_key(os.fstat(handle.fileno()))
    return digest.hexdigest(), (before if before == after else None)
