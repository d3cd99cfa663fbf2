"""Checking requirements files before ``cyclonedx-py`` reads them.

``cyclonedx-py requirements`` skips a line it cannot parse and fails on an unreadable file with a
message that names no line. The SBOM must say
exactly what the file says, so every file (and every ``-r``/``-c`` include) is parsed first with
the same parser cyclonedx-py uses (``pip-requirements-parser``), and the first problem is an
:class:`InputError` naming the file and line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlops_ci.errors import InputError, SourcePosition

MAX_INCLUDE_DEPTH = 10
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


def redact_credentials(text: str) -> str:
    """``https://user:token@host`` becomes ``https://***@host``."""
    return _URL_CREDENTIALS.sub("***@", text)


def check_requirements_file(path: Path, display: Callable[[Path], str]) -> None:
    """Raise InputError (file and line) if ``path`` or a file it includes cannot be used."""
    _check(path, display, depth=0, included_from=None)


def _check(
    path: Path, display: Callable[[Path], str], depth: int, included_from: SourcePosition | None
) -> None:
    shown = display(path)
    if depth > MAX_INCLUDE_DEPTH:
        raise InputError("requirements files include each other too deeply", included_from)
    _ensure_readable(path, shown, included_from)
    parsed = _parse(path, shown)
    for invalid in parsed.invalid_lines:
        first = invalid.error_message.strip().splitlines()[0] if invalid.error_message else ""
        reason = first.removeprefix("Invalid requirement: ").strip(": ")
        line = redact_credentials(invalid.line.strip())  # no tokens in CI logs
        raise InputError(
            f"invalid requirement {line!r} ({redact_credentials(reason)});"
            " write it as 'name==version' (PEP 508)",
            SourcePosition(shown, invalid.line_number),
        )
    for option in parsed.options:
        for key in ("requirements", "constraints"):
            for name in option.options.get(key) or ():
                included = path.parent / name
                position = SourcePosition(shown, option.line_number)
                if not included.is_file():
                    raise InputError(
                        f"included file {name} does not exist; fix the '-r'/'-c' line", position
                    )
                _check(included, display, depth + 1, position)


def _ensure_readable(path: Path, shown: str, included_from: SourcePosition | None) -> None:
    """Raise an InputError saying why the file cannot be read as UTF-8 text, if it cannot."""
    where = f" (included at {included_from})" if included_from else ""
    try:
        path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(
            f"requirements file does not exist{where}; fix the path in 'sbom.requirements'"
            " or 'scan.requirements'",
            SourcePosition(shown),
        ) from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise InputError(
            "the requirements file is not UTF-8 text; save it as UTF-8",
            SourcePosition(shown, line),
        ) from None
    except OSError as exc:
        raise InputError(
            f"cannot read the requirements file ({exc.strerror or exc.__class__.__name__});"
            " check the path and its permissions",
            SourcePosition(shown),
        ) from None


def _parse(path: Path, shown: str) -> Any:
    from pip_requirements_parser import RequirementsFile

    try:
        return RequirementsFile.from_file(str(path), include_nested=False)
    except Exception as exc:  # the parser raises pip's error types for bad options
        message = str(exc).split("|n")[0].strip() or exc.__class__.__name__
        raise InputError(
            f"cannot parse the requirements file: {message}", SourcePosition(shown)
        ) from None
