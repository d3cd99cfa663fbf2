"""The live view: the checks running and finished, redrawn in place on a terminal (stderr).

Standard output keeps the report (the text summary, or the format asked for); the view is
drawn on standard error, and only where the cursor may move (:func:`live_enabled`). Its last
frame stays on screen: every check that ran, finished, with its status and duration. Anywhere
else the view does nothing: no cursor tricks in pipes or CI logs.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

from mlops_ci.findings import CheckResult
from mlops_ci.formats.common import duration
from mlops_ci.formats.text import clean
from mlops_ci.terminal.console import color_enabled, live_enabled

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
MARKS = {"passed": "✔", "failed": "✘", "errored": "!", "skipped": "-"}
STYLES = {"passed": "green", "failed": "red", "errored": "magenta", "skipped": "yellow"}


class LiveView:
    """Rows of checks, keyed by (check, model), in the order they started.

    ``started`` and ``finished`` are the runner's ``on_start``/``on_result`` callbacks: called
    from worker threads, so they only update the rows under a lock; rich's refresh thread
    draws them.
    """

    def __init__(self, title: str = "mlops-ci") -> None:
        self.title = title
        self._lock = threading.Lock()
        self._rows: dict[tuple[str, str | None], tuple[float, CheckResult | None]] = {}

    def started(self, check: str, model: str | None) -> None:
        """A check began on a model (or the repository)."""
        with self._lock:
            self._rows[(check, model)] = (time.monotonic(), None)

    def finished(self, result: CheckResult) -> None:
        """A check ended; a result never announced as started is added as finished."""
        with self._lock:
            began, _ = self._rows.get((result.check, result.model), (time.monotonic(), None))
            self._rows[(result.check, result.model)] = (began, result)

    def lines(self, now: float | None = None) -> list[tuple[str, str]]:
        """The frame as (text, style) lines: a header, then one line per check."""
        now = time.monotonic() if now is None else now
        with self._lock:
            rows = list(self._rows.items())
        if not rows:
            return []
        done = sum(1 for _, (_, result) in rows if result is not None)
        lines = [(f"{self.title}: {done} of {len(rows)} checks finished", "bold")]
        frame = SPINNER[int(now * 8) % len(SPINNER)]
        for (check, model), (began, result) in rows:
            name = clean(check) + (f" [{clean(model)}]" if model else "")
            if result is None:
                lines.append((f"  {frame} running  {name}  {duration(now - began)}", "cyan"))
            else:
                mark = MARKS.get(result.status, "?")
                text = f"  {mark} {result.status:<8} {name}  {duration(result.duration_s)}"
                lines.append((text, STYLES.get(result.status, "")))
        return lines

    def __rich__(self) -> Any:
        from rich.text import Text

        text = Text(no_wrap=True, overflow="ellipsis")
        for i, (line, style) in enumerate(self.lines()):
            text.append(("\n" if i else "") + line, style=style)
        return text


class _Quiet(LiveView):
    """The view where none is drawn: the callbacks cost a dict update."""


@contextlib.contextmanager
def live_view(
    stream: Any = None, *, enabled: bool = True, no_color: bool = False, title: str = "mlops-ci"
) -> Iterator[LiveView]:
    """A :class:`LiveView` drawn on ``stream`` (default ``sys.stderr``) while the block runs,
    when ``enabled`` and the stream is a terminal that is not dumb; a silent one otherwise."""
    import sys

    stream = sys.stderr if stream is None else stream
    if not enabled or not live_enabled(stream):
        yield _Quiet(title)
        return
    from rich.console import Console
    from rich.live import Live

    view = LiveView(title)
    console = Console(
        file=stream,
        force_terminal=True,
        no_color=not color_enabled(stream, no_color=no_color),
        markup=False,
        emoji=False,
        highlight=False,
    )
    live = Live(
        view,
        console=console,
        refresh_per_second=8,
        transient=False,
        redirect_stdout=False,
        redirect_stderr=False,
    )
    with live:
        yield view
        live.refresh()
