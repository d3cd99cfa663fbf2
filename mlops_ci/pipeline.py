"""``mlops-ci check`` as a function: load config, run the gates, return the report."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_ci.config import LoadedConfig, default_config, find_config, load_config
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
    # When no configuration file exists, run with the defaults rooted at ``cwd`` (``scan``).
    config_optional: bool = False


def run_check(
    request: CheckRequest, on_result: Callable[[CheckResult], None] | None = None
) -> Report:
    """Run the configured gates and return the report (raises MlopsCiError on bad input)."""
    from mlops_ci.checks import registry
    from mlops_ci.gitops import git_info

    loaded: LoadedConfig
    cwd = request.cwd or Path.cwd()
    if (
        request.config_optional
        and request.config is None
        and not os.environ.get("MLOPS_CI_CONFIG")
        and find_config(cwd) is None
    ):
        loaded = default_config(cwd)
    else:
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
