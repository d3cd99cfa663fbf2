"""How CPython's unpicklers read the text arguments of protocol 0 opcodes (``I``, ``L``, ``F``,
``p``/``g``), and the two ways a decode can end early.

The C unpickler reads a line as a NUL-terminated C string (it stops at the first NUL) and parses
``INT`` with ``strtol(s, 0)`` before ``int(s, 0)``; the Python one uses ``int()``/``float()`` on
the whole line. A literal is valid if either loader takes it.
"""

from __future__ import annotations

import re
from collections.abc import Callable


class Reject(Exception):
    """Every loader fails here."""


class Undecodable(Exception):
    """What a loader does next cannot be known from the bytes alone."""


_STRTOL = re.compile(rb"[ \t\n\v\f\r]*[+-]?(?:0[xX][0-9a-fA-F]+|[0-9]+)")


def _parses(line: bytes, parse: Callable[[bytes], object]) -> bool:
    try:
        parse(line)
    except (ValueError, OverflowError):
        return False
    return True


def c_line(line: bytes) -> bytes:
    """The C unpickler reads a line as a NUL-terminated string: it ends at the first NUL."""
    return line.split(b"\0", 1)[0]


def int_literal_ok(line: bytes) -> bool:
    """INT: C tries ``strtol(s, 0)`` then ``int(s, 0)``; Python ``int(s, 0)``. Either will do."""
    cut = c_line(line)
    return (
        _STRTOL.fullmatch(cut) is not None
        or _parses(line, lambda b: int(b, 0))
        or _parses(cut, lambda b: int(b, 0))
    )


def long_literal_ok(line: bytes) -> bool:
    """LONG: an optional ``L`` suffix, then ``int(s, 0)`` (C on the NUL-cut line)."""
    candidates = [line[:-1] if line.endswith(b"L") else line]
    cut = c_line(line)
    candidates.append(cut[:-1] if cut.endswith(b"L") else cut)
    return any(_parses(c, lambda b: int(b, 0)) for c in candidates)


def float_literal_ok(line: bytes) -> bool:
    """FLOAT: Python ``float(s)``; C ``PyOS_string_to_double`` up to a NUL."""
    return _parses(line, float) or _parses(c_line(line), float)


def memo_index(line: bytes | None) -> int:
    """A PUT/GET text index: Python rejects a NUL in it, C reads up to it; take C's reading."""
    if line is None or len(c_line(line).strip()) > 4000:  # past int()'s default digit limit
        raise Undecodable("a memo index too long to read")
    try:
        return int(c_line(line))
    except ValueError:
        raise Reject("a memo index that is not an integer") from None
