"""Controls: unchanged demo inputs pass, so the harness itself is shown to let good input through."""

from __future__ import annotations

from pathlib import Path

from tests.corpus import Case


def _nothing(repo: Path, outside: Path) -> None:
    """Leave the demo as it is."""


CASES = [
    Case("control-check-card", "card", _nothing, ("check", "--only", "card"), 0, reports=True),
    Case("control-verify", "bundle", _nothing, ("verify",), 0),
]
