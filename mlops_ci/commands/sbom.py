"""``mlops-ci sbom`` (write each model's CycloneDX SBOM) and ``mlops-ci sbom diff``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from mlops_ci.commands.options import ConfigOption, FullHelpGroup

sbom_app = typer.Typer(
    cls=FullHelpGroup,
    help="Write CycloneDX 1.6 SBOMs with an ML-BOM (model, card, datasets); compare two SBOMs.",
    invoke_without_command=True,
)


def register(app: typer.Typer) -> None:
    """Add the ``sbom`` group."""
    app.add_typer(sbom_app, name="sbom")


@sbom_app.callback()
def sbom(
    ctx: typer.Context,
    config: ConfigOption = None,
    model: Annotated[
        list[str] | None, typer.Option("--model", "-m", help="Only this model (repeatable).")
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="The SBOM file (one model), or a directory (several models, --gitlab, or a"
            " path ending in '/'). Default: sbom.output_dir/<model>.cdx.json.",
        ),
    ] = None,
    gitlab: Annotated[
        bool,
        typer.Option("--gitlab", help="Name files gl-sbom-<model>.cdx.json (GitLab's report)."),
    ] = False,
    output_format: Annotated[
        list[str] | None,
        typer.Option("--format", "-f", help="FMT[=PATH] of the run's report, as for 'check'."),
    ] = None,
) -> None:
    """Write the SBOM of each configured model (the 'sbom' check on its own)."""
    if ctx.invoked_subcommand is not None:
        return
    from mlops_ci.checks.sbom import OPTION_GITLAB, OPTION_OUTPUT_DIR, OPTION_OUTPUT_FILE
    from mlops_ci.outputs import deliver, parse_format_specs
    from mlops_ci.pipeline import CheckRequest, run_check

    specs = parse_format_specs(output_format) if output_format else []
    options: dict[str, object] = {OPTION_GITLAB: gitlab}
    if output is not None:
        key = OPTION_OUTPUT_DIR if _is_directory(output, gitlab) else OPTION_OUTPUT_FILE
        if key == OPTION_OUTPUT_FILE:
            _require_one_model(config, model)
        options[key] = Path(output).absolute()
    # The eval check runs first for models with an eval: section, so the ML-BOM carries the
    # measured metrics exactly as `check` writes it: one SBOM for the same inputs, whichever
    # command wrote it. Its findings are `check`'s business, not this command's exit code.
    report = run_check(
        CheckRequest(
            config=config, models=tuple(model or ()), only=("eval", "sbom"), options=options
        )
    )
    for text in deliver(report, specs):
        sys.stdout.write(text)
    summary = sys.stderr if any(spec.path is None for spec in specs) else sys.stdout
    printed: set[str] = set()
    for result in report.results:
        if result.status == "skipped":
            continue
        if result.status == "errored":
            kind = "error" if result.error_kind == "input" else "internal error"
            line = f"{kind}: {result.detail}"
            if line not in printed:
                printed.add(line)
                print(line, file=sys.stderr)
            continue
        if result.check != "sbom":
            continue
        facts = result.facts
        card = (
            "with modelCard"
            if facts.get("model_card")
            else "no modelCard (card missing or invalid)"
        )
        print(
            f"{result.model}: wrote {facts.get('path')} ({facts.get('components')} components,"
            f" {card}) {facts.get('digest')}",
            file=summary,
        )
    failed_sbom = any(r.check == "sbom" and r.status == "failed" for r in report.results)
    raise typer.Exit(report.exit_code if report.exit_code != 1 or failed_sbom else 0)


def _is_directory(output: str, gitlab: bool) -> bool:
    return gitlab or Path(output).is_dir() or output.endswith(("/", os.sep))


def _require_one_model(config: Path | None, models: list[str] | None) -> None:
    from mlops_ci.config import load_config
    from mlops_ci.errors import UsageError

    count = len(models) if models else len(load_config(config).config.models)
    if count != 1:
        raise UsageError(
            f"--output names one file but {count} models are selected; give --model NAME,"
            " or a directory (a path ending in '/')"
        )


@sbom_app.command("diff")
def diff(
    old: Annotated[Path, typer.Argument(help="The earlier SBOM (CycloneDX JSON).")],
    new: Annotated[Path, typer.Argument(help="The later SBOM (CycloneDX JSON).")],
    output_format: Annotated[
        list[str] | None,
        typer.Option(
            "--format",
            "-f",
            metavar="FMT[=PATH]",
            help="FMT[=PATH]: markdown (for a PR comment) or json; repeatable; '-' or no PATH"
            " means standard output (default: markdown).",
        ),
    ] = None,
) -> None:
    """List the components added, removed and changed (version, licence, hash)."""
    from mlops_ci.commands.options import view_specs, write_views
    from mlops_ci.sbom.diff import diff_sboms, load_sbom, render_json, render_markdown

    renderers = {"markdown": render_markdown, "json": render_json}
    specs = view_specs(output_format, tuple(renderers))
    difference = diff_sboms(load_sbom(old, str(old)), load_sbom(new, str(new)), str(old), str(new))
    write_views(specs, [renderers[fmt](difference) for fmt, _ in specs])
