"""A pickle opcode decoder with the grammar of CPython's own unpicklers, that loads nothing.

``pickle.load`` runs the C ``_pickle`` unpickler (``pickle._Unpickler`` is the pure-Python one);
``pickletools.genops`` parses differently (it rejects ``I0x1``, which both loaders accept), so a
scanner built on it can be walked past. This decoder reads every opcode the way the loaders do and
accepts the *union* of what they accept: where they differ (``I010``, a memo index ``1\\0x``, an
``INST`` with no MARK, a short FRAME), it takes the reading that goes further, so every
``find_class`` call either loader would make is seen. It keeps a symbolic stack and memo, exact
for strings (the only values a global can be named from) and opaque otherwise, and returns the
globals a load would import, in order, with one of three outcomes:

- ``stop``: it reached STOP; ``end`` is the offset after it;
- ``reject``: both loaders raise at or before ``end``, importing nothing more;
- ``undecodable``: what a loader would do depends on what the scanner cannot know (an extension
  code, a global named from a computed value, a memo that differs between loaders, a bound
  exceeded). Callers treat it as blocking.

Values pushed by a persistent ID (torch storages) or a call are opaque (``ANY``): the scanner
assumes the loader's ``persistent_load`` imports nothing itself, as torch's does.
"""

from __future__ import annotations

import codecs
import mmap
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Blob = bytes | mmap.mmap
Outcome = Literal["stop", "reject", "undecodable"]

HIGHEST_PROTOCOL = 5  # CPython 3.8-3.14
MAX_STACK = 1_000_000  # items on the stack and every marked frame together
MAX_MEMO = 2_000_000
MAX_MARKS = 100_000
MAX_OPS = 30_000_000  # opcodes in one pickle (~10 s here); bounds the work a hostile file costs
MAX_NAME = 4096  # longer strings are kept as opaque values; longer global names are undecodable


class _Kind:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


OTHER = _Kind("OTHER")  # a value that is certainly not a str (int, bytes, list, dict, None...)
ANY = _Kind("ANY")  # a value the scanner cannot know: a call's result, a persistent object...
_MISSING = _Kind("MISSING")


@dataclass(frozen=True)
class Decoded:
    """What decoding one pickle from an offset found."""

    outcome: Outcome
    end: int
    imports: tuple[tuple[str, str], ...]
    reason: str = ""


class _Reject(Exception):
    """Both loaders fail here."""


class _Undecodable(Exception):
    """What a loader does next cannot be known from the bytes alone."""


_STRTOL = re.compile(rb"[ \t\n\v\f\r]*[+-]?(?:0[xX][0-9a-fA-F]+|[0-9]+)")


def _parses(line: bytes, parse: Callable[[bytes], object]) -> bool:
    try:
        parse(line)
    except (ValueError, OverflowError):
        return False
    return True


def _c_line(line: bytes) -> bytes:
    """The C unpickler reads a line as a NUL-terminated string: it ends at the first NUL."""
    return line.split(b"\0", 1)[0]


def _int_literal_ok(line: bytes) -> bool:
    """INT: C tries ``strtol(s, 0)`` then ``int(s, 0)``; Python ``int(s, 0)``. Either will do."""
    cut = _c_line(line)
    return (
        _STRTOL.fullmatch(cut) is not None
        or _parses(line, lambda b: int(b, 0))
        or _parses(cut, lambda b: int(b, 0))
    )


def _long_literal_ok(line: bytes) -> bool:
    """LONG: an optional ``L`` suffix, then ``int(s, 0)`` (C on the NUL-cut line)."""
    candidates = [line[:-1] if line.endswith(b"L") else line]
    cut = _c_line(line)
    candidates.append(cut[:-1] if cut.endswith(b"L") else cut)
    return any(_parses(c, lambda b: int(b, 0)) for c in candidates)


def _float_literal_ok(line: bytes) -> bool:
    """FLOAT: Python ``float(s)``; C ``PyOS_string_to_double`` up to a NUL."""
    return _parses(line, float) or _parses(_c_line(line), float)


def _memo_index(line: bytes | None) -> int:
    """A PUT/GET text index: Python rejects a NUL in it, C reads up to it; take C's reading."""
    if line is None or len(_c_line(line).strip()) > 4000:  # past int()'s default digit limit
        raise _Undecodable("a memo index too long to read")
    try:
        return int(_c_line(line))
    except ValueError:
        raise _Reject("a memo index that is not an integer") from None


class _Decoder:
    """One pickle, from ``pos``: the state of both unpicklers, merged."""

    def __init__(self, blob: Blob, pos: int, end: int, earlier: dict[int, object] | None) -> None:
        self.blob, self.pos, self.end = blob, pos, end
        self.stack: list[object] = []
        self.metastack: list[list[object]] = []
        self.memo: dict[int, object] = {}
        # A loader may reuse one Unpickler for consecutive pickles (its memo carries over) or
        # make a fresh one for each: track both memos; a GET they disagree on is undecodable.
        self.shared: dict[int, object] | None = dict(earlier) if earlier is not None else None
        self.imports: list[tuple[str, str]] = []
        self.frame_end = -1
        self.ops = 0
        self.ext_codes: list[int] = []

    # -- reading -----------------------------------------------------------------------------

    def crossing(self, stop: int) -> None:
        """A read from the middle of a frame past its end: C drops the rest of the frame when it
        reads a file without ``peek``, reads on with ``peek`` or from bytes; Python fails."""
        if self.pos < self.frame_end < stop:
            raise _Undecodable("an opcode that crosses the end of its frame")

    def read(self, n: int) -> bytes:
        self.crossing(self.pos + n)
        if n > self.end - self.pos:
            self.pos = self.end
            raise _Reject("the pickle is truncated")
        data = self.blob[self.pos : self.pos + n]
        self.pos += n
        return bytes(data)

    def skip(self, n: int) -> None:
        self.crossing(self.pos + n)
        if n > self.end - self.pos:
            self.pos = self.end
            raise _Reject("the pickle is truncated")
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

    # -- the stack ---------------------------------------------------------------------------

    def need(self, n: int) -> None:
        if len(self.stack) < n:
            raise _Reject("stack underflow")

    def pop_mark(self) -> list[object]:
        if not self.metastack:
            raise _Reject("no MARK to pop to")
        items = self.stack
        self.stack = self.metastack.pop()
        return items

    def push_text(self, data: bytes) -> None:
        """A protocol 0-2 8-bit string: decoded with the loader's ``encoding`` (ASCII by
        default), so only an ASCII value is the same str in every loader."""
        self.stack.append(data.decode("ascii") if data.isascii() else ANY)

    def push_unicode(self, n: int) -> None:
        if n > MAX_NAME:
            self.skip(n)
            self.stack.append(ANY)
            return
        try:
            self.stack.append(self.read(n).decode("utf-8", "surrogatepass"))
        except UnicodeDecodeError:
            raise _Reject("invalid UTF-8 in a unicode string") from None

    def named(self, module: object, name: object) -> None:
        if isinstance(module, str) and isinstance(name, str):
            self.imports.append((module, name))
        elif module is OTHER or name is OTHER:
            raise _Reject("STACK_GLOBAL on a value that is not a str")
        else:
            raise _Undecodable("a global named from a value computed at load time")

    def memo_put(self, index: int) -> None:
        self.need(1)
        value = self.stack[-1]
        self.memo[index] = value
        if self.shared is not None:
            self.shared[index] = value
        if len(self.memo) > MAX_MEMO:
            raise _Undecodable(f"more than {MAX_MEMO} memo entries")

    def memo_get(self, index: int) -> None:
        value = self.memo.get(index, _MISSING)
        if self.shared is not None:
            other = self.shared.get(index, _MISSING)
            if other is not value and not (isinstance(value, str) and value == other):
                raise _Undecodable("a memo entry that differs between a fresh and a reused loader")
        if value is _MISSING:
            raise _Reject("a memo GET of an index never PUT")
        self.stack.append(value)

    # -- the opcodes -------------------------------------------------------------------------

    def names(self) -> tuple[bytes, bytes]:
        module, name = self.line(MAX_NAME), self.line(MAX_NAME)
        if module is None or name is None:
            raise _Undecodable(f"a global name over {MAX_NAME} bytes")
        return module, name

    def global_(self) -> None:
        module, name = self.names()
        try:
            self.imports.append((module.decode("utf-8"), name.decode("utf-8")))
        except UnicodeDecodeError:
            raise _Reject("a GLOBAL name that is not UTF-8") from None
        self.stack.append(ANY)

    def inst(self) -> None:
        module, name = self.names()
        if not (module.isascii() and name.isascii()):
            raise _Reject("an INST name that is not ASCII")
        # Python imports the class before it looks for the MARK; C looks first.
        self.imports.append((module.decode("ascii"), name.decode("ascii")))
        self.pop_mark()
        self.stack.append(ANY)

    def stack_global(self) -> None:
        self.need(2)
        name, module = self.stack.pop(), self.stack.pop()
        self.named(module, name)
        self.stack.append(ANY)

    def string(self) -> None:
        data = self.line()
        if data is None:
            self.stack.append(ANY)
            return
        if not (len(data) >= 2 and data[0] == data[-1] and data[0] in b"\"'"):
            raise _Reject("the STRING argument must be quoted")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                value = codecs.escape_decode(data[1:-1])[0]
            except ValueError:
                raise _Reject("an invalid escape in a STRING") from None
        self.push_text(value)

    def unicode(self) -> None:
        data = self.line()
        if data is None:
            self.stack.append(ANY)
            return
        try:
            self.stack.append(str(data, "raw-unicode-escape"))
        except UnicodeDecodeError:
            raise _Reject("an invalid escape in a UNICODE string") from None

    def ext(self, n: int) -> None:
        # copyreg's registry names the global; the standard one is empty, so a default loader
        # fails here. A stream that goes on to reach STOP is undecodable (see ``run``).
        code = self.uint(n)
        if code <= 0:
            raise _Reject("extension code 0")
        self.ext_codes.append(code)
        self.stack.append(ANY)

    def text_number(self, valid: Callable[[bytes], bool]) -> None:
        data = self.line()
        if data is not None and not valid(data):  # a longer one may be a valid huge number
            raise _Reject("an invalid number literal")
        self.stack.append(OTHER)

    def dict_(self) -> None:
        if len(self.pop_mark()) % 2:
            raise _Reject("an odd number of items for DICT")
        self.stack.append(OTHER)

    def setitems(self) -> None:
        items = self.pop_mark()
        self.need(1)
        if len(items) % 2:
            raise _Reject("an odd number of items for SETITEMS")

    def pop(self) -> None:
        if self.stack:
            self.stack.pop()
        else:
            self.pop_mark()

    def mark(self) -> None:
        if len(self.metastack) >= MAX_MARKS:
            raise _Undecodable(f"more than {MAX_MARKS} nested MARKs")
        self.metastack.append(self.stack)
        self.stack = []

    def proto(self) -> None:
        if self.read(1)[0] > HIGHEST_PROTOCOL:
            raise _Reject("an unsupported protocol")

    def frame(self) -> None:
        # C only checks the frame is all there; Python reads what there is and checks that no
        # opcode crosses its end. Neither changes how the bytes read: take the union (no check).
        size = self.uint(8)
        if self.pos < self.frame_end < self.pos + size:
            raise _Undecodable("a FRAME that reaches past the frame it starts in")
        self.frame_end = max(self.frame_end, self.pos + size)

    def replace(self, n: int, pushed: object) -> None:
        """Pop ``n`` values and push ``pushed`` (TUPLE1-3, REDUCE, NEWOBJ, BINPERSID...)."""
        self.need(n)
        del self.stack[len(self.stack) - n :]
        self.stack.append(pushed)

    def drop(self, n: int) -> None:
        """Pop ``n`` values into the one below them (APPEND, SETITEM, BUILD)."""
        self.need(n + 1)
        del self.stack[len(self.stack) - n :]

    def obj(self) -> None:
        if not self.pop_mark():
            raise _Reject("OBJ with no class")
        self.stack.append(ANY)

    def memoize(self) -> None:
        self.need(1)
        value = self.stack[-1]
        self.memo[len(self.memo)] = value
        if self.shared is not None:
            self.shared[len(self.shared)] = value
        if len(self.memo) > MAX_MEMO:
            raise _Undecodable(f"more than {MAX_MEMO} memo entries")

    def table(self) -> dict[int, Callable[[], None]]:
        """Every opcode of protocols 0-5, by byte."""
        s = self

        def push(value: object) -> Callable[[], None]:
            return lambda: s.stack.append(value)

        def skip_then_push(size: Callable[[], int]) -> Callable[[], None]:
            def run() -> None:
                s.skip(size())
                s.stack.append(OTHER)

            return run

        def fixed(n: int) -> Callable[[], int]:
            return lambda: n

        def sized(n: int) -> Callable[[], int]:
            return lambda: s.uint(n)

        def marked_then_push() -> None:
            s.pop_mark()
            s.stack.append(OTHER)

        def marked_then_need() -> None:
            s.pop_mark()
            s.need(1)

        def pop_mark() -> None:
            s.pop_mark()

        def dup() -> None:
            s.need(1)
            s.stack.append(s.stack[-1])

        return {
            0x80: s.proto,
            0x95: s.frame,
            ord("("): s.mark,
            ord("0"): s.pop,
            ord("1"): pop_mark,
            ord("2"): dup,
            ord("N"): push(OTHER),
            0x88: push(OTHER),
            0x89: push(OTHER),
            ord("I"): lambda: s.text_number(_int_literal_ok),
            ord("L"): lambda: s.text_number(_long_literal_ok),
            ord("F"): lambda: s.text_number(_float_literal_ok),
            ord("J"): skip_then_push(fixed(4)),
            ord("K"): skip_then_push(fixed(1)),
            ord("M"): skip_then_push(fixed(2)),
            ord("G"): skip_then_push(fixed(8)),
            0x8A: skip_then_push(sized(1)),
            0x8B: s.long4,
            ord("S"): s.string,
            ord("T"): lambda: s.push_text(s.read(s.uint(4))),
            ord("U"): lambda: s.push_text(s.read(s.uint(1))),
            ord("V"): s.unicode,
            ord("X"): lambda: s.push_unicode(s.uint(4)),
            0x8C: lambda: s.push_unicode(s.uint(1)),
            0x8D: lambda: s.push_unicode(s.uint(8)),
            ord("B"): skip_then_push(sized(4)),
            ord("C"): skip_then_push(sized(1)),
            0x8E: skip_then_push(sized(8)),
            0x96: skip_then_push(sized(8)),
            0x97: push(ANY),  # NEXT_BUFFER: an object from the loader's buffers
            0x98: lambda: s.need(1),  # READONLY_BUFFER
            ord(")"): push(OTHER),
            ord("]"): push(OTHER),
            ord("}"): push(OTHER),
            0x8F: push(OTHER),
            ord("t"): marked_then_push,
            ord("l"): marked_then_push,
            0x91: marked_then_push,
            ord("d"): s.dict_,
            0x85: lambda: s.replace(1, OTHER),
            0x86: lambda: s.replace(2, OTHER),
            0x87: lambda: s.replace(3, OTHER),
            ord("a"): lambda: s.drop(1),
            ord("e"): marked_then_need,
            ord("s"): lambda: s.drop(2),
            ord("u"): s.setitems,
            0x90: marked_then_need,
            ord("b"): lambda: s.drop(1),
            ord("R"): lambda: s.replace(2, ANY),
            0x81: lambda: s.replace(2, ANY),
            0x92: lambda: s.replace(3, ANY),
            ord("o"): s.obj,
            ord("i"): s.inst,
            ord("c"): s.global_,
            0x93: s.stack_global,
            0x82: lambda: s.ext(1),
            0x83: lambda: s.ext(2),
            0x84: lambda: s.ext(4),
            ord("P"): s.persid,
            ord("Q"): lambda: s.replace(1, ANY),
            ord("p"): lambda: s.put(_memo_index(s.line())),
            ord("q"): lambda: s.memo_put(s.uint(1)),
            ord("r"): lambda: s.memo_put(s.uint(4)),
            0x94: s.memoize,
            ord("g"): lambda: s.memo_get(_memo_index(s.line())),
            ord("h"): lambda: s.memo_get(s.uint(1)),
            ord("j"): lambda: s.memo_get(s.uint(4)),
        }

    def long4(self) -> None:
        size = int.from_bytes(self.read(4), "little", signed=True)
        if size < 0:
            raise _Reject("LONG4 with a negative size")
        self.skip(size)
        self.stack.append(OTHER)

    def persid(self) -> None:
        data = self.line()
        if data is not None and not data.isascii():
            raise _Reject("a persistent ID that is not ASCII")
        self.stack.append(ANY)

    def put(self, index: int) -> None:
        if index < 0:
            raise _Reject("a negative PUT index")
        self.memo_put(index)

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> Decoded:
        table = self.table()
        blob, end = self.blob, self.end
        try:
            while True:
                if self.pos >= end:
                    raise _Reject("the pickle ends before STOP")
                op = blob[self.pos]
                self.pos += 1
                self.ops += 1
                if op == 0x2E:  # STOP
                    self.need(1)
                    if self.frame_end > self.pos and self.pos < end:
                        raise _Undecodable("data after STOP inside its frame")
                    if self.ext_codes:
                        raise _Undecodable(f"extension code {self.ext_codes[0]} names a global")
                    return Decoded("stop", self.pos, tuple(self.imports))
                handler = table.get(op)
                if handler is None:
                    raise _Reject(f"invalid opcode 0x{op:02x}")
                handler()
                if not self.ops & 0xFFFF:
                    if self._size() > MAX_STACK:
                        raise _Undecodable(f"more than {MAX_STACK} values on the stack")
                    if self.ops > MAX_OPS:
                        raise _Undecodable(f"more than {MAX_OPS} opcodes")
        except _Reject as exc:
            return Decoded("reject", self.pos, tuple(self.imports), f"{exc} at byte {self.pos}")
        except _Undecodable as exc:
            return Decoded(
                "undecodable", self.pos, tuple(self.imports), f"{exc} at byte {self.pos}"
            )

    def _size(self) -> int:
        return len(self.stack) + sum(map(len, self.metastack))


def decode(blob: Blob, start: int, end: int, earlier: dict[int, object] | None = None) -> Decoded:
    """Decode one pickle of ``blob[start:end]``."""
    return _Decoder(blob, start, end, earlier).run()


def decode_stream(blob: Blob, start: int, end: int) -> list[Decoded]:
    """Decode consecutive pickles from ``start`` until one does not reach STOP (or the data ends).

    Each element but the last is a ``stop``; the last may be anything. A loader may reuse one
    unpickler (memo carried over) or not; both are followed.
    """
    results: list[Decoded] = []
    earlier: dict[int, object] | None = None
    pos = start
    while pos < end:
        decoder = _Decoder(blob, pos, end, earlier)
        found = decoder.run()
        results.append(found)
        if found.outcome != "stop":
            break
        earlier = decoder.shared if decoder.shared is not None else decoder.memo
        pos = found.end
    return results
