"""How CPython's unpicklers read their input: bytes, lines, frames, and the text arguments of
protocol 0 opcodes (``I``, ``L``, ``F``, ``p``/``g``); and the two ways a decode can end early.

The C unpickler reads a line as a NUL-terminated C string (it stops at the first NUL) and parses
``INT`` with ``strtol(s, 0)`` before ``int(s, 0)``; the Python one uses ``int()``/``float()`` on
the whole line. A literal is valid if either loader takes it.
"""

from __future__ import annotations

import mmap
import re
from collections.abc import Callable

Blob = bytes | mmap.mmap


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


class Reader:
    """A position in ``blob[:end]``, read as both unpicklers read it."""

    def __init__(self, blob: Blob, pos: int, end: int) -> None:
        self.blob, self.pos, self.end = blob, pos, end
        self.frame_end = -1

    # -- reading -----------------------------------------------------------------------------

    def crossing(self, stop: int) -> None:
        """A read from the middle of a frame past its end: C drops the rest of the frame when it
        reads a file without ``peek``, reads on with ``peek`` or from bytes; Python fails."""
        if self.pos < self.frame_end < stop:
            raise Undecodable("an opcode that crosses the end of its frame")

    def read(self, n: int) -> bytes:
        self.crossing(self.pos + n)
        if n > self.end - self.pos:
            self.pos = self.end
            raise Reject("the pickle is truncated")
        data = self.blob[self.pos : self.pos + n]
        self.pos += n
        return bytes(data)

    def skip(self, n: int) -> None:
        self.crossing(self.pos + n)
        if n > self.end - self.pos:
            self.pos = self.end
            raise Reject("the pickle is truncated")
        self.pos += n

    def uint(self, n: int) -> int:
        return int.from_bytes(self.read(n), "little")

    def line(self, limit: int = 1 << 16) -> bytes | None:
        """The next line without its newline (``None`` past ``limit`` bytes). At the end of the
        data without one, C fails and Python's ``readline()[:-1]`` drops the last byte: take
        Python's reading."""
        newline = self.blob.find(b"\n", self.pos, self.end)
        stop = self.end if newline < 0 else newline
        self.crossing(stop + 1)
        if stop - self.pos > limit:
            self.pos = self.end if newline < 0 else newline + 1
            return None
        data = bytes(self.blob[self.pos : stop])
        self.pos = self.end if newline < 0 else newline + 1
        return data if newline >= 0 else data[:-1]

    def frame(self) -> None:
        # C checks the frame is all there, Python does not: take the union (no check). Where
        # the loaders would read different bytes, in a frame that reaches past the one it
        # starts in or an opcode crossing a frame's end (see ``crossing``), stop undecodable.
        size = self.uint(8)
        if self.pos < self.frame_end < self.pos + size:
            raise Undecodable("a FRAME that reaches past the frame it starts in")
        self.frame_end = max(self.frame_end, self.pos + size)
