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


def parse_format_specs(specs: Sequence[str], default: str = "text") -> list[OutputSpec]:
    """Parse ``FMT`` / ``FMT=PATH`` / ``FMT=-`` specs; no spec means ``default`` to stdout.

    The default is ``text``, the summary a person reads; ``--format markdown`` prints the
    Markdown report exactly as the PR/MR comment carries it.
    """
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


def to_files(specs: Sequence[OutputSpec]) -> list[Path]:
    """The files the specs write, in order."""
    return [spec.path for spec in specs if spec.path is not None]


def to_stdout(specs: Sequence[OutputSpec]) -> bool:
    """Whether some spec prints to standard output."""
    return any(spec.path is None for spec in specs)


def deliver(report: Report, specs: Sequence[OutputSpec]) -> list[str]:
    """Write every file output; return the texts meant for standard output, in order.

    Every text is scrubbed (:func:`mlops_ci.scrub.scrub`) before it is written: the formats
    are pure renderings of findings that were scrubbed already, and this is the second line.
    A path inside the working directory must stay inside it after following symlinks (a link
    planted in the repository cannot carry the report elsewhere); one outside came from the
    pipeline's own flag and is written as given.

    A report is the record of one run (its start time and durations differ on every run): when a
    run rewrites a report that was signed (``PATH.sigstore.json`` beside it) with other bytes,
    that bundle can never verify again and is removed, with a note on stderr, so ``verify`` after
    ``check`` checks what exists now; ``sign`` signs the new report.
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
            previous = _regular_bytes(target)
            atomic_write(target, text)
            if previous != text.encode("utf-8"):
                _drop_stale_bundle(target)
    return to_stdout


def _regular_bytes(path: Path) -> bytes | None:
    """The bytes of ``path`` if it is a regular file (never through a link), else None."""
    if path.is_symlink() or not path.is_file():
        return None
    try:
        return path.read_bytes()
    except OSError:
        return None


def _drop_stale_bundle(target: Path) -> None:
    """Remove the signature bundle of the bytes ``target`` held before (a link is removed, never
    followed); say so on stderr."""
    import os
    import sys

    from mlops_ci.signing.paths import bundle_path

    bundle = bundle_path(target)
    if not os.path.lexists(bundle) or (bundle.is_dir() and not bundle.is_symlink()):
        return  # a directory there is not a bundle mlops-ci wrote: 'verify' reports it
    try:
        bundle.unlink()
    except OSError:
        return
    print(  # noqa: T201  (a note for the user, beside the command's own output)
        f"note: removed {bundle.name}: it signed the previous report; 'mlops-ci sign' signs"
        " this one",
        file=sys.stderr,
    )
