"""Command-line options shared by several commands (one definition, one help text)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

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
    typer.Option(
        "--config",
        "-c",
        metavar="PATH",
        help="Configuration file (default: MLOPS_CI_CONFIG, else mlops-ci.yaml or a pyproject.toml"
        " with [tool.mlops-ci] in the current directory or the nearest one above it, up to the"
        " repository root).",
    ),
]


class FullHelpGroup(TyperGroup):
    """A command group whose ``--help`` lists each command's whole first sentence.

    Click cuts a command's description at about 45 characters with "..."; a reader choosing a
    command needs the sentence, so it is shown whole (wrapped by the help formatter).
    """

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The ``Commands`` section, each description its first sentence, never cut."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=10_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
