"""``mlops-ci scan``: the ``deps``, ``sast`` and ``artifacts`` checks, through the same runner and
outputs as ``mlops-ci check``, with flags that override ``scan:`` in the configuration.

Without a configuration file, ``scan`` runs with the defaults in the current directory, so
``mlops-ci scan --requirements requirements.txt --vuln-db osv/ --offline`` works anywhere.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from mlops_ci.commands.common import NoColorOption, QuietOption
from mlops_ci.commands.options import ConfigOption, FormatOption

SCAN_CHECKS = ("deps", "sast", "artifacts")


def register(app: typer.Typer) -> None:
    """Add ``scan`` to the CLI."""
    app.command("scan")(scan)


def scan(
    model: Annotated[
        list[str] | None, typer.Option("--model", "-m", help="Only this model (repeatable).")
    ] = None,
    requirements: Annotated[
        list[Path] | None,
        typer.Option(
            "--requirements",
            "-r",
            help="Requirements file or pyproject.toml to audit (repeatable; replaces"
            " scan.requirements).",
        ),
    ] = None,
    source: Annotated[
        list[Path] | None,
        typer.Option("--source", help="Source path for bandit (repeatable; replaces scan.source)."),
    ] = None,
    vuln_db: Annotated[
        Path | None,
        typer.Option(
            "--vuln-db",
            help="Offline OSV database: a directory of OSV records (YAML/JSON) or the OSV zip"
            " export.",
        ),
    ] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Make no network connections.")
    ] = False,
    output_format: FormatOption = None,
    quiet: QuietOption = False,
    no_color: NoColorOption = False,
    config: ConfigOption = None,
    fail_on: Annotated[
        str | None, typer.Option("--fail-on", help="Lowest severity that fails: info..critical.")
    ] = None,
) -> None:
    """Scan dependencies (pip-audit), code (bandit) and model files."""
    from mlops_ci.commands.common import emit_report, parse_severity
    from mlops_ci.outputs import parse_format_specs
    from mlops_ci.pipeline import CheckRequest, run_check
    from mlops_ci.scan.settings import OPTIONS_KEY

    specs = parse_format_specs(output_format or [])
    overrides: dict[str, object] = {}
    if requirements:
        overrides["requirements"] = [str(p.resolve()) for p in requirements]
    if source:
        overrides["source"] = [str(p.resolve()) for p in source]
    if vuln_db is not None:
        overrides["vuln_db"] = str(vuln_db.resolve())
    request = CheckRequest(
        config=config,
        models=tuple(model or ()),
        only=SCAN_CHECKS,
        fail_on=parse_severity(fail_on),
        offline=offline or os.environ.get("MLOPS_CI_OFFLINE", "") in ("1", "true"),
        options={OPTIONS_KEY: overrides},
        config_optional=True,
        require_models=False,
    )
    from mlops_ci.terminal import live_view

    with live_view(enabled=not quiet, no_color=no_color, title="mlops-ci scan") as view:
        report = run_check(request, on_result=view.finished, on_start=view.started)
    raise typer.Exit(emit_report(report, specs, quiet=quiet, no_color=no_color))
