"""Per-run memos: each model file is parsed once and hashed once per ``check`` (issue 16), and
each card and policy pack text is validated and compiled once.

A memo is active only inside :func:`run_scope` (``pipeline.run_check`` opens one around the
gates), so nothing outlives a run: a second run in the same process, after the file changed,
computes afresh. Entries are keyed by the file's path and its ``stat`` identity (size,
``mtime_ns``, inode, device); a value is stored only when the identity is the same before and
after it was computed, so a file rewritten during the run is never served stale. Outside a
scope every call computes (no caching at all).

Thread-safe: the checks of one run work in parallel threads. Concurrent callers of the same key
wait for the first one instead of parsing or hashing the same bytes twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Callable, Hashable, Iterator
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

StatKey = tuple[int, int, int, int]

MemoKey = tuple[str, str, object]


class _State:
    """The memo of the open run scopes (one per process)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0  # nested or concurrent scopes share one memo, cleared when the last ends
        self.entries: dict[MemoKey, object] = {}
        self.pending: dict[MemoKey, threading.Lock] = {}


_STATE = _State()


def stat_key(info: os.stat_result) -> StatKey:
    """The identity of a file's content as far as ``stat`` can tell."""
    return (info.st_size, info.st_mtime_ns, info.st_ino, info.st_dev)


@contextlib.contextmanager
def run_scope() -> Iterator[None]:
    """Memoise parses and digests until the outermost scope ends."""
    with _STATE.lock:
        _STATE.depth += 1
    try:
        yield
    finally:
        with _STATE.lock:
            _STATE.depth -= 1
            if _STATE.depth == 0:
                _STATE.entries.clear()
                _STATE.pending.clear()


def active() -> bool:
    """Whether a run scope is open (memoised values are kept)."""
    return _STATE.depth > 0


def memoised(kind: str, path: Path, compute: Callable[[], tuple[T, StatKey | None]]) -> T:
    """``compute()``'s value for ``path`` (a file), once per run and stat identity.

    ``compute`` returns the value and the stat identity of the bytes it read (None: do not
    keep it, e.g. the file changed while it was read). Exceptions are not memoised.
    """
    try:
        before = stat_key(path.stat())
    except OSError:
        return compute()[0]  # the caller's own error handling sees the missing file
    if not active():
        return compute()[0]
    return _once((kind, os.fspath(path), before), lambda: _kept_if(compute(), before))


def memoised_text(kind: str, text: str, variant: Hashable, compute: Callable[[], T]) -> T:
    """``compute()``'s value for the text ``text`` (and ``variant``), once per run.

    For what is a pure function of text already read: a card's front matter, a policy pack.
    Keyed by the text's SHA-256, so the same bytes read by three checks are parsed once and a
    changed file is a new key. The value is shared by every caller (and thread) of the run:
    it must be immutable or never modified. Exceptions are not memoised.
    """
    if not active():
        return compute()
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return _once((kind, digest, variant), lambda: (compute(), True))


def _kept_if(result: tuple[T, StatKey | None], before: StatKey) -> tuple[T, bool]:
    """The value, and whether it may be kept: the bytes it read were the bytes ``before``."""
    value, identity = result
    return value, identity == before


def _once(key: MemoKey, compute: Callable[[], tuple[T, bool]]) -> T:
    """The memoised value of ``key``; concurrent callers of one key wait for the first."""
    with _STATE.lock:
        if key in _STATE.entries:
            return _STATE.entries[key]  # type: ignore[return-value]
        gate = _STATE.pending.setdefault(key, threading.Lock())
    with gate:  # a second caller of the same key waits for the first one's value
        with _STATE.lock:
            if key in _STATE.entries:
                return _STATE.entries[key]  # type: ignore[return-value]
        value, keep = compute()
        if keep:
            with _STATE.lock:
                if _STATE.depth > 0:
                    _STATE.entries[key] = value
        return value


def seed(kind: str, path: Path, identity: StatKey, value: object) -> None:
    """Keep ``value`` for ``path`` when a run is open and the file still has ``identity``
    (the identity seen before the value was computed elsewhere)."""
    try:
        current = stat_key(path.stat())
    except OSError:
        return
    if current != identity:
        return
    with _STATE.lock:
        if _STATE.depth > 0:
            _STATE.entries[(kind, os.fspath(path), identity)] = value
