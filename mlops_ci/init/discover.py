"""What ``mlops-ci init`` finds in a repository: ONNX models, cards, requirements, source.

The walk is bounded (depth and entries) and never leaves the repository: symlinks are not
followed, hidden directories (``.git``, ``.venv``, ``.mlops-ci``, ...), virtual environments
(any directory holding ``pyvenv.cfg``), ``node_modules``, ``site-packages`` and ``__pycache__``
are skipped. Paths that could not be written into the configuration as plain text (control
characters) are skipped too.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

MAX_DEPTH = 8
MAX_ENTRIES = 20_000
MAX_MODELS = 50

_SKIP_DIRS = frozenset({"node_modules", "site-packages", "__pycache__", "build", "dist", "reports"})
_ENV_MARKERS = ("pyvenv.cfg", "conda-meta")  # a virtualenv, a conda environment
_TEST_DIRS = frozenset({"tests", "test", "testing"})
REQUIREMENTS_NAME = re.compile(r"^requirements([-_.][A-Za-z0-9._-]*)?\.txt$", re.IGNORECASE)
LOCK_FILES = {
    "poetry.lock": "poetry export -f requirements.txt -o requirements.txt",
    "uv.lock": "uv export --format requirements-txt -o requirements.txt",
    "Pipfile.lock": "pipenv requirements > requirements.txt",
    "pdm.lock": "pdm export -o requirements.txt",
}


@dataclass(frozen=True)
class Discovery:
    """What the walk found, as POSIX paths relative to the repository root, sorted."""

    models: tuple[str, ...] = ()
    requirements: tuple[str, ...] = ()
    pyprojects: tuple[str, ...] = ()
    lock_files: tuple[str, ...] = ()
    source: tuple[str, ...] = ()
    truncated: bool = False


@dataclass
class _Walk:
    root: Path
    entries: int = 0
    truncated: bool = False
    models: list[str] = field(default_factory=list)
    requirements: list[str] = field(default_factory=list)
    pyprojects: list[str] = field(default_factory=list)
    lock_files: list[str] = field(default_factory=list)
    source: set[str] = field(default_factory=set)


def discover(root: Path) -> Discovery:
    """Walk ``root`` (bounded, no symlinks, no hidden or virtualenv directories)."""
    walk = _Walk(root)
    _visit(walk, root, PurePosixPath(), 0)
    return Discovery(
        models=tuple(sorted(walk.models)[:MAX_MODELS]),
        requirements=tuple(sorted(walk.requirements)),
        pyprojects=tuple(sorted(walk.pyprojects, key=lambda p: (p.count("/"), p))),
        lock_files=tuple(sorted(walk.lock_files)),
        source=tuple(sorted(walk.source)),
        truncated=walk.truncated or len(walk.models) > MAX_MODELS,
    )


def skipped_directory(entry: os.DirEntry[str]) -> bool:
    """Whether the walk stays out of this directory (hidden, a virtualenv, a dependency tree)."""
    name = entry.name
    if name.startswith(".") or name in _SKIP_DIRS:
        return True
    return any((Path(entry.path) / marker).exists() for marker in _ENV_MARKERS)


def _visit(walk: _Walk, directory: Path, relative: PurePosixPath, depth: int) -> None:
    try:
        with os.scandir(directory) as scanner:
            entries = sorted(scanner, key=lambda e: e.name)
    except OSError:
        return  # an unreadable directory holds nothing init could configure
    subdirectories = []
    for entry in entries:
        walk.entries += 1
        if walk.entries > MAX_ENTRIES:
            walk.truncated = True
            return
        if not entry.name.isprintable() or entry.is_symlink():
            continue
        path = relative / entry.name
        if entry.is_dir(follow_symlinks=False):
            if not skipped_directory(entry):
                subdirectories.append((entry, path))
        elif entry.is_file(follow_symlinks=False):
            _classify(walk, entry.name, path)
    for entry, path in subdirectories:
        if depth + 1 >= MAX_DEPTH:
            walk.truncated = True
            continue
        _visit(walk, Path(entry.path), path, depth + 1)


def _classify(walk: _Walk, name: str, path: PurePosixPath) -> None:
    text = path.as_posix()
    if name.lower().endswith(".onnx"):
        walk.models.append(text)
    elif REQUIREMENTS_NAME.match(name) or (
        name.endswith(".txt") and path.parent.name.lower() == "requirements"
    ):
        walk.requirements.append(text)
    elif name == "pyproject.toml":
        walk.pyprojects.append(text)
    elif name in LOCK_FILES:
        walk.lock_files.append(text)
    elif name.endswith(".py"):
        top = path.parts[0]
        if len(path.parts) == 1:
            if not name.startswith("test_") and name != "conftest.py":
                walk.source.add(text)  # a script at the root: scanned on its own
        elif top.lower() not in _TEST_DIRS:
            walk.source.add(top)
