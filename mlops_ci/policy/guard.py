"""The hard runtime guard: run one evaluation in a forked child, with a deadline and a memory cap.

The ``cel`` package evaluates in Rust and holds the GIL throughout (measured: a watchdog thread
got 2 of ~60 wake-ups during a 65 ms evaluation), so no Python timer, signal handler or thread
can interrupt it. A child process can be killed. Only rules the static estimate of
:mod:`mlops_ci.policy.celcost` cannot prove cheap come here; fork costs ~1-5 ms, so the normal
path (every rule cheap) never pays it.
"""

from __future__ import annotations

import json
import os
import select
import signal
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

# Python 3.12+ warns that fork() in a threaded process may deadlock the child: the child here runs
# only the evaluator (Rust), json and os.write, none of which takes a lock another thread may hold.
warnings.filterwarnings(
    "ignore", message=r".*fork\(\) may lead to deadlocks", category=DeprecationWarning
)

MEMORY_HEADROOM = 1 << 30  # the child may allocate 1 GiB beyond what the parent has mapped
_MAX_REPLY = 1 << 20


@dataclass(frozen=True)
class Guarded:
    """What a guarded call came to: its JSON value, a timeout, or a crash (with a reason)."""

    status: Literal["ok", "timeout", "crashed", "unavailable"]
    value: Any = None
    reason: str = ""


def fork_available() -> bool:
    """Whether this platform can run the guard (POSIX ``fork``)."""
    return hasattr(os, "fork")


def run_guarded(call: Callable[[], Any], timeout_s: float) -> Guarded:
    """``call()`` in a forked child; its JSON-serialisable value, or why there is none."""
    if not fork_available():
        return Guarded("unavailable", reason="this platform cannot fork")
    try:
        read_end, write_end = os.pipe()
    except OSError as exc:
        return Guarded("unavailable", reason=f"cannot start the evaluator ({exc.strerror})")
    try:
        pid = os.fork()
    except OSError as exc:  # out of processes or memory: fail closed, never unguarded
        os.close(read_end)
        os.close(write_end)
        return Guarded("unavailable", reason=f"cannot start the evaluator ({exc.strerror})")
    if pid == 0:  # pragma: no cover - the child; its outcome is asserted through the parent
        _child(call, read_end, write_end)
    os.close(write_end)
    try:
        reply = _collect(read_end, pid, timeout_s)
    finally:
        os.close(read_end)
    if reply is None:
        return Guarded("timeout", reason=f"over the {timeout_s:g} s limit")
    _pid, status = os.waitpid(pid, 0)
    if not reply:
        code = os.waitstatus_to_exitcode(status)
        return Guarded("crashed", reason=f"the evaluator stopped (exit {code})")
    try:
        kind, value = json.loads(reply)
    except ValueError:
        return Guarded("crashed", reason="the evaluator's reply was unreadable")
    return Guarded("ok", value) if kind == "ok" else Guarded("crashed", reason=str(value))


def _collect(read_end: int, pid: int, timeout_s: float) -> bytes | None:
    """The child's reply, or None after killing it at the deadline."""
    deadline = time.monotonic() + timeout_s
    chunks: list[bytes] = []
    received = 0
    while True:
        remaining = deadline - time.monotonic()
        ready = select.select([read_end], [], [], max(remaining, 0))[0] if remaining > 0 else []
        if not ready:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
        chunk = os.read(read_end, 65536)
        if not chunk:
            return b"".join(chunks)
        received += len(chunk)
        if received <= _MAX_REPLY:
            chunks.append(chunk)


def _child(call: Callable[[], Any], read_end: int, write_end: int) -> None:  # pragma: no cover
    code = 0
    try:
        os.close(read_end)
        _cap_memory()
        try:
            payload = ["ok", call()]
        except BaseException as exc:  # the child reports everything; the parent decides
            payload = ["error", f"{type(exc).__name__}: {str(exc)[:200]}"]
        data = json.dumps(payload, default=str).encode()
        view = memoryview(data)
        while view:
            view = view[os.write(write_end, view) :]
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _cap_memory() -> None:  # pragma: no cover - runs in the child
    """Limit the child's address space to what it has now plus :data:`MEMORY_HEADROOM`."""
    try:
        import resource

        statm = Path("/proc/self/statm").read_text()
        mapped = int(statm.split()[0]) * os.sysconf("SC_PAGE_SIZE")
        limit = mapped + MEMORY_HEADROOM
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (OSError, ValueError, ImportError):
        pass  # no /proc (macOS): the deadline still bounds the child
