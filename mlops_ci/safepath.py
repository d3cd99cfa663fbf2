# ruff: noqa: PTH100, PTH112, PTH114, PTH116, PTH117, PTH118, PTH120, PTH206
# (string-level path arithmetic on purpose: realpath, normpath and os.open flags)
"""Path confinement: a path a repository file names stays inside the repository.

Everything in a pull request's tree is hostile (DESIGN.md §9), so a path written in
``mlops-ci.yaml``, ``[tool.mlops-ci]``, a requirements include (``-r``/``-c``), a card, a pack or a
waiver reference is resolved here, once, against the repository root, with every symlink
followed, and refused (an :class:`~mlops_ci.errors.InputError`, exit 2) when it is absolute,
climbs out with ``..``, or reaches outside through a symlink. Paths the pipeline gives (command
line flags, ``MLOPS_CI_*`` variables) are trusted: they may name a file outside the repository
(a CI signing key in ``$RUNNER_TEMP``), but one that lies lexically inside the repository must
also *resolve* inside it, because the link it passes through was planted by the pull request.

Whatever the source, nothing under ``/proc``, ``/sys`` or ``/dev`` is ever opened, and a file is
read only after ``stat`` says it is a regular file of bounded size (a FIFO would block ``open``
forever; ``/dev/zero`` never ends). Reads open with ``O_NONBLOCK`` and check again with ``fstat``,
so a file swapped for a FIFO between the two calls cannot hang the run either.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from mlops_ci import runmemo
from mlops_ci.errors import InputError, MlopsCiError, SourcePosition

# Pseudo-filesystems whose files look regular (``/proc/self/environ`` has size 0) but hold the
# process's secrets, or never end: refused whatever the source of the path.
SPECIAL_ROOTS = ("/proc", "/sys", "/dev")
MAX_TEXT_BYTES = 64 * 1024 * 1024


def _is_within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _special(real: str) -> bool:
    return any(_is_within(real, root) for root in SPECIAL_ROOTS)


def _shown(text: str) -> str:
    from mlops_ci.scrub import excerpt

    return excerpt(text, limit=80)


def confine(
    path: str | Path,
    root: Path,
    *,
    what: str,
    position: SourcePosition | None = None,
    base: Path | None = None,
    trusted: bool = False,
    error: type[MlopsCiError] = InputError,
) -> Path:
    """The real path (symlinks followed) of ``path``; refuse it if it escapes ``root``.

    ``base`` is the directory a relative ``path`` is relative to (default ``root``; the including
    file's directory for a ``-r`` include). ``trusted`` paths (flags, environment) may lie outside
    ``root``, unless they are lexically inside it and a symlink takes them out. ``what`` names
    the setting in the message ("policy pack", "'-r' include").

    Within a run (``runmemo.run_scope``) a path that was confined once is answered from memory:
    a 20-model ``check`` confines the same few dozen paths ~500 times. A refusal is never kept.
    """
    text = os.fspath(path)
    variant = (os.fspath(root), None if base is None else os.fspath(base), trusted)
    return runmemo.memoised_text(
        "confine", text, variant, lambda: _confine(text, root, what, position, base, trusted, error)
    )


def _confine(
    text: str,
    root: Path,
    what: str,
    position: SourcePosition | None,
    base: Path | None,
    trusted: bool,
    error: type[MlopsCiError],
) -> Path:
    real_root = os.path.realpath(root)
    if "\0" in text:
        raise error(f"{what} {_shown(text)!r} holds a NUL byte; fix the path", position)
    if not trusted and os.path.isabs(text):
        raise error(
            f"{what} {_shown(text)!r} is an absolute path; give a path relative to the"
            " repository root (files outside the repository are never read)",
            position,
        )
    lexical = os.path.normpath(os.path.join(os.path.abspath(base or root), text))
    lexically_inside = _is_within(lexical, os.path.normpath(os.path.abspath(root))) or (
        _is_within(lexical, real_root)
    )
    if not trusted and not lexically_inside:
        raise error(
            f"{what} {_shown(text)!r} leads outside the repository; give a path inside it",
            position,
        )
    real = os.path.realpath(lexical)
    if _special(real):
        raise error(
            f"{what} {_shown(text)!r} leads to a special file system ({real.split(os.sep)[1]});"
            " give a regular file inside the repository",
            position,
        )
    if lexically_inside and not _is_within(real, real_root):
        raise error(
            f"{what} {_shown(text)!r} is a symlink (or passes through one) that leads outside"
            " the repository; replace the link with the file itself",
            position,
        )
    if _in_git_dir(real, real_root) or (not trusted and _has_git_part(text)):
        # .git/ is the runner's, not the pull request's: actions/checkout keeps the job's
        # token in .git/config (an http extraheader), GitLab its CI_JOB_TOKEN in the remote URL.
        raise error(
            f"{what} {_shown(text)!r} points into .git/, which holds the runner's credentials;"
            " give a file of the repository",
            position,
        )
    return Path(real)


def _in_git_dir(real: str, real_root: str) -> bool:
    if not _is_within(real, real_root):
        return False
    return _has_git_part(os.path.relpath(real, real_root))


def _has_git_part(path: str) -> bool:
    # Case-insensitive: on macOS and Windows runners '.GIT/config' is the same file.
    return any(part.lower() == ".git" for part in Path(path).parts)


def kind_of(mode: int) -> str:
    """A short name for a file type that is not a regular file ("a FIFO", "a directory")."""
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def require_regular(
    path: Path,
    *,
    what: str,
    position: SourcePosition | None = None,
    max_bytes: int = MAX_TEXT_BYTES,
    error: type[MlopsCiError] = InputError,
) -> os.stat_result:
    """``stat`` of ``path``; refuse a special file system, a non-regular file or an oversized one.

    Files handed to a subprocess (cyclonedx-py, bandit) are checked with this before it runs.
    A missing file raises :class:`FileNotFoundError`, so callers keep their own wording for it.
    """
    real = os.path.realpath(path)
    if _special(real):
        raise error(
            f"{what} leads to a special file system ({real.split(os.sep)[1]}); give a regular"
            " file inside the repository",
            position,
        )
    info = os.stat(real)
    if not stat.S_ISREG(info.st_mode):
        raise error(
            f"cannot read the {what}: it is {kind_of(info.st_mode)}, not a regular file;"
            " fix the path",
            position,
        )
    return info


def open_regular(
    path: Path,
    *,
    what: str,
    position: SourcePosition | None = None,
    error: type[MlopsCiError] = InputError,
) -> BinaryIO:
    """``path`` opened for reading only if it is a regular file (no size cap: for hashing
    models), never blocking on a FIFO: opened with ``O_NONBLOCK``, then checked with ``fstat``."""
    real = os.path.realpath(path)
    if _special(real):
        raise error(f"{what} leads to a special file system; give a regular file", position)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    handle = os.fdopen(fd, "rb")
    mode = os.fstat(handle.fileno()).st_mode
    if not stat.S_ISREG(mode):
        handle.close()
        raise error(f"cannot read the {what}: it is {kind_of(mode)}, not a regular file", position)
    return handle


def read_bytes(
    path: Path,
    *,
    what: str,
    position: SourcePosition | None = None,
    max_bytes: int = MAX_TEXT_BYTES,
    error: type[MlopsCiError] = InputError,
) -> bytes:
    """The bytes of a regular file, read without ever blocking on a FIFO or reading past a cap.

    A missing file raises :class:`FileNotFoundError`; everything else that makes the file
    unusable is ``error`` naming ``position``.
    """
    require_regular(path, what=what, position=position, max_bytes=max_bytes, error=error)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise
    except OSError as exc:
        reason = exc.strerror or errno.errorcode.get(exc.errno or 0, "error")
        raise error(f"cannot read the {what} ({reason}); check its permissions", position) from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):  # swapped since the stat
            raise error(f"{what} is not a regular file; fix the path", position)
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise error(f"{what} is over the {max_bytes / 1048576:g} MiB limit", position)
    return data


def read_text(
    path: Path,
    *,
    what: str,
    position: SourcePosition | None = None,
    max_bytes: int = MAX_TEXT_BYTES,
    error: type[MlopsCiError] = InputError,
) -> str:
    """The UTF-8 text of a regular file (see :func:`read_bytes`); bad UTF-8 names its line only."""
    data = read_bytes(path, what=what, position=position, max_bytes=max_bytes, error=error)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        where = SourcePosition(position.path if position else str(path), line)
        raise error(f"the {what} is not UTF-8 text; save it as UTF-8", where) from None


def output_path(
    path: Path,
    root: Path,
    *,
    what: str,
    trusted: bool = True,
    position: SourcePosition | None = None,
    error: type[MlopsCiError] = InputError,
) -> Path:
    """Where to write ``path``: its directory's real path plus its name, confined like a read.

    The directory is resolved (a symlinked directory planted in the repository cannot carry the
    write outside); the name itself is not followed, because writes replace it atomically
    (``os.replace`` swaps a planted symlink for the file instead of writing through it).
    """
    parent = confine(path.parent, root, what=what, position=position, trusted=trusted, error=error)
    return parent / path.name


def refuse_escaping_links(
    top: Path, root: Path, *, what: str, error: type[MlopsCiError] = InputError
) -> None:
    """Refuse the first symlink under ``top`` that leads outside ``root`` (or to ``/proc``...).

    For trees handed whole to a tool that follows file links itself (bandit reads
    ``src/x.py -> /home/runner/.netrc`` and quotes its lines). ``root`` is the repository, or
    ``top`` itself when ``top`` lies outside it (a flag named it).
    """
    real_root = os.path.realpath(root)
    real_top = os.path.realpath(top)
    if not _is_within(real_top, real_root):
        real_root = real_top
    if not os.path.isdir(top):
        return
    for directory, dirnames, filenames in os.walk(top, followlinks=False):
        for name in (*dirnames, *filenames):
            path = os.path.join(directory, name)
            if not os.path.islink(path):
                continue
            real = os.path.realpath(path)
            if _special(real) or not _is_within(real, real_root) or _in_git_dir(real, real_root):
                shown = os.path.relpath(path, os.path.dirname(os.path.abspath(top)))
                raise error(
                    f"{what} {_shown(shown)!r} is a symlink that leads outside the repository;"
                    " replace the link with the file itself, or remove it",
                    SourcePosition(shown),
                )
