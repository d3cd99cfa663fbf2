"""``--format FMT[=PATH]``: parse the specs, deliver rendered reports (files written atomically)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mlops_ci.errors import UsageError
from mlops_ci.findings import Report
from mlops_ci.formats import FORMATS, render
from mlops_ci.fsutil import atomic_write
from mlops_ci.safepath import output_path
from mlops_ci.scrub import scrub_document
from mlops_ci.validation import did_you_mean


@dataclass(frozen=True)
class OutputSpec:
    """One requested output: a format, and a file (None means standard output)."""

    format: str
    path: Path | None


def parse_format_specs(specs: Sequence[str], default: str = "markdown") -> list[OutputSpec]:
    """Parse ``FMT`` / ``FMT=PATH`` / ``FMT=-`` specs; no spec means ``default`` to stdout."""
    if not specs:
        return [OutputSpec(default, None)]
    parsed = []
    for spec in specs:
        name, _, target = spec.partition("=")
        name = name.strip()
        if name not in FORMATS:
            known = list(FORMATS)
            raise UsageError(
                f"--format {spec!r}: unknown format {name!r}{did_you_mean(name, known)}"
                f" (formats: {', '.join(known)})"
            )
        if _ and not target:
            raise UsageError(
                f"--format {spec!r}: give a path after '=', or '-' for standard output"
            )
        parsed.append(OutputSpec(name, None if target in ("", "-") else Path(target)))
    return parsed


def deliver(report: Report, specs: Sequence[OutputSpec]) -> list[str]:
    """Write every file output; return the texts meant for standard output, in order.

    Every text is scrubbed (:func:`mlops_ci.scrub.scrub`) before it is written: the formats
    are pure renderings of findings that were scrubbed already, and this is the second line.
    A path inside the working directory must stay inside it after following symlinks (a link
    planted in the repository cannot carry the report elsewhere); one outside came from the
    pipeline's own flag and is written as given.
    """
    to_stdout = []
    for spec in specs:
        text = scrub_document(render(spec.format, report))
        if spec.path is None:
            to_stdout.append(text)
        else:
            target = output_path(
                Path.cwd() / spec.path, Path.cwd(), what=f"--format {spec.format} output"
            )
            atomic_write(target, text)
    return to_stdout
