"""Runs the checks: dependency order, independent checks concurrently, one crash isolated.

A check that raises :class:`MlopsCiError` is recorded as ``errored`` with ``error_kind="input"``
(the run exits 2); any other exception is ``errored`` with ``error_kind="internal"`` (exit 3). Every
other check still runs and the report is still written. With a :class:`ResultCache`, a check that
declares its inputs is looked up before it runs; the hook (waivers) and ``fail_on`` are applied to
the stored result afterwards, exactly as to a fresh one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from mlops_ci import __version__
from mlops_ci.cache import ResultCache
from mlops_ci.checks.base import Check, Context
from mlops_ci.config import LoadedConfig, ModelConfig
from mlops_ci.errors import MlopsCiError, UsageError
from mlops_ci.findings import CheckResult, GitInfo, ModelRef, Report, Severity
from mlops_ci.scrub import excerpt
from mlops_ci.validation import did_you_mean

ResultHook = Callable[[CheckResult, Context], CheckResult]


@dataclass(frozen=True)
class RunOptions:
    """What to run and how."""

    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    fail_on: Severity | None = None
    offline: bool = False
    environment: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    max_workers: int = 4


def select_checks(
    registry: Mapping[str, Check], only: Sequence[str], skip: Sequence[str]
) -> list[Check]:
    """The checks to run, in registry order; unknown names are a usage error with a hint."""
    known = list(registry)
    for name in (*only, *skip):
        if name not in registry:
            raise UsageError(
                f"unknown check {name!r}{did_you_mean(name, known)} (checks: {', '.join(known)})"
            )
    # By name first: looking a check up may import its module, and unchosen ones need not be.
    return [registry[n] for n in registry if (not only or n in only) and n not in skip]


def select_models(loaded: LoadedConfig, names: Sequence[str]) -> list[ModelConfig]:
    """The configured models named in ``names``, or all of them."""
    if not names:
        return list(loaded.config.models)
    return [loaded.config.model(name) for name in names]


def dependency_levels(checks: Sequence[Check]) -> list[list[Check]]:
    """Group checks so each level only needs checks of earlier levels."""
    names = {c.name for c in checks}
    remaining = list(checks)
    done: set[str] = set()
    levels: list[list[Check]] = []
    while remaining:
        level = [c for c in remaining if all(n in done or n not in names for n in c.needs)]
        if not level:
            cycle = ", ".join(c.name for c in remaining)
            raise RuntimeError(f"checks depend on each other in a cycle: {cycle}")
        levels.append(level)
        done.update(c.name for c in level)
        remaining = [c for c in remaining if c not in level]
    return levels


def run_phases(checks: Sequence[Check]) -> tuple[list[Check], list[Check], list[Check]]:
    """Split the checks into those run first, the ``runs_alone`` ones, and those needing them.

    A check that measures time (``bench``) runs after every check it does not feed, one model at
    a time, with nothing else of the run working in the process: other gates sharing the cores
    would make its figures describe the tool rather than the model and the machine.
    """
    alone = [c for c in checks if getattr(c, "runs_alone", False)]
    feeds = {c.name for c in alone}
    after: list[Check] = []
    changed = True
    while changed:  # every check that needs a lone one, directly or through another
        changed = False
        for check in checks:
            if check not in alone and check not in after and feeds & set(check.needs):
                after.append(check)
                feeds.add(check.name)
                changed = True
    before = [c for c in checks if c not in alone and c not in after]
    return before, alone, [c for c in checks if c in after]


def run_checks(
    loaded: LoadedConfig,
    registry: Mapping[str, Check],
    opts: RunOptions,
    *,
    git: GitInfo | None = None,
    now: dt.datetime | None = None,
    hook: ResultHook | None = None,
    on_result: Callable[[CheckResult], None] | None = None,
    cache: ResultCache | None = None,
    on_start: Callable[[str, str | None], None] | None = None,
) -> Report:
    """Run the selected checks on the selected models and assemble the report.

    ``on_start(check, model)`` and ``on_result(result)`` are called from the worker threads as
    each check starts and finishes (a live view); they must be thread-safe and quick.
    """
    now = now or dt.datetime.now(dt.UTC)
    fail_on = opts.fail_on if opts.fail_on is not None else loaded.config.fail_on
    checks = select_checks(registry, opts.only, opts.skip)
    models = select_models(loaded, opts.models)
    started = time.perf_counter()
    results: dict[tuple[str, str | None], CheckResult] = {}
    shared: dict[str, Any] = {}

    def needs_for(check: Check, model: ModelConfig | None) -> dict[str, CheckResult]:
        found: dict[str, CheckResult] = {}
        for name in check.needs:
            key_model = (name, model.name if model else None)
            if key_model in results:
                found[name] = results[key_model]
            elif (name, None) in results:
                found[name] = results[(name, None)]
        return found

    def context(model: ModelConfig | None, needs: dict[str, CheckResult]) -> Context:
        return Context(
            loaded=loaded,
            model=model,
            needs=needs,
            now=now,
            offline=opts.offline,
            options=opts.options,
            git=git or GitInfo(),
            environment=opts.environment,
            shared=shared,
        )

    def run_one(check: Check, model: ModelConfig | None) -> CheckResult:
        ctx = context(model, needs_for(check, model))
        if on_start is not None:
            on_start(check.name, model.name if model else None)
        began = time.perf_counter()
        try:
            outcome = _run_cached(check, ctx, cache)
        except MlopsCiError as exc:
            outcome = _errored(check, model, str(exc), "input")
        except Exception as exc:  # one crashing check must not take the others down
            # A library's exception text may quote its input: a short, scrubbed excerpt only.
            shown = excerpt(f"{exc.__class__.__name__}: {exc}", 300)
            outcome = _errored(check, model, shown, "internal")
        if hook is not None and outcome.status != "errored":
            outcome = hook(outcome, ctx)
        outcome = replace(outcome.with_status(fail_on), duration_s=time.perf_counter() - began)
        if on_result is not None:
            on_result(outcome)
        return outcome

    def prepare_one(check: Check, model: ModelConfig | None) -> None:
        ctx = context(model, {})
        with contextlib.suppress(Exception):  # the check's run meets the same error, and says it
            _prepare(check, ctx, cache)

    with ThreadPoolExecutor(max_workers=max(1, opts.max_workers)) as pool:
        preparing = [
            pool.submit(prepare_one, check, model)
            for check in checks
            if hasattr(check, "prepare")
            for model in (models if check.scope == "model" else [None])
        ]
        before, alone, after = run_phases(checks)

        def run_levels(phase: list[Check]) -> None:
            for level in dependency_levels(phase):
                futures = [
                    (c, m, pool.submit(run_one, c, m))
                    for c in level
                    for m in (models if c.scope == "model" else [None])
                ]
                for check, model, future in futures:
                    results[(check.name, model.name if model else None)] = future.result()

        run_levels(before)
        for future in preparing:
            future.result()  # nothing of this run may still be working while a timing runs
        for check in alone:
            for model in models if check.scope == "model" else [None]:
                results[(check.name, model.name if model else None)] = run_one(check, model)
        run_levels(after)

    ordered = tuple(results.values())
    return Report(
        tool_version=__version__,
        started_at=now.isoformat(timespec="seconds"),
        git=git or GitInfo(),
        models=tuple(ModelRef(m.name, m.path, m.card) for m in models),
        results=ordered,
        fail_on=fail_on,
        duration_s=round(time.perf_counter() - started, 3),
        environment=opts.environment,
        config_path=loaded.display(loaded.path) if loaded.path else None,
    )


def _run_cached(check: Check, ctx: Context, cache: ResultCache | None) -> CheckResult:
    """``check.run(ctx)``, or its stored result when the cache has one for the same inputs.

    The optional hooks ``restore``, ``attachment`` and ``storable`` are described in
    :mod:`mlops_ci.cache`.
    """
    key = cache.key(check, ctx) if cache is not None else None
    if cache is None or key is None:
        return check.run(ctx)
    stored = cache.get(key)
    if stored is not None:
        found, kept = stored
        restore = getattr(check, "restore", None)
        # A check that writes a file must make it again; when it cannot, it runs (fail closed).
        if restore is None or restore(ctx, found, kept):
            return found
        cache.miss()
    outcome = check.run(ctx)
    if outcome.status == "errored":
        return outcome
    storable = getattr(check, "storable", None)
    if storable is not None and not storable(ctx, outcome):
        return outcome
    # Only a check that prepares work ahead needs the hint that lets a warm run skip it.
    hint = (check, ctx) if hasattr(check, "prepare") else None
    attach = getattr(check, "attachment", None)
    if attach is None:
        cache.put(key, outcome, hint=hint)
    elif (attached := attach(ctx, outcome)) is not None:
        cache.put(key, outcome, attached, hint=hint)
    return outcome


def _prepare(check: Check, ctx: Context, cache: ResultCache | None) -> None:
    """``check.prepare(ctx)``, unless the cache likely holds its result (a warm re-run)."""
    if cache is not None and cache.likely_hit(check, ctx):
        return
    check.prepare(ctx)  # type: ignore[attr-defined]


def _errored(check: Check, model: ModelConfig | None, message: str, kind: str) -> CheckResult:
    return CheckResult(
        check=check.name,
        status="errored",
        model=model.name if model else None,
        detail=message,
        error_kind="input" if kind == "input" else "internal",
    )
