"""``mlops-ci check`` as a function: load config, run the gates, apply waivers, return the report."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_ci.cache import ResultCache, cache_disabled, open_cache
from mlops_ci.config import LoadedConfig, ModelConfig, default_config, find_config, load_config
from mlops_ci.errors import ConfigError, MlopsCiError, SourcePosition, UsageError
from mlops_ci.findings import CheckResult, Report, Severity
from mlops_ci.runner import RunOptions, run_checks, select_checks

if TYPE_CHECKING:
    from mlops_ci.checks.base import Check


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
    base: str | None = None
    changed_only: bool = False
    use_cache: bool = True
    # When no configuration file exists, run with the defaults rooted at ``cwd`` (``scan``).
    config_optional: bool = False
    # ``check`` is a gate on models: a configuration without any is "nothing to check" (exit 2).
    # ``scan`` may audit a repository's dependencies and code without a model.
    require_models: bool = True
    # ``scan PATH...``: the defaults rooted at ``cwd``, never a configuration file.
    ignore_config: bool = False


def run_check(
    request: CheckRequest,
    on_result: Callable[[CheckResult], None] | None = None,
    *,
    now: dt.datetime | None = None,
    cache: ResultCache | None = None,
    on_start: Callable[[str, str | None], None] | None = None,
) -> Report:
    """Run the configured gates and return the report (raises MlopsCiError on bad input).

    The result cache is opened here unless ``request.use_cache`` is off or ``MLOPS_CI_NO_CACHE``
    is set; a caller that wants to see what the checks read passes its own ``cache`` (and closes
    it).
    """
    from mlops_ci.checks import registry
    from mlops_ci.gitops import git_info

    loaded = _load(request)
    if request.require_models and not loaded.config.models:
        raise ConfigError(
            "nothing to check: the configuration lists no models; add a 'models:' entry"
            " (name, path, card) for each model to gate",
            loaded.where("models"),
        )
    now = now or dt.datetime.now(dt.UTC)
    ledger = _waiver_ledger(loaded, now)
    models = _models_in_scope(loaded, request)
    options = dict(request.options)
    if request.base:
        options.setdefault("base", request.base)
    opts = RunOptions(
        only=request.only,
        skip=request.skip,
        models=models,
        fail_on=request.fail_on,
        offline=request.offline,
        environment=request.environment,
        options=options,
    )
    if request.changed_only and not models:
        return _nothing_changed(loaded, request, now)
    selected = select_checks(registry(), request.only, request.skip)
    _require_model_files(loaded, selected, models)
    owned = cache is None and request.use_cache and not cache_disabled()
    if owned:
        cache = open_cache(loaded, os.environ)
    from mlops_ci.runmemo import run_scope

    try:
        with run_scope():  # one parse and one digest per model file, one compile per pack
            _require_policy_packs(loaded, selected, cache)
            report = run_checks(
                loaded,
                registry(),
                opts,
                git=git_info(loaded.root),
                now=now,
                hook=lambda result, _ctx: ledger.apply(result),
                on_result=on_result,
                cache=cache,
                on_start=on_start,
            )
    finally:
        if owned and cache is not None:
            cache.close()
    require_evidence(report)
    if not ledger.waivers:
        return report
    summary = ledger.summary(_rule_checks(report), {r.check for r in report.results})
    return replace(report, results=(*report.results, summary.with_status(report.fail_on)))


def _require_model_files(
    loaded: LoadedConfig, checks: Sequence[Check], models: tuple[str, ...]
) -> None:
    """Refuse a configured model file that does not exist, once, at its ``path:`` line.

    Every check of a model reads it: run anyway, a wrong path became five findings and errors
    (the ONNX check's, the policy's about the card, bench, eval and the SBOM crashing) that all
    said the same thing. It is an input error (exit 2) rather than a finding, so no severity
    threshold (``fail_on: critical``) or waiver can ever turn a missing model into a pass.
    """
    if not any(check.scope == "model" for check in checks):
        return  # only repository checks run (--only deps): the model files are not read
    for model in loaded.config.models:
        if not models or model.name in models:
            require_model_file(loaded, model)


def _require_policy_packs(
    loaded: LoadedConfig, checks: Sequence[Check], cache: ResultCache | None = None
) -> None:
    """Load and compile the configured policy packs before any gate runs.

    A pack with a syntax error is an input error (exit 2) either way; found here, the user learns
    it at once instead of after the dependency audit, the SBOM and the benchmarks. A pack the
    cache saw compile, byte for byte, is not compiled again (importing the CEL library alone
    costs ~0.3 s of a warm re-run).
    """
    if not any(check.name == "policy" for check in checks):
        return
    from mlops_ci.policy.pack import load_pack, pack_file

    for ref in loaded.config.policies:
        trusted = loaded.is_trusted("policies", ref)
        try:
            files = [pack_file(ref, loaded.root, trusted=trusted)]
        except MlopsCiError:
            files = []  # load_pack says why
        label = f"policy-pack:{ref}:{trusted}"
        if files and cache is not None and cache.passed_before(label, files):
            continue
        load_pack(ref, loaded.root, trusted=trusted)
        if files and cache is not None:
            cache.record_pass(label, files)


def require_model_file(loaded: LoadedConfig, model: ModelConfig) -> None:
    """ConfigError (exit 2) at the model's ``path:`` line when its file does not exist."""
    if loaded.resolve(model.path, "models.path").exists():
        return
    index = next(i for i, m in enumerate(loaded.config.models) if m.name == model.name)
    raise ConfigError(
        f"model {model.name!r}: {model.path} does not exist; fix 'path:' (models[{index}])"
        " or add the file (no check ran)",
        loaded.where("models", index, "path"),
    )


def require_evidence(report: Report) -> None:
    """Refuse a run in which no check produced a verdict: every one skipped, or none selected.

    A report of skipped checks is not a pass: it says nothing about the models (``--only`` naming
    a check that does not apply, ``--model`` with a repository-only check, no inputs to scan).
    """
    if any(r.status != "skipped" for r in report.results):
        return
    reasons = "; ".join(
        f"{r.check}{f' ({r.model})' if r.model else ''}: {r.detail or 'skipped'}"
        for r in report.results[:4]
    )
    raise UsageError(
        "nothing to check: "
        + (f"every selected check was skipped ({reasons})" if reasons else "no check ran")
        + "; select checks that apply with --only, or configure their inputs"
    )


def _models_in_scope(loaded: LoadedConfig, request: CheckRequest) -> tuple[str, ...]:
    """The models asked for; with ``changed_only``, those of them changed since ``base``."""
    from mlops_ci.matrix import changed_models

    for name in request.models:
        try:  # an unknown name is an error even when nothing changed
            loaded.config.model(name)
        except ConfigError as exc:
            raise ConfigError(f"nothing to check: {exc.message}", loaded.where("models")) from None
    if not request.changed_only:
        return request.models
    if not request.base:
        raise UsageError("--changed-only needs --base REF, e.g. --base origin/main")
    changed = [m.name for m in changed_models(loaded, request.base)]
    return tuple(n for n in changed if not request.models or n in request.models)


def _nothing_changed(loaded: LoadedConfig, request: CheckRequest, now: dt.datetime) -> Report:
    """The report of a ``--changed-only`` run in which no model changed: nothing ran, pass."""
    from mlops_ci import __version__
    from mlops_ci.gitops import git_info

    return Report(
        tool_version=__version__,
        started_at=now.isoformat(timespec="seconds"),
        git=git_info(loaded.root),
        models=(),
        results=(),
        fail_on=request.fail_on if request.fail_on is not None else loaded.config.fail_on,
        config_path=loaded.display(loaded.path) if loaded.path else None,
    )


def _load(request: CheckRequest) -> LoadedConfig:
    cwd = request.cwd or Path.cwd()
    if request.ignore_config:
        return default_config(cwd, overrides=request.overrides)
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
    path = loaded.resolve(name, "waivers")
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
