"""``mlops-ci bench``: benchmark one model, with the same code and settings as the ``bench`` check.

MODEL_OR_PATH is a model named in mlops-ci.yaml, or a path to an .onnx file (whose settings come
from the configured model with that path, if any). Progress goes to standard error: a progress
bar on a terminal, a few plain lines in CI logs.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mlops_ci.commands.common import NoColorOption, QuietOption
from mlops_ci.commands.options import ConfigOption, FormatOption

if TYPE_CHECKING:
    from mlops_ci.config import LoadedConfig, ModelConfig


def parse_dims(values: list[str]) -> dict[str, int]:
    """``NAME=VALUE`` pairs of ``--dim`` as a mapping; a malformed pair is a usage error."""
    from mlops_ci.config_sections import MAX_DIM
    from mlops_ci.errors import UsageError

    dims: dict[str, int] = {}
    for text in values:
        name, sep, value = text.partition("=")
        name, value = name.strip(), value.strip()
        digits = value.isascii() and value.isdigit() and len(value) <= 12
        if not sep or not name or not digits or not 1 <= int(value) <= MAX_DIM:
            raise UsageError(
                f"--dim {text[:60]!r}: write NAME=VALUE with an integer VALUE from 1 to {MAX_DIM:,}"
            )
        dims[name] = int(value)
    return dims


def select_model(target: str, cwd: Path, config: Path | None) -> tuple[LoadedConfig, ModelConfig]:
    """The configuration and model that MODEL_OR_PATH designates."""
    from mlops_ci.config import Config, LoadedConfig, ModelConfig, find_config, load_config
    from mlops_ci.errors import UsageError

    found = config if config is not None else find_config(cwd)
    loaded = load_config(found, cwd=cwd) if found is not None else None
    if loaded is not None and any(m.name == target for m in loaded.config.models):
        from mlops_ci.pipeline import require_model_file

        model = loaded.config.model(target)
        require_model_file(loaded, model)  # one error at its 'path:' line, not a crash
        return loaded, model
    path = Path(target)
    path = path if path.is_absolute() else cwd / path
    if not path.exists():
        known = [m.name for m in loaded.config.models] if loaded else []
        names = f" (configured models: {', '.join(known)})" if known else ""
        raise UsageError(f"{target!r} is neither a configured model nor an existing path{names}")
    if loaded is not None:
        for model in loaded.config.models:
            if loaded.resolve(model.path) == path.resolve():
                return loaded, model
    name = re.sub(r"[^A-Za-z0-9._-]", "-", path.stem).lstrip("._-") or "model"
    model = ModelConfig(name=name, path=str(path.resolve()))
    base = loaded.config if loaded is not None else Config()
    config_model = base.model_copy(update={"models": [model]})
    root = loaded.root if loaded is not None else cwd
    # The path came from the command line (the pipeline's): trusted, it may lie anywhere.
    trusted = (loaded.trusted if loaded is not None else frozenset()) | {
        ("models.path", model.path)
    }
    return LoadedConfig(config_model, loaded.path if loaded else None, root, trusted=trusted), model


class LineProgress:
    """Progress for CI logs: one line now and then, never more than one per ``interval``."""

    def __init__(self, interval: float = 2.0) -> None:
        self.interval = interval
        self.last = 0.0
        self.phase = ""

    def __call__(self, message: str, fraction: float) -> None:
        """Print ``message`` if the phase changed or ``interval`` has passed."""
        del fraction
        phase = message.split(":", maxsplit=1)[0].split(" ", maxsplit=1)[0]
        now = time.monotonic()
        if phase != self.phase or now - self.last >= self.interval:
            self.phase, self.last = phase, now
            print(f"bench: {message}", file=sys.stderr, flush=True)


def register(app: typer.Typer) -> None:
    """Add ``mlops-ci bench``."""

    @app.command("bench")
    def bench(
        model_or_path: Annotated[
            str, typer.Argument(help="A model named in mlops-ci.yaml, or an .onnx path.")
        ],
        dim: Annotated[
            list[str] | None,
            typer.Option("--dim", help="NAME=VALUE for a dynamic dimension (repeatable)."),
        ] = None,
        provider: Annotated[
            str | None, typer.Option("--provider", help="cpu, cuda, tensorrt or auto.")
        ] = None,
        baseline: Annotated[
            str | None,
            typer.Option(
                "--baseline",
                help="An .onnx file, a stored results .json, a git ref, or env:ENV (what ENV runs).",
            ),
        ] = None,
        budget_s: Annotated[
            float | None,
            typer.Option("--budget-s", help="Seconds of benchmarking at most (default 20)."),
        ] = None,
        margin: Annotated[
            float | None,
            typer.Option("--margin", help="Regression tolerated, in percent (default 5)."),
        ] = None,
        npz: Annotated[
            Path | None, typer.Option("--npz", help="Real inputs: one array per model input.")
        ] = None,
        results: Annotated[
            Path | None,
            typer.Option("--results", help="JSON results file (default .mlops-ci/bench/M.json)."),
        ] = None,
        output_format: FormatOption = None,
        quiet: QuietOption = False,
        no_color: NoColorOption = False,
        config: ConfigOption = None,
    ) -> None:
        """Benchmark one ONNX model and gate on latency budgets and regressions."""
        from mlops_ci.checks.bench import OPTIONS_KEY, PROGRESS_KEY, BenchCheck
        from mlops_ci.commands.common import emit_report
        from mlops_ci.gitops import git_info
        from mlops_ci.outputs import parse_format_specs
        from mlops_ci.runner import RunOptions, run_checks

        specs = parse_format_specs(output_format or [])
        cwd = Path.cwd()
        loaded, model = select_model(model_or_path, cwd, config)
        if baseline and (Path(baseline).is_file() or Path(baseline).suffix in (".onnx", ".json")):
            baseline = str(Path(baseline).resolve())  # a path given here is relative to cwd
        overrides: dict[str, Any] = {
            "dims": parse_dims(dim or []) or None,
            "provider": provider,
            "baseline": baseline,
            "budget_s": budget_s,
            "margin_pct": margin,
            "npz": str(npz.resolve()) if npz else None,
            "results": str(results.resolve()) if results else None,
        }
        with progress_reporter() as progress:
            options = {OPTIONS_KEY: overrides, PROGRESS_KEY: progress}
            opts = RunOptions(models=(model.name,), options=options)
            report = run_checks(loaded, {"bench": BenchCheck()}, opts, git=git_info(loaded.root))
        for result in report.results:
            for artifact in result.artifacts:
                print(f"bench: results in {artifact}", file=sys.stderr)
        raise typer.Exit(emit_report(report, specs, quiet=quiet, no_color=no_color))


@contextlib.contextmanager
def progress_reporter() -> Iterator[Callable[[str, float], None]]:
    """A rich progress bar on a terminal, plain ``bench: ...`` lines otherwise (CI logs)."""
    if not sys.stderr.isatty() or os.environ.get("CI"):
        yield LineProgress()
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("bench"),
        BarColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=Console(stderr=True),
        transient=True,
    )
    task = bar.add_task("loading", total=1.0)

    def update(message: str, fraction: float) -> None:
        bar.update(task, completed=fraction, description=message)

    with bar:
        yield update
