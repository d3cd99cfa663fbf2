"""``mlops-ci policy facts|test``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from mlops_ci.commands.options import ConfigOption, FullHelpGroup

policy_app = typer.Typer(
    cls=FullHelpGroup, help="Inspect facts and test policy packs.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add the ``policy`` group."""
    app.add_typer(policy_app, name="policy")


@policy_app.command("facts")
def facts(
    config: ConfigOption = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Only this model.")] = None,
    env: Annotated[str | None, typer.Option("--env", help="Target environment.")] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Make no network connections.")
    ] = False,
) -> None:
    """Print the facts document policies see (JSON), so rules can be written against real data."""
    import json

    from mlops_ci.config import load_config
    from mlops_ci.pipeline import CheckRequest, run_check
    from mlops_ci.policy.facts import facts_from_report

    request = CheckRequest(
        config=config,
        models=(model,) if model else (),
        skip=("policy",),
        offline=offline,
        environment=env,
    )
    report = run_check(request)
    loaded = load_config(config)
    documents = {
        m.name: facts_from_report(report, m, loaded.config.environments, env)
        for m in loaded.config.models
        if model is None or m.name == model
    }
    output = documents[model] if model else documents
    sys.stdout.write(json.dumps(output, indent=2, default=str) + "\n")


@policy_app.command("test")
def test(
    directory: Annotated[Path, typer.Argument(help="Directory of *_test.yaml files.")] = Path(
        "policies"
    ),
) -> None:
    """Run policy unit tests: each case gives facts and the expected outcome of each rule."""
    from mlops_ci.policy.testing import find_test_files, run_test_file

    failed = 0
    total = 0
    for path in find_test_files(directory):
        for case in run_test_file(path, str(path)):
            total += 1
            if case.passed:
                print(f"PASS {case.file}: {case.case}")
                continue
            failed += 1
            print(f"FAIL {case.file}: {case.case}")
            for failure in case.failures:
                print(f"     {failure}")
    print(f"{total - failed} passed, {failed} failed")
    raise typer.Exit(1 if failed else 0)
