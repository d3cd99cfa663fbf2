"""``mlops-ci check`` as a function: load config, run the gates, return the report."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_ci.config import load_config
from mlops_ci.findings import CheckResult, Report, Severity
from mlops_ci.runner import RunOptions, run_checks


@dataclass(frozen=True)
class CheckRequest:
    """What the user asked ``mlops-ci check`` to do."""

    config: Path | None = None
    cwd: Path | None = None
    models: tuple[str, ...] = ()
    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    fail_on: Severity | None = None
    offline: bool = False
    environment: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


def run_check(
    request: CheckRequest, on_result: Callable[[CheckResult], None] | None = None
) -> Report:
    """Run the configured gates and return the report (raises MlopsCiError on bad input)."""
    from mlops_ci.checks import registry
    from mlops_ci.gitops import git_info

    loaded = load_config(request.config, cwd=request.cwd)
    opts = RunOptions(
        only=request.only,
        skip=request.skip,
        models=request.models,
        fail_on=request.fail_on,
        offline=request.offline,
        environment=request.environment,
        options=request.options,
    )
    return run_checks(loaded, registry(), opts, git=git_info(loaded.root), on_result=on_result)
