"""Command groups of the CLI, one module per area (``card``, ``policy``, ``scan``, ...).

Each module defines ``register(app: typer.Typer) -> None`` that adds its commands or sub-app, and
imports heavy libraries only inside the command functions, so ``mlops-ci --version`` stays fast.
Like ``cli.py``, these modules may print and exit; nothing else in the package does.
"""
