"""The bad-input and forgery corpus (issue 12): every input a pull-request author controls.

Each module in this package holds ``CASES: list[Case]`` for one area. ``tests/test_corpus.py``
runs every case on a fresh copy of the demo repository, with marker values planted in every CI
token variable and in a file outside the repository, and asserts for each one: the expected exit
code, no traceback, no exit 3, no hang (30 s), the named rule in the output when one is given, and
no marker in standard output, standard error or any file the command wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# The kinds of input the corpus must cover (tests/test_corpus.py checks every one has cases).
KINDS = (
    "config",
    "card",
    "pack",
    "waiver",
    "requirements",
    "onnx",
    "pickle",
    "state",
    "bundle",
    "cli",
    "path",
    "forgery",
)

# What the harness plants: every value contains this, so one search finds any of them.
MARKER = "mlopsci-leak-marker"


@dataclass(frozen=True)
class Case:
    """One hostile input and what mlops-ci must answer.

    ``setup(repo, outside)`` changes ``repo``, a fresh copy of what ``mlops-ci demo`` leaves (the
    model signed, checked with ``reports/mlops-ci.json``, attested, and promoted to dev and staging
    through its bare origin at ``.git/mlops-ci-demo-origin.git``; the current directory when it
    runs; ``outside`` is a directory beside it holding ``secret.txt``, a file whose content is a
    marker). ``args`` are mlops-ci's arguments. ``rule``, when set, must appear in stdout+stderr
    (for example the rule ID that refuses a forged promotion). ``reports`` makes the harness add a
    ``--format FMT=PATH`` for every report format (only for commands that take ``--format``).
    """

    id: str
    kind: str
    setup: Callable[[Path, Path], None]
    args: tuple[str, ...]
    exit_code: int
    rule: str | None = None
    reports: bool = False
