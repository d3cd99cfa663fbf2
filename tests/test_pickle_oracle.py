"""The differential oracle of the pickle scanner (issue 12, acceptance item 2).

Ground truth is what CPython's own unpicklers do: a tracing subclass of ``pickle.Unpickler`` (the
C ``_pickle`` one) and of ``pickle._Unpickler`` (the pure-Python one) whose ``find_class``
records ``(module, name)`` and returns an inert stand-in, and whose ``persistent_load`` records
and does the same. Nothing is imported. Hypothesis generates opcode streams (every protocol, odd
literal syntaxes, memo tricks, ``STACK_GLOBAL`` from memoised strings, ``INST``/``OBJ``/``NEWOBJ``/
``REDUCE``/``BUILD``, ``copyreg`` paths, frames, truncation, byte mutations, several pickles
back to back); for every stream the scanner must report each global any tracer saw, or report the
stream as undecodable. Zero misses.
"""

from __future__ import annotations

import collections
import contextlib
import io
import pickle
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_ci.scan.pickle_vm import decode_stream
from mlops_ci.scan.pickles import PickleScan, scan_blob

EXAMPLES = int(__import__("os").environ.get("ORACLE_EXAMPLES", "10000"))


class _Inert:
    """What a traced ``find_class`` returns: a class whose instances swallow every operation."""

    def __new__(cls, *args: object, **kwargs: object) -> _Inert:
        return object.__new__(cls)

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __call__(self, *args: object, **kwargs: object) -> _Inert:
        return _Inert()

    def __setstate__(self, state: object) -> None:
        pass

    def __setitem__(self, key: object, value: object) -> None:
        pass

    def append(self, item: object) -> None:
        pass

    def extend(self, items: object) -> None:
        pass

    def add(self, item: object) -> None:
        pass


def _tracer(base: type[pickle.Unpickler]) -> type[pickle.Unpickler]:
    class Tracer(base):  # type: ignore[valid-type,misc]
        seen: list[tuple[str, str]]

        def find_class(self, module: str, name: str) -> object:
            self.seen.append((module, name))
            return _Inert

        def persistent_load(self, pid: object) -> object:
            return _Inert()

    return Tracer


C_TRACER = _tracer(pickle.Unpickler)
PY_TRACER = _tracer(pickle._Unpickler)  # type: ignore[attr-defined]


def _load_all(
    data: bytes, tracer: type[pickle.Unpickler], shared: bool, peek: bool = False, **kwargs: object
) -> set[tuple[str, str]]:
    """Every global ``tracer`` imports loading consecutive pickles from ``data`` until one fails
    (a fresh unpickler per pickle, or one ``shared`` unpickler whose memo carries over; from a
    file with ``peek``, which the C unpickler reads ahead from, or without)."""
    seen: list[tuple[str, str]] = []
    stream: io.BytesIO | io.BufferedReader = io.BytesIO(data)
    if peek:
        stream = io.BufferedReader(stream)  # type: ignore[arg-type]
    unpickler = None
    for _ in range(100):
        if stream.tell() >= len(data):
            break
        if unpickler is None or not shared:
            unpickler = tracer(stream, buffers=iter([b"b"] * 4), **kwargs)  # type: ignore[call-arg]
            unpickler.seen = seen  # type: ignore[attr-defined]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                unpickler.load()
        except Exception:  # any failure ends the load, as it would for a loader
            break
    return set(seen)


@contextlib.contextmanager
def _memory_cap(extra: int = 256 << 20) -> Iterator[None]:
    """Cap the address space near its current size: a generated length field of gigabytes makes
    the loaders allocate (and zero) that much before they find the data is short."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        size = int(Path("/proc/self/statm").read_text().split()[0]) * resource.getpagesize()
    except (ImportError, OSError, ValueError):
        yield
        return
    resource.setrlimit(resource.RLIMIT_AS, (size + extra, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def traced(data: bytes) -> set[tuple[str, str]]:
    """What any of the loaders would import from ``data``."""
    previous = sys.unraisablehook
    # A BYTEARRAY8 the C loader fails to fill can be freed while a buffer of it is exported:
    # CPython reports that as "unraisable"; it says nothing about imports.
    sys.unraisablehook = lambda unraisable: None
    try:
        with _memory_cap():
            return _traced(data)
    finally:
        sys.unraisablehook = previous


def _traced(data: bytes) -> set[tuple[str, str]]:
    return (
        _load_all(data, C_TRACER, shared=False)
        | _load_all(data, PY_TRACER, shared=False)
        | _load_all(data, C_TRACER, shared=True)
        | _load_all(data, PY_TRACER, shared=True, encoding="latin1")
        | _load_all(data, C_TRACER, shared=False, peek=True)
    )


def assert_no_miss(data: bytes) -> None:
    """The scanner names every traced global, or says the stream is undecodable.

    Stricter than the verdicts need: where the decoder says every loader fails (``reject``), it
    must still have named every global the loaders imported before failing; only what it cannot
    know (``undecodable``) is exempt. The verdict layer is then checked on the same bytes.
    """
    seen = traced(data)
    decoded = decode_stream(data, 0, len(data))
    if not decoded or decoded[-1].outcome != "undecodable":
        missed = seen - {pair for d in decoded for pair in d.imports}
        assert not missed, f"missed {missed} in {data!r}"
    for claimed in (True, False):
        scan = scan_blob(data, claimed=claimed)
        if scan is None:  # not a pickle: nothing a loader reads from it can import anything
            importable = {(m, n) for m, n in seen if "\0" not in m}  # no path holds a NUL
            assert not claimed and not importable, f"not a pickle, yet imports {seen}: {data!r}"
        elif scan.error is None:
            assert seen <= set(scan.names), f"missed {seen - set(scan.names)} in {data!r}"


# -- the generator ------------------------------------------------------------------------------

NAMES = [
    "os", "system", "posix", "builtins", "eval", "__builtin__", "collections", "OrderedDict",
    "copy_reg", "_reconstructor", "copyreg", "numpy", "dtype", "x.y", "os.path", "é", "",
    "subprocess", "Popen", "pydoc", "pipepager", "o\x00s",
]  # fmt: skip
INT_LITERALS = [
    b"0x1", b"+1", b" 1", b"01", b"00", b"1_0", b"010", b"1\x00z", b"-0", b"0o7", b"0b1", b"7",
    b"9" * 25, b"x", b"", b"1 ", b"0X1f", b"1\t", b"\xff",
]  # fmt: skip
LONG_LITERALS = [b"1L", b"1", b"0x1L", b"L", b"1_0L", b"-5L", b"1\x00L", b" 2L"]
FLOAT_LITERALS = [b"1.5", b"1_0", b" 1", b"inf", b"nan", b"1e999", b"1.5\x00x", b"x", b"-0.0"]
INDEX_LITERALS = [b"0", b"1", b" 1", b"1\x00z", b"-1", b"01", b"1_0", b"2 ", b"x", b"3"]


def _string_ops(text: str) -> list[bytes]:
    raw = text.encode("utf-8")
    short = raw[:255]
    return [
        b"\x8c" + bytes([len(short)]) + short,
        b"X" + len(raw).to_bytes(4, "little") + raw,
        b"\x8d" + len(raw).to_bytes(8, "little") + raw,
        b"V" + text.encode("raw-unicode-escape") + b"\n",
        b"S'" + raw + b"'\n",
        b'S"' + raw + b'"\n',
        b"S'" + raw + b'"\n',
        b"S'" + raw.replace(b"o", b"\\x6f") + b"'\n",
        b"U" + bytes([len(short)]) + short,
        b"T" + len(raw).to_bytes(4, "little") + raw,
    ]


@st.composite
def opcode(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 15))
    if kind <= 3:
        return draw(st.sampled_from(_string_ops(draw(st.sampled_from(NAMES)))))
    if kind == 4:
        module, name = draw(st.sampled_from(NAMES)), draw(st.sampled_from(NAMES))
        op = draw(st.sampled_from([b"c", b"i"]))
        return op + module.encode() + b"\n" + name.encode() + b"\n"
    if kind == 5:
        op, literals = draw(
            st.sampled_from([(b"I", INT_LITERALS), (b"L", LONG_LITERALS), (b"F", FLOAT_LITERALS)])
        )
        return op + draw(st.sampled_from(literals)) + b"\n"
    if kind == 6:
        op = draw(st.sampled_from([b"p", b"g"]))
        return op + draw(st.sampled_from(INDEX_LITERALS)) + b"\n"
    if kind == 7:
        index = draw(st.integers(0, 4))
        return draw(
            st.sampled_from(
                [
                    b"q" + bytes([index]),
                    b"h" + bytes([index]),
                    b"r" + index.to_bytes(4, "little"),
                    b"j" + index.to_bytes(4, "little"),
                    b"\x94",
                ]
            )
        )
    if kind == 8:
        return b"\x80" + bytes([draw(st.integers(0, 6))])
    if kind == 9:
        size = draw(st.integers(0, 40))
        return b"\x95" + size.to_bytes(8, "little")
    if kind == 10:
        payload = draw(st.binary(max_size=8))
        return draw(
            st.sampled_from(
                [
                    b"C" + bytes([len(payload)]) + payload,
                    b"B" + len(payload).to_bytes(4, "little") + payload,
                    b"\x8e" + len(payload).to_bytes(8, "little") + payload,
                    b"\x96" + len(payload).to_bytes(8, "little") + payload,
                    b"\x8a" + bytes([len(payload)]) + payload,
                    b"\x8b" + len(payload).to_bytes(4, "little") + payload,
                    b"J\x01\x00\x00\x00",
                    b"K\x05",
                    b"M\x01\x02",
                    b"G" + bytes(8),
                ]
            )
        )
    if kind == 11:
        return draw(st.sampled_from([b"\x82\x01", b"\x83\x01\x00", b"\x84\x01\x00\x00\x00"]))
    if kind == 12:
        return draw(st.sampled_from([b"P1\n", b"Pstorage\n", b"Q", b"\x97", b"\x98"]))
    if kind == 13:
        return draw(st.binary(min_size=1, max_size=3))
    # stack and structure opcodes, most often
    return draw(
        st.sampled_from(
            list(b"().012NtlduaesbR\x81\x92o\x93\x85\x86\x87\x88\x89)]}\x8f\x90\x91")
        ).map(lambda op: bytes([op]))
    )


def _seed_pickles() -> list[bytes]:
    class Node:
        pass

    objects: list[object] = [
        collections.OrderedDict(a=[1, 2]),
        {"k": ("v", 1.5, None, True)},
        np.arange(3.0),
        {1, 2},
        frozenset({3}),
        Path("/x"),
        bytearray(b"ab"),
    ]
    seeds = [pickle.dumps(o, protocol=p) for o in objects for p in range(6)]
    seeds += [
        b"I0x1\n0cos\nsystem\n(S'touch X'\ntR.",
        b"\x80\x04\x8c\x02os\x94\x8c\x06system\x94\x93.",
    ]
    seeds += [b"(S'os'\np0\nS'system'\np1\ng0\ng1\n\x93."]
    del Node
    return seeds


SEEDS = _seed_pickles()


@st.composite
def streams(draw: st.DrawFn) -> bytes:
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            body = draw(st.sampled_from(SEEDS))
        else:
            body = b"".join(draw(st.lists(opcode(), max_size=14))) + draw(
                st.sampled_from([b".", b".", b""])
            )
        parts.append(body)
    data = bytearray(b"".join(parts))
    for _ in range(draw(st.integers(0, 2))):  # mutations
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()) and data:  # truncation
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(streams())
def test_scanner_reports_every_global_the_unpicklers_import(data: bytes) -> None:
    """For every generated stream: every traced global reported, or the stream undecodable."""
    assert_no_miss(data)


def test_the_oracle_sees_what_loading_imports() -> None:
    """The tracer is ground truth: it records the imports of the issue's protocol-0 payload."""
    payload = b"I0x1\n0cos\nsystem\n(S'touch X'\ntR."
    assert traced(payload) == {("os", "system")}
    assert_no_miss(payload)
    scan = scan_blob(payload, claimed=False)
    assert isinstance(scan, PickleScan) and scan.unsafe == ("os.system",)


def test_benign_allowlisted_streams_pass() -> None:
    """The other direction: ordinary pickles of allowlisted types decode fully, with no finding."""
    for protocol in range(6):
        for obj in (collections.OrderedDict(w=[1.0]), np.ones((2, 2)), {"a": {1}, "b": b"x"}):
            data = pickle.dumps(obj, protocol=protocol)
            scan = scan_blob(data, claimed=True)
            assert scan is not None and scan.error is None, (protocol, scan)
            assert scan.unsafe == () and scan.unknown == (), (protocol, scan)
