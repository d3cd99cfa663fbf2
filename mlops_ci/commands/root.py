"""The typer app: the top-level commands and the command groups of :mod:`mlops_ci.commands`.

:mod:`mlops_ci.cli` imports it only when a command runs (``mlops-ci --version`` never does); heavy
libraries are imported inside the commands that need them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from mlops_ci import __version__
from mlops_ci.commands.common import NoColorOption, QuietOption
from mlops_ci.commands.options import ConfigOption, FormatOption, FullHelpGroup

app = typer.Typer(
    cls=FullHelpGroup,
    name="mlops-ci",
    help="GitOps CI/CD gates for machine-learning models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
schema_app = typer.Typer(
    cls=FullHelpGroup, help="Print JSON Schemas for editor completion.", no_args_is_help=True
)
app.add_typer(schema_app, name="schema")

EXIT_OK = 0


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"mlops-ci {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """GitOps CI/CD gates for machine-learning models."""


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(f"mlops-ci {__version__}")


@app.command()
def check(
    config: ConfigOption = None,
    model: Annotated[
        list[str] | None, typer.Option("--model", "-m", help="Only this model (repeatable).")
    ] = None,
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Run only this check (repeatable).")
    ] = None,
    skip: Annotated[
        list[str] | None, typer.Option("--skip", help="Skip this check (repeatable).")
    ] = None,
    fail_on: Annotated[
        str | None, typer.Option("--fail-on", help="Lowest severity that fails: info..critical.")
    ] = None,
    output_format: FormatOption = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Make no network connections.")
    ] = False,
    changed_only: Annotated[
        bool,
        typer.Option("--changed-only", help="Only the models whose files changed since --base."),
    ] = False,
    base: Annotated[
        str | None, typer.Option("--base", help="Git ref to compare with, e.g. origin/main.")
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Ignore and bypass .mlops-ci/cache.")
    ] = False,
    quiet: QuietOption = False,
    no_color: NoColorOption = False,
) -> None:
    """Run the gates on the configured models."""
    from mlops_ci.commands.common import emit_report, parse_severity
    from mlops_ci.outputs import parse_format_specs
    from mlops_ci.pipeline import CheckRequest, run_check
    from mlops_ci.terminal import live_view

    specs = parse_format_specs(output_format or [])
    request = CheckRequest(
        config=config,
        models=tuple(model or ()),
        only=tuple(only or ()),
        skip=tuple(skip or ()),
        fail_on=parse_severity(fail_on),
        offline=offline or os.environ.get("MLOPS_CI_OFFLINE", "") in ("1", "true"),
        base=base,
        changed_only=changed_only,
        use_cache=not no_cache,
    )
    # The live view draws on stderr (a terminal only); stdout keeps the report.
    with live_view(enabled=not quiet, no_color=no_color, title="mlops-ci check") as view:
        report = run_check(request, on_result=view.finished, on_start=view.started)
    raise typer.Exit(emit_report(report, specs, quiet=quiet, no_color=no_color))


@app.command()
def rules() -> None:
    """Print the reference of every rule ID (the content of docs/rules.md)."""
    from mlops_ci.rules import rules_markdown

    sys.stdout.write(rules_markdown())


@schema_app.command("config")
def schema_config() -> None:
    """Print the JSON Schema of mlops-ci.yaml."""
    import json

    from mlops_ci.config import config_schema

    typer.echo(json.dumps(config_schema(), indent=2))


@schema_app.command("card")
def schema_card() -> None:
    """Print the JSON Schema of a model card's front matter."""
    import json

    from mlops_ci.card.schema import card_schema

    typer.echo(json.dumps(card_schema(), indent=2))


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Repository to scaffold.")] = Path(),
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
    monorepo: Annotated[
        bool, typer.Option("--monorepo", help="CI that checks only the changed models.")
    ] = False,
    gpu: Annotated[
        bool, typer.Option("--gpu", help="Also a GitHub workflow benchmarking on a GPU runner.")
    ] = False,
    vuln_db: Annotated[
        Path | None,
        typer.Option(
            "--vuln-db",
            help="Offline OSV database inside the repository to write as scan.vuln_db.",
        ),
    ] = None,
) -> None:
    """Read the repository (ONNX models, cards, requirements, source) and write mlops-ci.yaml,
    model cards where missing, CI files, a zizmor config, a pre-push hook and .gitignore lines."""
    from mlops_ci.init import run_init

    done = run_init(directory, force=force, monorepo=monorepo, gpu=gpu, vuln_db=vuln_db)
    for path, action in done.actions:
        typer.echo(f"{action:>9}  {path}")
    for note in done.notes:
        typer.echo(f"     note  {note}")
    typer.echo("\nNext:")
    for number, command in enumerate(done.next_steps, 1):
        typer.echo(f"  {number}. {command}")


@app.command()
def demo(
    directory: Annotated[
        Path | None, typer.Argument(help="Where to create the demo (default: a new temporary dir).")
    ] = None,
) -> None:
    """Create a demo repository with a real ONNX model and live its first two releases."""
    import tempfile

    from mlops_ci.demo import create_demo
    from mlops_ci.demo.lifecycle import first_release, second_release

    target = directory or Path(tempfile.mkdtemp(prefix="mlops-ci-demo-"))
    target = create_demo(target)
    typer.echo(f"Demo repository: {target.resolve()}")
    # check -> sign: the one order, for the first release as for the hundredth.
    typer.echo(f"$ cd {target.resolve()}")
    raise typer.Exit(first_release(target, typer.echo) or second_release(target, typer.echo))


def _register_command_groups() -> None:
    """Add the command groups of ``mlops_ci.commands`` (one line per area)."""
    from mlops_ci.commands import (
        bench,
        card,
        ci,
        fetch,
        hook,
        oci,
        policy,
        promote,
        sbom,
        scan,
        sign,
    )
    from mlops_ci.commands import eval as eval_command

    bench.register(app)
    eval_command.register(app)
    fetch.register(app)
    oci.register(app)
    card.register(app)
    policy.register(app)
    promote.register(app)
    sbom.register(app)
    scan.register(app)
    sign.register(app)
    ci.register(app)
    hook.register(app)


_register_command_groups()
