"""``mlops-ci scan PATH...``: what the files and directories named on the command line are.

Without any configuration, as modelscan and pip-audit users expect, each PATH is sorted into:

- requirements: ``requirements*.txt`` (or a ``.txt`` in a ``requirements/`` directory) and
  ``pyproject.toml``, audited by the ``deps`` check;
- source: ``.py`` files, audited by the ``sast`` check (bandit);
- model files: everything else, scanned by the ``artifacts`` check *by content*, whatever the
  file is called (a pickle renamed ``.txt`` or ``.bin``, a zip or ``.pt`` holding one).

A directory is all three: its requirements files and Python source (found as ``mlops-ci init``
finds them), and the directory itself as a model path, so every file in it is sniffed. A symlink
named on the command line is the file it points to (the user named it); symlinks inside a
directory are never followed (the ``artifacts`` check reports those leaving it).

A PATH that does not exist, a lock file (the audit reads pins, not lock files) and a directory
with nothing in it are usage errors (exit 2): nothing to scan is never a silent pass.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mlops_ci.errors import UsageError
from mlops_ci.init.discover import LOCK_FILES, REQUIREMENTS_NAME, discover
from mlops_ci.init.plan import model_name


@dataclass(frozen=True)
class ScanTargets:
    """The configuration-free scan of some paths: a root, models under it, and inputs."""

    root: Path
    models: tuple[tuple[str, str], ...]  # (name, path relative to root), for ``artifacts``
    requirements: tuple[Path, ...]
    source: tuple[Path, ...]


def scan_targets(paths: list[Path]) -> ScanTargets:
    """Sort ``paths`` into model files, requirements and source (see the module docstring)."""
    models: list[Path] = []
    requirements: list[Path] = []
    source: list[Path] = []
    for given in paths:
        if not given.exists():
            raise UsageError(
                f"{given}: no such file or directory; give a file or directory to scan"
            )
        path = given.resolve()
        if path.is_dir():
            if not _holds_a_file(path):
                raise UsageError(f"nothing to scan: {given} holds no file")
            found = discover(path)
            requirements += [path / p for p in found.requirements or found.pyprojects[:1]]
            source += [path / p for p in found.source]
            models.append(path)
        elif not path.is_file():
            raise UsageError(f"{given}: not a regular file or directory; give a file to scan")
        elif path.name in LOCK_FILES:
            raise UsageError(
                f"{given}: lock files are not audited; export the pins"
                f" (`{LOCK_FILES[path.name]}`) and scan that file"
            )
        elif _is_requirements(path):
            requirements.append(path)
        elif path.suffix == ".py":
            source.append(path)
        else:
            models.append(path)
    everything = models + requirements + source
    root = Path(os.path.commonpath([p if p.is_dir() else p.parent for p in everything]))
    taken: set[str] = set()
    named = tuple(
        (model_name(PurePosixPath(p.name).as_posix() or "model", taken), _relative(p, root))
        for p in _unique(models)
    )
    return ScanTargets(root, named, tuple(_unique(requirements)), tuple(_unique(source)))


def _holds_a_file(directory: Path) -> bool:
    """Whether anything under ``directory`` is a file or a link (stops at the first one)."""
    from mlops_ci.scan.model_files import walk

    return any(is_link or path.is_file() for path, is_link in walk(directory))


def _is_requirements(path: Path) -> bool:
    return (
        path.name == "pyproject.toml"
        or bool(REQUIREMENTS_NAME.match(path.name))
        or (path.suffix == ".txt" and path.parent.name.lower() == "requirements")
    )


def _relative(path: Path, root: Path) -> str:
    relative = path.relative_to(root).as_posix()
    return relative if relative != "." else "."


def _unique(paths: list[Path]) -> list[Path]:
    return list(dict.fromkeys(paths))
