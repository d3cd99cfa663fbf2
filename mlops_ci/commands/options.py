"""Command-line options shared by several commands (one definition, one help text)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from mlops_ci.formats import FORMATS

FormatOption = Annotated[
    list[str] | None,
    typer.Option(
        "--format",
        "-f",
        metavar="FMT[=PATH]",
        # Listed from the registry, so a format added there is in every command's help.
        help=f"FMT[=PATH]: {', '.join(FORMATS)}; repeatable; '-' or no PATH means standard output.",
    ),
]
ViewFormatOption = Annotated[
    list[str] | None,
    typer.Option(
        "--format",
        "-f",
        metavar="FMT[=PATH]",
        help="FMT[=PATH]: text, json or markdown; repeatable; '-' or no PATH means standard"
        " output (default: text).",
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        metavar="PATH",
        help="Configuration file (default: MLOPS_CI_CONFIG, else the nearest mlops-ci.yaml, or"
        " pyproject.toml with [tool.mlops-ci], from here up to the repository root).",
    ),
]


class FullHelpGroup(TyperGroup):
    """A command group whose ``--help`` lists each command's whole first sentence.

    Click cuts a command's description at about 45 characters with "..."; a reader choosing a
    command needs the sentence, so it is shown whole (wrapped by the help formatter).
    """

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The command ``cmd_name``, its options given readable value names in ``--help``."""
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            for param in command.params:
                flag = getattr(param, "is_flag", False)
                if param.param_type_name == "option" and not flag and not param.metavar:
                    param.metavar = metavar_for(param.opts)
        return command

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


# Value names for option help: typer would show the Python type (``--base <str>``,
# ``--model <list[str]>``); a reader wants to know what to type.
_METAVARS = {
    "--fail-on": "SEVERITY",
    "--base": "REF",
    "--baseline": "REF|PATH",
    "--model": "NAME",
    "--env": "ENV",
    "--dim": "NAME=VALUE",
    "--only": "CHECK",
    "--skip": "CHECK",
    "--mode": "MODE",
    "--provider": "PROVIDER",
    "--at": "DATE",
    "--identity": "ID",
    "--issuer": "URL",
    "--pr": "NUMBER",
    "--forge": "KIND",
    "--stage": "STAGE",
    "--budget-s": "SECONDS",
    "--margin": "PCT",
}


def metavar_for(opts: list[str]) -> str:
    """The value name an option shows in ``--help``: a known one, else ``PATH``/``TEXT``."""
    long = next((o for o in opts if o.startswith("--")), opts[0])
    if long in _METAVARS:
        return _METAVARS[long]
    pathish = {"path", "key", "cert", "chain", "signature", "output", "results", "npz", "data"}
    pathish |= {"source", "requirements", "sarif", "db", "config", "ca", "ignore"}
    words = long.lstrip("-").split("-")
    return "PATH" if pathish & set(words) else words[-1].upper()


def view_specs(specs: list[str] | None, known: tuple[str, ...]) -> list[tuple[str, Path | None]]:
    """``FMT`` / ``FMT=PATH`` / ``FMT=-`` as for every report (no spec: the first of ``known``
    to stdout), for commands whose output is a view rather than a report (status, history,
    sbom diff)."""
    from mlops_ci.errors import UsageError
    from mlops_ci.validation import did_you_mean

    parsed: list[tuple[str, Path | None]] = []
    for spec in specs or [known[0]]:
        name, equals, target = spec.partition("=")
        name = name.strip()
        if name not in known:
            raise UsageError(
                f"--format {spec[:60]!r}: unknown format {name[:40]!r}{did_you_mean(name, list(known))}"
                f" (formats: {', '.join(known)})"
            )
        if equals and not target:
            raise UsageError(
                f"--format {spec[:60]!r}: give a path after '=', or '-' for standard output"
            )
        parsed.append((name, None if target in ("", "-") else Path(target)))
    return parsed


def write_views(specs: list[tuple[str, Path | None]], texts: list[str]) -> None:
    """Each text to its file (atomically, never through a planted link) or to stdout."""
    from mlops_ci.fsutil import atomic_write
    from mlops_ci.safepath import output_path
    from mlops_ci.scrub import scrub_document

    cwd = Path.cwd()
    for (fmt, path), text in zip(specs, texts, strict=True):
        if path is None:
            sys.stdout.write(text)
        else:
            atomic_write(
                output_path(cwd / path, cwd, what=f"--format {fmt} output"), scrub_document(text)
            )
