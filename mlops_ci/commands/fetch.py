"""``mlops-ci fetch MODEL --env ENV --to DIR``: deploy exactly the bytes a state entry names."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlops_ci.commands.options import ConfigOption


def register(app: typer.Typer) -> None:
    """Add ``fetch``."""
    app.command("fetch")(fetch)


def fetch(
    model: Annotated[str, typer.Argument(help="Model name from mlops-ci.yaml.")],
    env: Annotated[str, typer.Option("--env", help="Environment whose entry to fetch.")],
    to: Annotated[
        Path, typer.Option("--to", metavar="DIR", help="Directory to write the model's files into.")
    ],
    config: ConfigOption = None,
) -> None:
    """Write MODEL's files as ENV runs them (from the entry's commit) into DIR, verified.

    Exit 0 only when the files hash to the entry's digest and the signature verifies under the
    configured identity policy; 1 when they do not; 2 on bad input.
    """
    from mlops_ci.config import load_config
    from mlops_ci.promote.fetch import bytes_location, fetch_model

    fetched = fetch_model(load_config(config), model, env, to)
    print(f"fetched: {model} {fetched.entry.version} ({fetched.digest}) for {env}")
    print(f"from: {bytes_location(fetched.entry)}")
    for path in fetched.files:
        print(f"wrote: {path}")
