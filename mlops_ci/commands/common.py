"""Helpers shared by the commands: option parsing and report delivery."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from mlops_ci.errors import UsageError
from mlops_ci.findings import Report, Severity

if TYPE_CHECKING:  # outputs loads pydantic (did-you-mean hints): not at `import mlops_ci.cli`
    from mlops_ci.outputs import OutputSpec

QuietOption = Annotated[
    bool,
    typer.Option(
        "--quiet",
        "-q",
        help="No text summary and no live view; formats asked for with --format still print.",
    ),
]
NoColorOption = Annotated[
    bool,
    typer.Option("--no-color", help="No colour in the terminal (as NO_COLOR=1 does)."),
]


def parse_severity(text: str | None, option: str = "--fail-on") -> Severity | None:
    """The severity an option names (None when not given); a usage error otherwise."""
    if text is None:
        return None
    try:
        return Severity.parse(text)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


def print_report(
    report: Report, specs: list[OutputSpec], *, quiet: bool = False, no_color: bool = False
) -> None:
    """Write the report's files and print what goes to standard output.

    A ``text`` output to standard output is coloured where the terminal or CI log renders
    colour (:mod:`mlops_ci.terminal.console`); every other format prints exactly as rendered.
    When every output goes to a file, the text summary still prints, unless ``quiet``; after
    a text summary, one line says where the files went.
    """
    from mlops_ci.formats import render
    from mlops_ci.formats.text import clean
    from mlops_ci.outputs import deliver, to_files
    from mlops_ci.scrub import scrub_document
    from mlops_ci.terminal import color_enabled, colorize

    out = sys.stdout
    texts = deliver(report, specs)
    stdout_specs = [spec for spec in specs if spec.path is None]
    summaries: list[str] = []
    for spec, text in zip(stdout_specs, texts, strict=True):
        if spec.format != "text":
            out.write(text)
        elif not quiet:
            summaries.append(text)
    if not stdout_specs and not quiet:
        summaries.append(scrub_document(render("text", report)))
    written = to_files(specs)
    footer = f"reports written to: {', '.join(clean(path) for path in written)}\n"
    for text in summaries:
        shown = text + footer if written else text
        out.write(colorize(shown) if color_enabled(out, no_color=no_color) else shown)
    out.flush()


def emit_report(
    report: Report, specs: list[OutputSpec], *, quiet: bool = False, no_color: bool = False
) -> int:
    """Print the report (:func:`print_report`), then input errors as one line each on stderr;
    return the exit code."""
    print_report(report, specs, quiet=quiet, no_color=no_color)
    printed: set[str] = set()
    for result in report.results:
        if result.status == "errored":
            kind = "error" if result.error_kind == "input" else "internal error"
            line = f"{kind}: {result.detail}"
            if line not in printed:  # one broken file can break several checks
                printed.add(line)
                print(line, file=sys.stderr)
    return report.exit_code
