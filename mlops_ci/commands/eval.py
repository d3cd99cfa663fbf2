"""``mlops-ci eval``: evaluate one model against its baseline, with the code of the ``eval`` check.

MODEL_OR_PATH is a model named in mlops-ci.yaml, or a path to an .onnx file; a path takes the
eval section of the configured model with that path. A model without an ``eval:`` section
cannot be evaluated (the label and feature columns are needed): exit 2, saying what to add.
Exit codes are those of ``check``: 0 pass, 1 gate failed, 2 input or usage error, 3 internal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mlops_ci.commands.common import NoColorOption, QuietOption
from mlops_ci.commands.options import ConfigOption, FormatOption


def register(app: typer.Typer) -> None:
    """Add ``mlops-ci eval``."""

    @app.command("eval")
    def eval_command(
        model_or_path: Annotated[
            str, typer.Argument(help="A model named in mlops-ci.yaml, or its .onnx path.")
        ],
        data: Annotated[
            Path | None,
            typer.Option("--data", help="Evaluation data (.parquet, .csv, .jsonl, .npz, a dir)."),
        ] = None,
        baseline: Annotated[
            str | None,
            typer.Option(
                "--baseline",
                help="An .onnx file, a git ref, or env:ENV (what ENV runs). Default: the next"
                " environment's model, else the default branch's.",
            ),
        ] = None,
        output_format: FormatOption = None,
        quiet: QuietOption = False,
        no_color: NoColorOption = False,
        config: ConfigOption = None,
    ) -> None:
        """Measure a model's quality and fairness against its baseline, and gate on them."""
        from mlops_ci.checks.eval import OPTIONS_KEY, EvalCheck
        from mlops_ci.commands.bench import select_model
        from mlops_ci.commands.common import emit_report
        from mlops_ci.errors import UsageError
        from mlops_ci.gitops import git_info
        from mlops_ci.outputs import parse_format_specs
        from mlops_ci.runner import RunOptions, run_checks

        specs = parse_format_specs(output_format or [])
        cwd = Path.cwd()
        loaded, model = select_model(model_or_path, cwd, config)
        if model.eval is None:
            raise UsageError(
                f"model {model.name!r} has no eval: section in the configuration: add one under"
                " models[] (data, label, features; see 'mlops-ci schema') to evaluate it"
            )
        if baseline and (Path(baseline).is_file() or Path(baseline).suffix == ".onnx"):
            baseline = str(Path(baseline).resolve())  # a path given here is relative to cwd
        overrides: dict[str, Any] = {
            "data": str(data.resolve()) if data else None,
            "baseline": baseline,
        }
        opts = RunOptions(models=(model.name,), options={OPTIONS_KEY: overrides})
        report = run_checks(loaded, {"eval": EvalCheck()}, opts, git=git_info(loaded.root))
        raise typer.Exit(emit_report(report, specs, quiet=quiet, no_color=no_color))
