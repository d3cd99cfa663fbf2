"""Checking requirements files before ``cyclonedx-py`` reads them.

``cyclonedx-py requirements`` skips a line it cannot parse and fails on an unreadable file with a
message that names no line. The SBOM must say
exactly what the file says, so every file (and every ``-r``/``-c`` include) is parsed first with
the same parser cyclonedx-py uses (``pip-requirements-parser``), and the first problem is an
:class:`InputError` naming the file and line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlops_ci.errors import InputError, SourcePosition
from mlops_ci.safepath import read_text
from mlops_ci.scan.requirements import confine_include, include_root
from mlops_ci.scrub import excerpt, scrub

MAX_INCLUDE_DEPTH = 10


def redact_credentials(text: str) -> str:
    """``https://user:token@host`` becomes ``https://***@host`` (and every other secret goes)."""
    return scrub(text)


def check_requirements_file(
    path: Path, display: Callable[[Path], str], root: Path | None = None
) -> None:
    """Raise InputError (file and line) if ``path`` or a file it includes cannot be used.

    Every ``-r``/``-c`` include, in whatever spelling pip accepts (the parser normalises them),
    must resolve inside ``root`` (see :func:`mlops_ci.scan.requirements.include_root`), so
    cyclonedx-py, which follows them itself, only ever reads files checked here.
    """
    _check(path, display, depth=0, included_from=None, root=include_root(path, root))


def _check(
    path: Path,
    display: Callable[[Path], str],
    depth: int,
    included_from: SourcePosition | None,
    root: Path,
) -> None:
    shown = display(path)
    if depth > MAX_INCLUDE_DEPTH:
        raise InputError("requirements files include each other too deeply", included_from)
    _ensure_readable(path, shown, included_from)
    parsed = _parse(path, shown)
    for invalid in parsed.invalid_lines:
        first = invalid.error_message.strip().splitlines()[0] if invalid.error_message else ""
        reason = first.removeprefix("Invalid requirement: ").strip(": ")
        raise InputError(
            f"invalid requirement {excerpt(invalid.line.strip())!r} ({excerpt(reason, 100)});"
            " write it as 'name==version' (PEP 508)",
            SourcePosition(shown, invalid.line_number),
        )
    for option in parsed.options:
        for key, flag in (("requirements", "-r"), ("constraints", "-c")):
            for name in option.options.get(key) or ():
                position = SourcePosition(shown, option.line_number)
                included = confine_include(str(name), path, root, position, flag)
                _check(included, display, depth + 1, position, root)


def _ensure_readable(path: Path, shown: str, included_from: SourcePosition | None) -> None:
    """Raise an InputError saying why the file cannot be read as UTF-8 text, if it cannot."""
    where = f" (included at {included_from})" if included_from else ""
    try:
        read_text(path, what="requirements file", position=SourcePosition(shown))
    except FileNotFoundError:
        raise InputError(
            f"requirements file does not exist{where}; fix the path in 'sbom.requirements'"
            " or 'scan.requirements'",
            SourcePosition(shown),
        ) from None


def _parse(path: Path, shown: str) -> Any:
    from pip_requirements_parser import RequirementsFile

    try:
        return RequirementsFile.from_file(str(path), include_nested=False)
    except Exception as exc:  # the parser raises pip's error types for bad options
        message = str(exc).split("|n")[0].strip() or exc.__class__.__name__
        raise InputError(
            f"cannot parse the requirements file: {excerpt(message, 120)}", SourcePosition(shown)
        ) from None
