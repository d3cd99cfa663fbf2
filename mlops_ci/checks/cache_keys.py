"""What the scanner checks' cached results are a function of, besides the files they read.

The cache key already holds mlops-ci's version and code, Python's version, the configuration and
the command-line options (see :mod:`mlops_ci.cache`). The scanners also run tools of their own
(pip-audit, bandit, cyclonedx-py) whose verdicts and output change with their versions.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path


def tool_versions(*names: str) -> dict[str, str]:
    """The installed version of each distribution in ``names`` (``absent`` when missing)."""
    return {name: _version(name) for name in names}


@functools.cache
def _version(name: str) -> str:
    # Once per process: reading a distribution's metadata costs ~1 ms, and keys ask for it per
    # model (a run never sees a package upgraded under it).
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def files_under(paths: Iterable[Path], skip: Iterable[Path]) -> list[Path]:
    """``paths`` with each directory expanded to the files under it, less those under ``skip``
    and under ``.git``: the cache writes into ``.mlops-ci/cache`` on every run, and a source
    path of ``.`` must not make every key new."""
    skipped = [s.resolve() for s in skip]
    found: list[Path] = []
    for path in paths:
        if not path.is_dir():
            found.append(path)
            continue
        for file in path.rglob("*"):
            if ".git" in file.relative_to(path).parts:
                continue
            real = file.parent.resolve()
            if any(real == s or s in real.parents for s in skipped):
                continue
            if file.is_file() or file.is_symlink():
                found.append(file)
    return found
