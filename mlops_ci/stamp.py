"""The pre-push fast path: replay an unchanged hook run without loading the checks.

The result cache (:mod:`mlops_ci.cache`) makes every check of an unchanged run a lookup, but
loading the configuration, the checks and GitPython still costs most of a second. A hook run
therefore also leaves a *stamp*: the key of its environment and the digests of every file it
read, with its output. The next run computes the key from cheap things only (one ``git status``,
``MLOPS_CI_*`` variables, the date, the tool and Python versions and the stat of its modules) and, when the key and every
file digest (memoised by stat, see :class:`mlops_ci.cache.FileDigests`) still match, prints the
same output and exits with the same code. Anything else runs the gates for real.

A stamp is only written for runs whose checks all declared their inputs and that did not error,
so nothing network- or time-dependent is ever replayed. Directories the checks read are stamped
by their listing too, so an added file (even a git-ignored one) is noticed.

This module must stay cheap to import: no pydantic, no typer, no GitPython.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from mlops_ci import __version__
from mlops_ci.cache import CACHE_DIRNAME, FileDigests, code_fingerprint
from mlops_ci.errors import MlopsCiError
from mlops_ci.fsutil import atomic_write
from mlops_ci.safepath import read_bytes
from mlops_ci.sealed import seal, unseal

STAMP_FORMAT = 1


@dataclass(frozen=True)
class Stamp:
    """What a finished hook run printed and returned."""

    stderr: str
    summary: str
    exit_code: int


def _cache_dir(cwd: Path, environ: Mapping[str, str]) -> Path:
    return Path(environ.get("MLOPS_CI_CACHE_DIR") or cwd / CACHE_DIRNAME)


def run_key(cwd: Path, config: str | None, environ: Mapping[str, str]) -> str | None:
    """The key of everything besides files that a hook run depends on; None outside git."""
    try:
        status = subprocess.run(
            ["git", "status", "--porcelain=v2", "--branch", "-z", "--untracked-files=all"],
            cwd=cwd,
            capture_output=True,
            check=False,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if status.returncode != 0:
        return None
    material = {
        "format": STAMP_FORMAT,
        "tool": __version__,
        "code": code_fingerprint(),
        "python": sys.version,
        "cwd": str(cwd.resolve()),
        "config": config,
        "environment": sorted((k, v) for k, v in environ.items() if k.startswith("MLOPS_CI_")),
        "date": dt.datetime.now(dt.UTC).date().isoformat(),  # waivers expire by the day
        "git": hashlib.sha256(status.stdout).hexdigest(),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def _stamp_path(cwd: Path, key_scope: str | None, environ: Mapping[str, str]) -> Path:
    scope = hashlib.sha256(f"{cwd.resolve()}\0{key_scope}".encode()).hexdigest()[:16]
    return _cache_dir(cwd, environ) / "stamps" / f"pre-push-{scope}.json"


def _listing(directory: Path, *, recursive: bool) -> str:
    """A digest of the names in ``directory`` (and under it, when ``recursive``)."""
    try:
        found = directory.rglob("*") if recursive else directory.iterdir()
        names = sorted(str(p.relative_to(directory)) for p in found)
    except OSError:
        return "unreadable"
    return hashlib.sha256("\0".join(names).encode()).hexdigest()


def _watched(paths: Iterable[Path]) -> dict[str, str]:
    """Listings to compare: declared directories in full, the folder of each declared file."""
    listings: dict[str, str] = {}
    for path in paths:
        if path.is_dir():
            listings[f"r:{path}"] = _listing(path, recursive=True)
        else:
            listings[f"d:{path.parent}"] = _listing(path.parent, recursive=False)
    return listings


def replay(cwd: Path, config: str | None, key: str, environ: Mapping[str, str]) -> Stamp | None:
    """The stamp of the last run when nothing it depends on changed, else None."""
    path = _stamp_path(cwd, config, environ)
    try:
        data = unseal(read_bytes(path, what="stamp"))  # a committed stamp is not ours
        if not isinstance(data, dict):
            return None
        if data.get("format") != STAMP_FORMAT or data.get("key") != key:
            return None
        digests = FileDigests(_cache_dir(cwd, environ) / "stat.json")
        for name, digest in data["files"].items():
            if digests.digest(Path(name)) != digest:
                return None
        for name, listing in data["dirs"].items():
            kind, _, directory = name.partition(":")
            if _listing(Path(directory), recursive=kind == "r") != listing:
                return None
        return Stamp(str(data["stderr"]), str(data["summary"]), int(data["exit_code"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError, MlopsCiError):
        return None


def record(
    cwd: Path,
    config: str | None,
    key: str,
    files: Iterable[Path],
    stamp: Stamp,
    environ: Mapping[str, str],
) -> None:
    """Write the stamp of a finished run that read ``files`` (directories included)."""
    from mlops_ci.cache import expand_inputs

    declared = list(files)
    digests = FileDigests(_cache_dir(cwd, environ) / "stat.json")
    data = {
        "format": STAMP_FORMAT,
        "key": key,
        "files": {str(p): digests.digest(p) for p in expand_inputs(declared)},
        "dirs": _watched(declared),
        "stderr": stamp.stderr,
        "summary": stamp.summary,
        "exit_code": stamp.exit_code,
    }
    path = _stamp_path(cwd, config, environ)
    sealed = seal(data)
    if sealed is None:  # no key outside the repository: the next run checks again
        return
    try:
        atomic_write(path, sealed)
        digests.save()
        ignore = path.parent / ".gitignore"
        if not ignore.exists():
            atomic_write(ignore, "*\n")
    except OSError:  # a read-only checkout runs the gates every time, that is all
        return
