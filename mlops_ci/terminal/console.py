"""When colour and cursor movement are welcome, and the coloured text summary.

The rules (no-color.org, and what CI logs render):

- ``--no-color`` or a non-empty ``NO_COLOR``: never colour;
- ``TERM=dumb``: no colour and no cursor movement;
- a terminal (``isatty``): colour and a live view;
- not a terminal but ``GITHUB_ACTIONS`` or ``GITLAB_CI`` set: colour (their logs render ANSI),
  never cursor movement;
- anything else (a pipe, a file): plain text.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

CI_VARIABLES = ("GITHUB_ACTIONS", "GITLAB_CI")

# Styles of the summary's parts, by the pattern that finds them in the plain text.
_VERDICT_STYLES = {"PASS": "bold green", "FAIL": "bold red", "ERROR": "bold magenta"}
_STATUS_STYLES = {"passed": "green", "failed": "red", "errored": "magenta", "skipped": "yellow"}
_SEVERITY_STYLES = {
    "CRITICAL": "bold magenta",
    "HIGH": "bold red",
    "MEDIUM": "yellow",
    "LOW": "cyan",
    "INFO": "blue",
}


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # a closed or odd stream is no terminal
        return False


def color_enabled(
    stream: Any, *, no_color: bool = False, environ: Mapping[str, str] | None = None
) -> bool:
    """Whether text written to ``stream`` may carry ANSI colour (see the module's rules)."""
    env = os.environ if environ is None else environ
    if no_color or env.get("NO_COLOR", "") or env.get("TERM") == "dumb":
        return False
    return _isatty(stream) or any(env.get(name) for name in CI_VARIABLES)


def live_enabled(stream: Any, environ: Mapping[str, str] | None = None) -> bool:
    """Whether a live view may move the cursor on ``stream``: a terminal that is not dumb."""
    env = os.environ if environ is None else environ
    return _isatty(stream) and env.get("TERM") != "dumb"


def colorize(text: str) -> str:
    """The plain text summary with ANSI colours on the verdict, statuses and severities.

    The text itself is unchanged (rich markup is off: a ``[red]`` in a model name stays text);
    only SGR colour sequences are added, never cursor movement.
    """
    import io

    from rich.console import Console
    from rich.text import Text

    styled = Text(text)
    for word, style in _VERDICT_STYLES.items():
        styled.highlight_regex(rf"\Amlops-ci: {word}\b", style)
    for word, style in _STATUS_STYLES.items():
        styled.highlight_regex(rf"(?m)(?<=  ){word}(?=  |$)", style)
    for word, style in _SEVERITY_STYLES.items():
        styled.highlight_regex(rf"(?m)^  {word}\b", style)
    styled.highlight_regex(r"(?m)^Blocking findings \(\d+\)$", "bold red")
    styled.highlight_regex(r"(?m)^(Other findings|Errors and skipped checks).*$", "bold")
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        force_terminal=True,
        color_system="standard",
        width=100_000,
        soft_wrap=True,
        markup=False,
        emoji=False,
        highlight=False,
        legacy_windows=False,
    )
    console.print(styled, end="")
    return buffer.getvalue()
