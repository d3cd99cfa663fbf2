"""``mlops-ci card validate|init``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from mlops_ci.commands.options import FullHelpGroup

card_app = typer.Typer(
    cls=FullHelpGroup, help="Validate and create model cards.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add the ``card`` group."""
    app.add_typer(card_app, name="card")


@card_app.command("validate")
def validate(
    paths: Annotated[list[Path], typer.Argument(help="Model card files (Markdown).")],
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Read cards.required_sections from here.")
    ] = None,
    fail_on: Annotated[str, typer.Option("--fail-on", help="Lowest severity that fails.")] = "low",
    output_format: Annotated[
        list[str] | None, typer.Option("--format", "-f", help="FMT[=PATH], as for 'check'.")
    ] = None,
) -> None:
    """Validate cards: exit 0 when valid, 1 with findings, 2 when a card cannot be parsed."""
    import datetime as dt

    from mlops_ci import __version__
    from mlops_ci.card.validate import read_card_text, validate_card
    from mlops_ci.errors import MlopsCiError, UsageError
    from mlops_ci.findings import CheckResult, GitInfo, Report, Severity
    from mlops_ci.outputs import deliver, parse_format_specs
    from mlops_ci.safepath import confine

    try:
        threshold = Severity.parse(fail_on)
    except ValueError as exc:
        raise UsageError(f"--fail-on: {exc}") from None
    sections = _required_sections(config)
    results = []
    broken = False
    for path in paths:
        shown = str(path)
        try:
            # A card argument inside the working tree must not be a link planted out of it.
            real = confine(path.absolute(), Path.cwd(), what="model card", trusted=True)
            card = validate_card(read_card_text(real, shown), shown, sections)
        except MlopsCiError as exc:
            print(f"error: {exc}", file=sys.stderr)
            broken = True
            continue
        findings = tuple(issue.finding() for issue in card.issues)
        results.append(CheckResult("card", "passed", shown, findings).with_status(threshold))
    report = Report(
        tool_version=__version__,
        started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        git=GitInfo(),
        models=(),
        results=tuple(results),
        fail_on=threshold,
    )
    if output_format:
        for text in deliver(report, parse_format_specs(output_format)):
            sys.stdout.write(text)
    else:
        for result in results:
            for finding in result.findings:
                print(
                    f"{finding.location}: {finding.rule_id} [{finding.severity.label}] {finding.message}"
                )
            verdict = "invalid" if result.status == "failed" else "valid"
            print(f"{result.model}: {verdict} ({len(result.findings)} finding(s))")
    if broken:
        raise typer.Exit(2)
    raise typer.Exit(1 if report.verdict == "fail" else 0)


def _required_sections(config: Path | None) -> dict[str, list[str]] | None:
    from mlops_ci.config import find_config, load_config

    if config is None and find_config(Path.cwd()) is None:
        return None
    return load_config(config).config.cards.required_sections


@card_app.command("init")
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the card.")] = Path("MODEL_CARD.md"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a model card from templates/model_card.md."""
    from mlops_ci.errors import UsageError
    from mlops_ci.fsutil import atomic_write
    from mlops_ci.resources import template_text

    if path.exists() and not force:
        raise UsageError(f"{path} exists; pass --force to overwrite it")
    atomic_write(path, template_text("model_card.md"))
    typer.echo(f"created  {path}")
