"""Command-line options shared by several commands (one definition, one help text)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

FormatOption = Annotated[
    list[str] | None,
    typer.Option(
        "--format",
        "-f",
        help="FMT[=PATH]: json, markdown, sarif, junit, gitlab-codequality; repeatable; '-' or no"
        " PATH means standard output.",
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Configuration file (default: ./mlops-ci.yaml)."),
]
