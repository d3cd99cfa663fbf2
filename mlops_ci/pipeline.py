"""``mlops-ci check`` as a function: load config, run the gates, apply waivers, return the report."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mlops_ci.config import LoadedConfig, default_config, find_config, load_config
from mlops_ci.errors import ConfigError, SourcePosition
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
    overrides: Mapping[str, Any] = field(default_factory=dict)
    # When no configuration file exists, run with the defaults rooted at ``cwd`` (``scan``).
    config_optional: bool = False


def run_check(
    request: CheckRequest,
    on_result: Callable[[CheckResult], None] | None = None,
    *,
    now: dt.datetime | None = None,
) -> Report:
    """Run the configured gates and return the report (raises MlopsCiError on bad input)."""
    from mlops_ci.checks import registry
    from mlops_ci.gitops import git_info

    loaded = _load(request)
    now = now or dt.datetime.now(dt.UTC)
    ledger = _waiver_ledger(loaded, now)
    opts = RunOptions(
        only=request.only,
        skip=request.skip,
        models=request.models,
        fail_on=request.fail_on,
        offline=request.offline,
        environment=request.environment,
        options=request.options,
    )
    report = run_checks(
        loaded,
        registry(),
        opts,
        git=git_info(loaded.root),
        now=now,
        hook=lambda result, _ctx: ledger.apply(result),
        on_result=on_result,
    )
    if not ledger.waivers:
        return report
    summary = ledger.summary(_rule_checks(report), {r.check for r in report.results})
    return replace(report, results=(*report.results, summary.with_status(report.fail_on)))


def _load(request: CheckRequest) -> LoadedConfig:
    cwd = request.cwd or Path.cwd()
    if (
        request.config_optional
        and request.config is None
        and not os.environ.get("MLOPS_CI_CONFIG")
        and find_config(cwd) is None
    ):
        return default_config(cwd, overrides=request.overrides)
    return load_config(request.config, cwd=request.cwd, overrides=request.overrides)


def _waiver_ledger(loaded: LoadedConfig, now: dt.datetime) -> Any:
    from mlops_ci.policy.waivers import WaiverLedger, load_waivers

    name = loaded.config.waivers
    if name is None:
        return WaiverLedger([], now.date())
    path = loaded.resolve(name)
    if not path.exists() and "waivers" in loaded.config.model_fields_set:
        raise ConfigError(
            f"waivers file {name} does not exist; create it or remove 'waivers:'",
            SourcePosition(loaded.display(loaded.path) if loaded.path else "mlops-ci.yaml"),
        )
    return WaiverLedger(load_waivers(path, loaded.display(path)), now.date())


def _rule_checks(report: Report) -> dict[str, str]:
    from mlops_ci.rules import all_rules

    known = {rule.id: rule.check for rule in all_rules()}
    for result in report.results:
        docs = result.facts.get("rule_docs")
        if isinstance(docs, dict):
            known.update(dict.fromkeys(docs, result.check))
    return known
