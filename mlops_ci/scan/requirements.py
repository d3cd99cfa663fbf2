"""Requirements files read with line numbers: what is pinned, and what cannot be audited.

pip-audit reads requirements files itself but reports no line numbers, and with ``--no-deps`` it
aborts the whole audit on the first unpinned line. So the ``deps`` check parses the files here
first: every pinned requirement (``name==version``, with or without ``--hash``) keeps the file and
line it came from, and every requirement that cannot be audited without resolving (a range, an
editable install, a URL or a local path) is kept with the reason, to become a ``DEP-UNAUDITED``
finding. pip-audit then audits only the pinned set (see :mod:`mlops_ci.scan.pip_audit`).

A line that is not a valid requirement, or a file that cannot be read, is an
:class:`~mlops_ci.errors.InputError` naming ``file:line``.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from mlops_ci.errors import InputError, MlopsCiError, SourcePosition
from mlops_ci.safepath import confine, read_text, require_regular
from mlops_ci.scrub import excerpt

# pip options that stand alone on a line and name no requirement.
_OPTION_LINE = re.compile(
    r"^(-i|--index-url|--extra-index-url|-f|--find-links|--no-index|--pre|--prefer-binary"
    r"|--trusted-host|--require-hashes|--only-binary|--no-binary|--use-feature|--config-settings"
    r")(\s|=|$)"
)
# Every spelling pip accepts: ``-r X``, ``-rX``, ``-r=X``, ``--requirement X``, ``--requirement=X``
# (and the same for ``-c``/``--constraint``, whose files are confined but not audited).
_INCLUDE = re.compile(
    r"^(?P<option>-r|--requirement|-c|--constraint)(?:\s*=\s*|\s+|(?<=^-[rc]))(?P<path>\S+)$"
)
_EDITABLE = re.compile(r"^(-e|--editable)(\s+|=)")
# Per-requirement options that may follow a requirement on the same logical line.
_TRAILING_OPTION = re.compile(r"\s+--(hash|global-option|config-settings)(=|\s+)\S+")
_MAX_INCLUDE_DEPTH = 10
# A requirement naming a local path (``./pkg``, ``/abs``, ``name @ file:///x``, ``name @ ./x``).
_LOCAL = re.compile(r"^[./]|file:|@\s*[./~]")


@dataclass(frozen=True)
class Located:
    """A requirement's package name and the file and line it is written on."""

    name: str
    path: Path
    line: int

    @property
    def canonical(self) -> str:
        """The normalised package name (PEP 503)."""
        return canonicalize_name(self.name)


@dataclass(frozen=True)
class Pin(Located):
    """A requirement pinned to one exact version, and where it is pinned."""

    version: str


@dataclass(frozen=True)
class Unpinned(Located):
    """A requirement that cannot be audited without resolving it, and why."""

    reason: str


@dataclass(frozen=True)
class Requirements:
    """Everything read from a set of requirement sources."""

    pins: tuple[Pin, ...] = ()
    unpinned: tuple[Unpinned, ...] = ()


def read_requirements(paths: list[Path], root: Path | None = None) -> Requirements:
    """Parse requirements files (and ``pyproject.toml`` files) in order, following ``-r``.

    Includes resolve inside ``root`` (the repository) after following symlinks, or inside the
    directory of a top-level file that lies outside it (one a flag named); see
    :func:`include_root`.
    """
    pins: list[Pin] = []
    unpinned: list[Unpinned] = []
    for path in paths:
        if path.name == "pyproject.toml":
            _read_pyproject(path, pins, unpinned)
        else:
            _read_file(path, pins, unpinned, depth=0, root=include_root(path, root))
    return Requirements(tuple(pins), tuple(unpinned))


def include_root(path: Path, root: Path | None) -> Path:
    """The directory ``-r``/``-c`` includes of ``path`` must stay in: the repository ``root``
    when ``path`` lies in it, else ``path``'s own directory (a file a flag named elsewhere)."""
    real = Path(os.path.realpath(path))
    if root is not None:
        real_root = Path(os.path.realpath(root))
        if real == real_root or real_root in real.parents:
            return real_root
    return real.parent


def confine_include(
    written: str, including: Path, root: Path, position: SourcePosition, option: str
) -> Path:
    """The real path of an include written ``written`` in ``including``; InputError (exit 2)
    when it is absolute, climbs out of ``root``, passes a symlink out, or is not a file."""
    included = confine(
        written, root, what=f"'{option}' include", position=position, base=including.parent
    )
    if not included.exists():
        raise InputError(
            f"included file {excerpt(written)} does not exist; fix the '{option}' line",
            position,
        )
    require_regular(included, what=f"'{option}' include {excerpt(written)!r}", position=position)
    return included


def _read_text(path: Path, included_from: SourcePosition | None = None) -> str:
    where = included_from or SourcePosition(str(path))
    try:
        return read_text(path, what="requirements file", position=SourcePosition(str(path)))
    except FileNotFoundError:
        raise InputError(
            f"requirements file {path} does not exist; fix the path in 'scan.requirements'"
            " or --requirements",
            where,
        ) from None


def logical_lines(text: str) -> list[tuple[int, str]]:
    """Lines with comments removed and ``\\`` continuations joined, each with its first line."""
    joined: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = "" if raw.lstrip().startswith("#") else re.sub(r"(^|\s)#.*$", "", raw)
        if not pending:
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        content = " ".join(part.strip() for part in pending).strip()
        pending = []
        if content:
            joined.append((start, content))
    if pending:
        content = " ".join(part.strip() for part in pending).strip()
        if content:
            joined.append((start, content))
    return joined


def _read_file(
    path: Path, pins: list[Pin], unpinned: list[Unpinned], *, depth: int, root: Path
) -> None:
    text = _read_text(path)
    for line_number, content in logical_lines(text):
        position = SourcePosition(str(path), line_number)
        include = _INCLUDE.match(content)
        if include:
            if depth >= _MAX_INCLUDE_DEPTH:
                raise InputError("requirements files include each other too deeply", position)
            option = include.group("option")
            included = confine_include(include.group("path"), path, root, position, option)
            if option in ("-r", "--requirement"):  # a constraint file pins nothing by itself
                _read_file(included, pins, unpinned, depth=depth + 1, root=root)
            continue
        if _OPTION_LINE.match(content):
            continue
        if _EDITABLE.match(content):
            target = _EDITABLE.sub("", content, count=1).strip()
            reason = "an editable install has no released version"
            unpinned.append(Unpinned(_guess_name(target), path, line_number, reason))
            continue
        if content.startswith("-"):
            raise InputError(
                f"unsupported pip option {excerpt(content.split()[0], 40)!r}; remove it or move"
                " it to pip's configuration",
                position,
            )
        _add_requirement(_TRAILING_OPTION.sub("", content).strip(), position, pins, unpinned)


def _add_requirement(
    text: str, position: SourcePosition, pins: list[Pin], unpinned: list[Unpinned]
) -> None:
    path, line = Path(position.path), position.line or 1
    if text.startswith((".", "/")) or "://" in text.split("@", maxsplit=1)[0]:
        reason = "a local path or URL has no released version"
        unpinned.append(Unpinned(_guess_name(text), path, line, reason))
        return
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        detail = excerpt(str(exc).splitlines()[0] if str(exc) else "", 100)
        raise InputError(
            f"malformed requirement {excerpt(text)!r} ({detail}); write it as 'name==version'",
            position,
        ) from None
    if requirement.url:
        reason = "a URL requirement has no released version"
        unpinned.append(Unpinned(requirement.name, path, line, reason))
        return
    version = exact_version(requirement)
    if version is None:
        shown = str(requirement.specifier) or "no version"
        reason = f"not pinned to one version ({shown}); pin it with '=='"
        unpinned.append(Unpinned(requirement.name, path, line, reason))
        return
    pins.append(Pin(requirement.name, path, line, version))


def exact_version(requirement: Requirement) -> str | None:
    """The version an ``==``/``===`` specifier pins exactly, or None."""
    specs = list(requirement.specifier)
    if len(specs) != 1 or specs[0].operator not in ("==", "===") or "*" in specs[0].version:
        return None
    return specs[0].version


def _guess_name(target: str) -> str:
    egg = re.search(r"[#&]egg=([A-Za-z0-9._-]+)", target)
    if egg:
        return egg.group(1)
    tail = target.rstrip("/").split("/")[-1]
    return tail.split("@")[0].split("#")[0] or target


def _read_pyproject(path: Path, pins: list[Pin], unpinned: list[Unpinned]) -> None:
    text = _read_text(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message names the line and the kind of problem, never the text.
        raise InputError(f"invalid TOML: {excerpt(str(exc))}", SourcePosition(str(path))) from None
    dependencies = data.get("project", {}).get("dependencies", [])
    if not isinstance(dependencies, list):
        raise InputError(
            "[project] dependencies must be a list of strings", SourcePosition(str(path))
        )
    lines = text.splitlines()
    for dependency in dependencies:
        line = next((n for n, ln in enumerate(lines, 1) if str(dependency) in ln), 1)
        _add_requirement(str(dependency), SourcePosition(str(path), line), pins, unpinned)


def requirement_files(paths: list[Path], root: Path | None = None) -> list[Path] | None:
    """Every file the requirements ``paths`` stand for, ``-r`` and ``-c`` includes followed, for
    a cache key; None when the files say more than their bytes (a ``${VAR}`` pip expands, a local
    path or editable install whose own files a tool would read) or cannot be followed (then the
    check runs and says why)."""
    found: list[Path] = []
    try:
        for path in paths:
            if path.name == "pyproject.toml":
                found.append(path)
            elif not _walk_includes(path, found, depth=0, root=include_root(path, root)):
                return None
    except (OSError, MlopsCiError):
        return None
    return found


def _walk_includes(path: Path, found: list[Path], *, depth: int, root: Path) -> bool:
    if depth > _MAX_INCLUDE_DEPTH:
        return False
    found.append(path)
    text = _read_text(path)
    if "${" in text:  # pip expands environment variables: the bytes alone do not decide
        return False
    for line_number, content in logical_lines(text):
        include = _INCLUDE.match(content)
        if include:
            position = SourcePosition(str(path), line_number)
            option = include.group("option")
            included = confine_include(include.group("path"), path, root, position, option)
            if not _walk_includes(included, found, depth=depth + 1, root=root):
                return False
        elif _unkeyable(content):
            return False
    return True


def _unkeyable(content: str) -> bool:
    """An editable install or local path (a tool reads that package's own files), or a pip
    option this walk does not know."""
    if _EDITABLE.match(content) or _LOCAL.search(content):
        return True
    return content.startswith("-") and not _OPTION_LINE.match(content)
