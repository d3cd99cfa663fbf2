"""``mlops-ci scan``: the ``deps``, ``sast`` and ``artifacts`` checks, through the same runner and
outputs as ``mlops-ci check``, with flags that override ``scan:`` in the configuration.

``mlops-ci scan PATH...`` needs no configuration and reads none: the files and directories
named are sorted into model files, requirements and source (:mod:`mlops_ci.scan.targets`), as
modelscan and pip-audit users expect. Without PATH, a configuration (``scan:``) says what to scan;
without either, and without ``--requirements``/``--source``, ``scan`` scans the current
directory. ``mlops-ci scan --requirements requirements.txt --vuln-db osv/ --offline`` works
anywhere.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mlops_ci.commands.common import NoColorOption, QuietOption
from mlops_ci.commands.options import ConfigOption, FormatOption

if TYPE_CHECKING:
    from mlops_ci.pipeline import CheckRequest

SCAN_CHECKS = ("deps", "sast", "artifacts")


def register(app: typer.Typer) -> None:
    """Add ``scan`` to the CLI."""
    app.command("scan")(scan)


def scan(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Files or directories to scan without a configuration: model files (by"
            " content), requirements files, Python source. Default: what the configuration"
            " says, else the current directory.",
            show_default=False,
        ),
    ] = None,
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
    if not paths and not (requirements or source or model or config) and _no_config():
        paths = [Path()]  # nothing configured, nothing named: the current directory
    if paths:
        request = _paths_request(request, paths, overrides, config=config, model=model)
    from mlops_ci.terminal import live_view

    with live_view(enabled=not quiet, no_color=no_color, title="mlops-ci scan") as view:
        report = run_check(request, on_result=view.finished, on_start=view.started)
    raise typer.Exit(emit_report(report, specs, quiet=quiet, no_color=no_color))


def _no_config() -> bool:
    """Whether no configuration file applies here (none found, none named by environment)."""
    from mlops_ci.config import find_config

    return not os.environ.get("MLOPS_CI_CONFIG") and find_config(Path.cwd()) is None


def _paths_request(
    request: CheckRequest,
    paths: list[Path],
    overrides: dict[str, object],
    *,
    config: Path | None,
    model: list[str] | None,
) -> CheckRequest:
    """The request that scans ``paths`` with the defaults, reading no configuration."""
    from dataclasses import replace

    from mlops_ci.errors import UsageError
    from mlops_ci.scan.settings import OPTIONS_KEY
    from mlops_ci.scan.targets import scan_targets

    if config is not None or model:
        raise UsageError("PATH scans without a configuration: drop --config and --model, or PATH")
    targets = scan_targets(paths)
    flags = dict(overrides)
    for key, found in (("requirements", targets.requirements), ("source", targets.source)):
        given = flags.get(key)
        named = [str(p) for p in found] + (list(given) if isinstance(given, list) else [])
        flags[key] = list(dict.fromkeys(named))
    models = [{"name": name, "path": path} for name, path in targets.models]
    return replace(
        request,
        cwd=targets.root,
        options={OPTIONS_KEY: flags},
        overrides={"models": models},
        ignore_config=True,
        use_cache=False,  # a scan of someone's folder leaves no cache behind in it
    )
