"""Allow ``python -m mlops_ci``."""

from mlops_ci.cli import run

run()
