"""A one-line transfer progress display on a terminal's stderr (nothing at all elsewhere)."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

MIB = 1 << 20


class TransferProgress:
    """Counts bytes moved by several threads and redraws ``verb  N / TOTAL MiB`` at most five
    times a second; :meth:`close` ends the line. Build it with :func:`terminal_progress`."""

    def __init__(self, verb: str, total: int, stream: TextIO) -> None:
        self._verb, self._total, self._stream = verb, total, stream
        self._done, self._drawn = 0, 0.0
        self._lock = threading.Lock()

    def __call__(self, amount: int) -> None:
        """Record ``amount`` more bytes moved."""
        with self._lock:
            self._done += amount
            now = time.monotonic()
            if now - self._drawn >= 0.2:
                self._drawn = now
                self._draw()

    def _draw(self) -> None:
        total = max(self._total, self._done)
        self._stream.write(f"\r{self._verb}  {self._done / MIB:,.0f} / {total / MIB:,.0f} MiB")
        self._stream.flush()

    def close(self) -> None:
        """Draw the final count and end the line."""
        with self._lock:
            if self._drawn:
                self._draw()
                self._stream.write("\n")
                self._stream.flush()


def terminal_progress(
    verb: str, total: int, stream: TextIO | None = None
) -> TransferProgress | None:
    """A progress display when ``stream`` (default stderr) is a terminal, else None."""
    stream = stream or sys.stderr
    return TransferProgress(verb, total, stream) if stream.isatty() else None
