"""The one error family: everything a user can fix is an :class:`MlopsCiError`.

Each error carries a one-line message and, where known, the file location it is about. The CLI
prints ``str(error)`` as a single line on stderr and exits with :attr:`MlopsCiError.exit_code`.
"""

from __future__ import annotations

from mlops_ci.findings import Location
from mlops_ci.scrub import scrub_line

# A place in a user's file is the same thing as a finding's location (path, 1-based line, column).
SourcePosition = Location


class MlopsCiError(Exception):
    """An error the user can fix: bad input, bad configuration, a missing file.

    The message must be one sentence that says what is wrong and what to do; it must never contain
    secrets. ``position`` names the file (and line) the error is about.
    """

    exit_code = 2
    label = "error"

    def __init__(self, message: str, position: SourcePosition | None = None) -> None:
        # No secret in any message, whoever built it.
        self.message = scrub_line(" ".join(message.split()))
        super().__init__(self.message)
        self.position = position

    def __str__(self) -> str:
        if self.position is None:
            return self.message
        return f"{self.position}: {self.message}"


class ConfigError(MlopsCiError):
    """The configuration file is missing, unparsable or invalid."""


class InputError(MlopsCiError):
    """A file the user gave (model card, model, requirements, policy) cannot be used."""


class UsageError(MlopsCiError):
    """The command line asks for something impossible (unknown check, unknown model, bad flag)."""
