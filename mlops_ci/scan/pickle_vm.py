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
  code, a global named from a computed value, an opcode crossing a frame's end, a bound
  exceeded). Callers treat it as blocking.

Values pushed by a persistent ID (torch storages) or a call are opaque (``ANY``): the scanner
assumes the loader's ``persistent_load`` imports nothing itself, as torch's does.
"""

from __future__ import annotations

import codecs
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Literal

from mlops_ci.scan.pickle_input import (
    Blob,
    Reader,
    Reject,
    Undecodable,
    float_literal_ok,
    int_literal_ok,
    long_literal_ok,
    memo_index,
)

Outcome = Literal["stop", "reject", "undecodable"]

HIGHEST_PROTOCOL = 5  # CPython 3.8-3.14
MAX_STACK = 1_000_000  # items on the stack and every marked frame together
MAX_MEMO = 2_000_000
MAX_MARKS = 100_000
MAX_OPS = 30_000_000  # opcodes decoded for one file, all its pickles (~10 s here)
MAX_NAME = 4096  # longer strings are kept as opaque values; longer global names are undecodable


class _Kind:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


OTHER = _Kind("OTHER")  # a value that is certainly not a str (int, bytes, list, dict, None...)
ANY = _Kind("ANY")  # a value the scanner cannot know: a call's result, a persistent object...
_MISSING = _Kind("MISSING")


@dataclass
class Budget:
    """The opcodes left to decode for one file: the work a hostile file costs is bounded, even
    when an archive's members overlap (the same bytes read many times)."""

    ops: int = MAX_OPS


@dataclass(frozen=True)
class Decoded:
    """What decoding one pickle from an offset found."""

    outcome: Outcome
    end: int
    imports: tuple[tuple[str, str], ...]
    reason: str = ""


@dataclass(frozen=True)
class _Either:
    """A value that differs between loaders (a fresh and a reused unpickler's memo)."""

    options: frozenset[object]


MAX_OPTIONS = 16


def _options(value: object) -> frozenset[object]:
    return value.options if isinstance(value, _Either) else frozenset([value])


def _either(fresh: object, reused: object) -> object:
    """A memo value as a fresh and as a reused unpickler see it (``_MISSING``: that one fails)."""
    if fresh is _MISSING or fresh == reused:
        return reused
    if reused is _MISSING:
        return fresh
    options = _options(fresh) | _options(reused)
    return _Either(options) if len(options) <= MAX_OPTIONS else ANY


class _Decoder(Reader):
    """One pickle, from ``pos``: the state of both unpicklers, merged."""

    def __init__(
        self, blob: Blob, pos: int, end: int, earlier: dict[int, object] | None, budget: Budget
    ) -> None:
        super().__init__(blob, pos, end)
        self.budget = budget
        self.stack: list[object] = []
        self.metastack: list[list[object]] = []
        self.memo: dict[int, object] = {}
        # A loader may reuse one Unpickler for consecutive pickles (its memo carries over) or
        # make a fresh one for each: track both; a GET they disagree on pushes both readings.
        self.shared: dict[int, object] | None = dict(earlier) if earlier is not None else None
        self.imports: list[tuple[str, str]] = []
        self.ops = 0
        self.ext_codes: list[int] = []

    # -- the stack ---------------------------------------------------------------------------

    def need(self, n: int) -> None:
        if len(self.stack) < n:
            raise Reject("stack underflow")

    def pop_mark(self) -> list[object]:
        if not self.metastack:
            raise Reject("no MARK to pop to")
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
            raise Reject("invalid UTF-8 in a unicode string") from None

    def named(self, module: object, name: object) -> None:
        """STACK_GLOBAL: every loader's reading of the two values is a global, or fails."""
        pairs = [(m, n) for m in _options(module) for n in _options(name)]
        if any(m is ANY or n is ANY for m, n in pairs):
            raise Undecodable("a global named from a value computed at load time")
        found = [(m, n) for m, n in pairs if isinstance(m, str) and isinstance(n, str)]
        if not found:
            raise Reject("STACK_GLOBAL on a value that is not a str")
        self.imports.extend(found)

    def memo_put(self, index: int) -> None:
        self.need(1)
        value = self.stack[-1]
        self.memo[index] = value
        if self.shared is not None:
            self.shared[index] = value
        if len(self.memo) > MAX_MEMO:
            raise Undecodable(f"more than {MAX_MEMO} memo entries")

    def memo_get(self, index: int) -> None:
        value = self.memo.get(index, _MISSING)
        if self.shared is not None:
            value = _either(value, self.shared.get(index, _MISSING))
        if value is _MISSING:
            raise Reject("a memo GET of an index never PUT")
        self.stack.append(value)

    # -- the opcodes -------------------------------------------------------------------------

    def names(self) -> tuple[bytes, bytes]:
        start = self.pos
        module = self.line(MAX_NAME)
        stop = self.pos
        name = self.line(MAX_NAME)
        if module is None and self.blob.find(b"\0", start, stop) >= 0:
            # find_class is called, but no import can find a module whose name holds a NUL.
            raise Reject("a module name with a NUL byte")
        if module is None or name is None:
            raise Undecodable(f"a global name over {MAX_NAME} bytes")
        return module, name

    def global_(self) -> None:
        module, name = self.names()
        try:
            self.imports.append((module.decode("utf-8"), name.decode("utf-8")))
        except UnicodeDecodeError:
            raise Reject("a GLOBAL name that is not UTF-8") from None
        self.stack.append(ANY)

    def inst(self) -> None:
        module, name = self.names()
        if not (module.isascii() and name.isascii()):
            raise Reject("an INST name that is not ASCII")
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
            raise Reject("the STRING argument must be quoted")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                value = codecs.escape_decode(data[1:-1])[0]
            except ValueError:
                raise Reject("an invalid escape in a STRING") from None
        self.push_text(value)

    def unicode(self) -> None:
        data = self.line()
        if data is None:
            self.stack.append(ANY)
            return
        try:
            self.stack.append(str(data, "raw-unicode-escape"))
        except UnicodeDecodeError:
            raise Reject("an invalid escape in a UNICODE string") from None

    def ext(self, n: int) -> None:
        # copyreg's registry names the global; the standard one is empty, so a default loader
        # fails here. A stream that goes on to reach STOP is undecodable (see ``run``).
        code = self.uint(n)
        if code <= 0:
            raise Reject("extension code 0")
        self.ext_codes.append(code)
        self.stack.append(ANY)

    def text_number(self, valid: Callable[[bytes], bool]) -> None:
        data = self.line()
        if data is not None and not valid(data):  # a longer one may be a valid huge number
            raise Reject("an invalid number literal")
        self.stack.append(OTHER)

    def dict_(self) -> None:
        if len(self.pop_mark()) % 2:
            raise Reject("an odd number of items for DICT")
        self.stack.append(OTHER)

    def setitems(self) -> None:
        items = self.pop_mark()
        self.need(1)
        if len(items) % 2:
            raise Reject("an odd number of items for SETITEMS")

    def pop(self) -> None:
        if self.stack:
            self.stack.pop()
        else:
            self.pop_mark()

    def mark(self) -> None:
        if len(self.metastack) >= MAX_MARKS:
            raise Undecodable(f"more than {MAX_MARKS} nested MARKs")
        self.metastack.append(self.stack)
        self.stack = []

    def proto(self) -> None:
        if self.read(1)[0] > HIGHEST_PROTOCOL:
            raise Reject("an unsupported protocol")

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
            raise Reject("OBJ with no class")
        self.stack.append(ANY)

    def memoize(self) -> None:
        self.need(1)
        value = self.stack[-1]
        self.memo[len(self.memo)] = value
        if self.shared is not None:
            self.shared[len(self.shared)] = value
        if len(self.memo) > MAX_MEMO:
            raise Undecodable(f"more than {MAX_MEMO} memo entries")

    def table(self) -> dict[int, Callable[[], None]]:
        """Every opcode of protocols 0-5, by byte."""
        s = self
        table: dict[int, Callable[[], None]] = {}
        for ops, handler in (
            (b"N\x88\x89)]}\x8f", partial(s.replace, 0, OTHER)),  # constants, empty containers
            (b"\x97", partial(s.replace, 0, ANY)),  # NEXT_BUFFER: from the loader's buffers
            (b"\x98", partial(s.need, 1)),  # READONLY_BUFFER
            (b"tl\x91", partial(s.marked, OTHER)),  # TUPLE, LIST, FROZENSET
            (b"e\x90", partial(s.marked, None)),  # APPENDS, ADDITEMS: into the value below
            (b"ab", partial(s.drop, 1)),  # APPEND, BUILD
            (b"s", partial(s.drop, 2)),  # SETITEM
            (b"R\x81", partial(s.replace, 2, ANY)),  # REDUCE, NEWOBJ
            (b"\x92", partial(s.replace, 3, ANY)),  # NEWOBJ_EX
            (b"Q", partial(s.replace, 1, ANY)),  # BINPERSID: resolved by the loader
        ):
            table.update(dict.fromkeys(ops, handler))
        for op, size in ((b"J", 4), (b"K", 1), (b"M", 2), (b"G", 8)):
            table[op[0]] = partial(s.skip_push, size, 0)
        for op, width in ((b"\x8a", 1), (b"B", 4), (b"C", 1), (b"\x8e", 8), (b"\x96", 8)):
            table[op[0]] = partial(s.skip_push, 0, width)
        by_width: dict[Callable[[int], None], tuple[tuple[bytes, int], ...]] = {
            s.push_text_of: ((b"T", 4), (b"U", 1)),  # 8-bit strings
            s.push_unicode_of: ((b"X", 4), (b"\x8c", 1), (b"\x8d", 8)),
            s.memo_put_of: ((b"q", 1), (b"r", 4)),
            s.memo_get_of: ((b"h", 1), (b"j", 4)),
            s.ext: ((b"\x82", 1), (b"\x83", 2), (b"\x84", 4)),
        }
        for reader, widths in by_width.items():  # a width-byte length or index argument
            for op, width in widths:
                table[op[0]] = partial(reader, width)
        table.update(
            {
                0x80: s.proto,
                0x95: s.frame,
                ord("("): s.mark,
                ord("0"): s.pop,
                ord("1"): partial(s.marked, None, need=0),
                ord("2"): s.dup,
                ord("I"): partial(s.text_number, int_literal_ok),
                ord("L"): partial(s.text_number, long_literal_ok),
                ord("F"): partial(s.text_number, float_literal_ok),
                0x8B: s.long4,
                ord("S"): s.string,
                ord("V"): s.unicode,
                0x85: partial(s.replace, 1, OTHER),
                0x86: partial(s.replace, 2, OTHER),
                0x87: partial(s.replace, 3, OTHER),
                ord("d"): s.dict_,
                ord("u"): s.setitems,
                ord("o"): s.obj,
                ord("i"): s.inst,
                ord("c"): s.global_,
                0x93: s.stack_global,
                ord("P"): s.persid,
                ord("p"): lambda: s.put(memo_index(s.line())),
                0x94: s.memoize,
                ord("g"): lambda: s.memo_get(memo_index(s.line())),
            }
        )
        return table

    def skip_push(self, size: int, width: int) -> None:
        """An argument of ``size`` bytes, or of a ``width``-byte length, then a value pushed."""
        self.skip(size or self.uint(width))
        self.stack.append(OTHER)

    def push_text_of(self, width: int) -> None:
        self.push_text(self.read(self.uint(width)))

    def push_unicode_of(self, width: int) -> None:
        self.push_unicode(self.uint(width))

    def memo_put_of(self, width: int) -> None:
        self.memo_put(self.uint(width))

    def memo_get_of(self, width: int) -> None:
        self.memo_get(self.uint(width))

    def marked(self, pushed: object, need: int = 1) -> None:
        """Pop to the MARK; push ``pushed``, or (``None``) add the items to the value below."""
        self.pop_mark()
        if pushed is None:
            self.need(need)
        else:
            self.stack.append(pushed)

    def dup(self) -> None:
        self.need(1)
        self.stack.append(self.stack[-1])

    def long4(self) -> None:
        size = int.from_bytes(self.read(4), "little", signed=True)
        if size < 0:
            raise Reject("LONG4 with a negative size")
        self.skip(size)
        self.stack.append(OTHER)

    def persid(self) -> None:
        data = self.line()
        if data is not None and not data.isascii():
            raise Reject("a persistent ID that is not ASCII")
        self.stack.append(ANY)

    def put(self, index: int) -> None:
        if index < 0:
            raise Reject("a negative PUT index")
        self.memo_put(index)

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> Decoded:
        table = self.table()
        blob, end = self.blob, self.end
        try:
            if self.budget.ops <= 0:
                raise Undecodable(f"more than {MAX_OPS} opcodes in one file")
            while True:
                if self.pos >= end:
                    raise Reject("the pickle ends before STOP")
                op = blob[self.pos]
                self.pos += 1
                self.ops += 1
                if op == 0x2E:  # STOP
                    self.need(1)
                    if self.frame_end > self.pos and self.pos < end:
                        raise Undecodable("data after STOP inside its frame")
                    if self.ext_codes:
                        raise Undecodable(f"extension code {self.ext_codes[0]} names a global")
                    return Decoded("stop", self.pos, tuple(self.imports))
                handler = table.get(op)
                if handler is None:
                    raise Reject(f"invalid opcode 0x{op:02x}")
                handler()
                if not self.ops & 0xFFFF:
                    if self._size() > MAX_STACK:
                        raise Undecodable(f"more than {MAX_STACK} values on the stack")
                    if self.ops > self.budget.ops:
                        raise Undecodable(f"more than {MAX_OPS} opcodes in one file")
        except Reject as exc:
            return Decoded("reject", self.pos, tuple(self.imports), f"{exc} at byte {self.pos}")
        except Undecodable as exc:
            return Decoded(
                "undecodable", self.pos, tuple(self.imports), f"{exc} at byte {self.pos}"
            )

    def _size(self) -> int:
        return len(self.stack) + sum(map(len, self.metastack))


def decode_stream(
    blob: Blob, start: int, end: int, most: int = 1 << 30, budget: Budget | None = None
) -> list[Decoded]:
    """Decode consecutive pickles from ``start`` until one does not reach STOP, the data ends,
    or ``most`` have been decoded.

    Each element but the last is a ``stop``; the last may be anything. A loader may reuse one
    unpickler (memo carried over) or not; both are followed.
    """
    results: list[Decoded] = []
    earlier: dict[int, object] | None = None
    budget = Budget() if budget is None else budget
    pos = start
    while pos < end and len(results) < most:
        decoder = _Decoder(blob, pos, end, earlier, budget)
        found = decoder.run()
        budget.ops -= decoder.ops
        results.append(found)
        if found.outcome != "stop":
            break
        earlier = decoder.shared if decoder.shared is not None else decoder.memo
        pos = found.end
    return results
