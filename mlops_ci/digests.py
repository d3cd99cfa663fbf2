"""File digests, once per file per run: SHA-256 streamed in 1 MiB blocks, memoised by
:mod:`mlops_ci.runmemo` (path + stat identity, one run). The SBOM's file hashes and the OMS
model digest of a single file or an ONNX file with its data files share it (issue 16)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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


def snapshot(files: Sequence[Path]) -> dict[Path, runmemo.StatKey]:
    """The stat identity of each file before a verifier hashes it (empty outside a run)."""
    seen: dict[Path, runmemo.StatKey] = {}
    for file in files if runmemo.active() else ():
        try:
            seen[file] = runmemo.stat_key(file.stat())
        except OSError:
            continue  # the verifier reports the file; nothing is kept for it
    return seen


def adopt_verified(seen: dict[Path, runmemo.StatKey], root: Path, statement: Any) -> None:
    """Keep the digests a *verified* signature names for the files in ``seen``.

    model-signing's verifier hashes the files itself and cannot hand the digests back; after it
    accepted them, the signed digests are those of the bytes on disk. A digest is kept only when
    the file's identity is still the one seen before verification (see :func:`runmemo.seed`).
    """
    resources = (statement.get("predicate") or {}).get("resources") or []
    signed = {str(r.get("name")): str(r.get("digest")) for r in resources if isinstance(r, dict)}
    for file, identity in seen.items():
        if root.is_dir():
            name = file.relative_to(root).as_posix()
        elif len(signed) == 1:
            name = next(iter(signed))  # a single-file manifest names the file alone
        else:
            continue
        digest = signed.get(name, "").lower()
        if len(digest) == 64 and all(c in "0123456789abcdef" for c in digest):
            runmemo.seed("sha256", file, identity, digest)
