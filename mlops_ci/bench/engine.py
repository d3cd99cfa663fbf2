"""One benchmark run, from a plan to an outcome: sessions, inputs, warm-up, timing, verdict.

The time budget covers warm-up and timed runs (not loading the models). With a baseline model,
both models are measured interleaved (see :mod:`mlops_ci.bench.compare`) and the candidate's
statistics come from the same interleaved samples. Without one, the candidate is measured until
its p90 is known to within :data:`PRECISION` (and at least :data:`SINGLE_MIN_SAMPLES` samples),
or until the budget ends.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_ci.bench import compare, fingerprint, inputs, session, stats, timing
from mlops_ci.bench.baseline import Baseline, ModelBaseline, NoBaseline, StoredBaseline
from mlops_ci.bench.inputs import InputShape
from mlops_ci.bench.session import SessionSettings
from mlops_ci.errors import InputError, SourcePosition

PRECISION = 0.02
SINGLE_MIN_SAMPLES = 1000
WARMUP_MAX_S = 2.0
WARMUP_SHARE = 0.15


@dataclass(frozen=True)
class BenchPlan:
    """Everything one benchmark run needs, already resolved from config and flags."""

    name: str
    model: Path
    display: str
    dims: Mapping[str, int] = field(default_factory=dict)
    shapes: Mapping[str, InputShape] = field(default_factory=dict)
    npz: Path | None = None
    npz_display: str = ""
    settings: SessionSettings = field(default_factory=SessionSettings)
    budget_s: float = 20.0
    margin: float = 0.05
    confidence: float = 0.95
    seed: int = 0
    baseline: Baseline | None = None


@dataclass(frozen=True)
class Measurement:
    """The samples and statistics of one model in one run."""

    label: str
    samples_ns: tuple[int, ...]
    summary: stats.Summary
    warmup: timing.WarmUp | None


@dataclass(frozen=True)
class BenchOutcome:
    """What a run measured and concluded."""

    plan: BenchPlan
    provider: session.ProviderChoice
    fingerprint: fingerprint.Fingerprint
    feed_shapes: tuple[dict[str, Any], ...]
    candidate: Measurement
    baseline: Measurement | None = None
    baseline_label: str | None = None
    decision: compare.Decision | None = None
    blocks: tuple[dict[str, Any], ...] = ()
    notes: tuple[str, ...] = ()
    seconds: float = 0.0  # the whole run, loading the models included
    measured_s: float = 0.0  # warm-up and timed runs: what the budget bounds


def prepare_feeds(sess: Any, plan: BenchPlan, where: str) -> dict[str, Any]:
    """The inputs for ``sess``: from the plan's .npz file, or synthesised from the graph."""
    graph = inputs.graph_inputs(sess)
    if plan.npz is not None:
        return inputs.load_npz(plan.npz, graph, plan.npz_display or str(plan.npz))
    return inputs.synthesise(graph, plan.dims, plan.shapes, where, seed=plan.seed)


def start_runner(
    label: str, sess: Any, feeds: dict[str, Any], choice: session.ProviderChoice, plan: BenchPlan
) -> timing.Runner:
    """A runner for ``sess`` that has run once: a model that fails on the inputs is exit 2."""
    try:
        runner = timing.make_runner(label, sess, feeds, choice.device, plan.settings.device_id)
        runner.call()
    except session.onnxruntime_errors() as exc:
        shapes = ", ".join(f"{f['name']} {f['shape']}" for f in inputs.describe_feeds(feeds))
        raise InputError(
            f"onnxruntime cannot run the {label} with the benchmark inputs ({shapes}):"
            f" {session.describe_load_error(exc)}; check the --dim values, bench.dims or"
            " bench.npz",
            SourcePosition(plan.display),
        ) from None
    return runner


def run_bench(plan: BenchPlan, progress: timing.Progress | None = None) -> BenchOutcome:
    """Measure the plan's model (and its baseline) and decide.

    Raises :class:`~mlops_ci.bench.session.ModelLoadError` when the candidate cannot be loaded
    and :class:`~mlops_ci.errors.InputError` for missing dimensions, bad inputs or providers.
    """
    started = time.perf_counter()
    choice = session.resolve_providers(plan.settings.provider, session.available_providers())
    candidate_session, choice = session.open_session(plan.model, plan.settings, choice)
    feeds = prepare_feeds(candidate_session, plan, plan.display)
    notes: list[str] = []
    baseline_session = None
    baseline = plan.baseline
    if isinstance(baseline, NoBaseline):
        notes.append(baseline.reason)
    if isinstance(baseline, ModelBaseline):
        try:
            baseline_session, got = session.open_session(baseline.model, plan.settings, choice)
        except session.ModelLoadError as exc:
            notes.append(f"the baseline {baseline.label} cannot be loaded ({exc}); no comparison")
        else:
            if got.providers != choice.providers:
                notes.append(
                    f"the baseline runs on {', '.join(got.providers)}, the candidate on"
                    f" {', '.join(choice.providers)}; no comparison"
                )
                baseline_session = None
    threads = f"intra={plan.settings.intra_op_threads},inter={plan.settings.inter_op_threads}"
    env = fingerprint.collect(
        choice.name, threads, device=choice.device, device_id=plan.settings.device_id
    )
    candidate = start_runner("candidate", candidate_session, feeds, choice, plan)
    warm_limit = min(WARMUP_MAX_S, WARMUP_SHARE * plan.budget_s)
    began = time.perf_counter()
    outcome: dict[str, Any] = {}
    if baseline_session is not None and isinstance(baseline, ModelBaseline):
        base_feeds = _baseline_feeds(baseline_session, candidate_session, feeds, plan)
        base_runner = start_runner("baseline", baseline_session, base_feeds, choice, plan)
        warm_base = timing.warm_up(base_runner, warm_limit, progress=progress)
        warm_cand = timing.warm_up(candidate, warm_limit, progress=progress)
        per_run = max(_last(warm_base), _last(warm_cand))
        result = compare.compare_interleaved(
            base_runner,
            candidate,
            per_run_ns=per_run,
            budget_s=max(0.1, plan.budget_s - (time.perf_counter() - began)),
            margin=plan.margin,
            confidence=plan.confidence,
            seed=plan.seed,
            progress=progress,
        )
        outcome["measured_s"] = time.perf_counter() - began
        outcome["baseline"] = _measurement("baseline", result.baseline_samples, warm_base, plan)
        outcome["candidate"] = _measurement("candidate", result.candidate_samples, warm_cand, plan)
        outcome["decision"] = result.decision
        outcome["blocks"] = result.blocks
        outcome["baseline_label"] = baseline.label
    else:
        warm = timing.warm_up(candidate, warm_limit, progress=progress)
        remaining = max(0.1, plan.budget_s - (time.perf_counter() - began))
        samples = measure(candidate, _last(warm), remaining, plan.confidence, progress)
        outcome["measured_s"] = time.perf_counter() - began
        outcome["candidate"] = _measurement("candidate", samples, warm, plan)
        if isinstance(baseline, StoredBaseline):
            outcome.update(_stored_decision(baseline, env, samples, plan, notes))
    return BenchOutcome(
        plan=plan,
        provider=choice,
        fingerprint=env,
        feed_shapes=tuple(inputs.describe_feeds(feeds)),
        notes=tuple(notes),
        seconds=time.perf_counter() - started,
        **outcome,
    )


def _baseline_feeds(
    baseline_session: Any, candidate_session: Any, feeds: dict[str, Any], plan: BenchPlan
) -> dict[str, Any]:
    """The candidate's own arrays when the signatures agree (same data for both models)."""
    if inputs.graph_inputs(baseline_session) == inputs.graph_inputs(candidate_session):
        return feeds
    return prepare_feeds(baseline_session, plan, f"{plan.display} (baseline)")


def _stored_decision(
    baseline: StoredBaseline,
    env: fingerprint.Fingerprint,
    samples: Sequence[int],
    plan: BenchPlan,
    notes: list[str],
) -> dict[str, Any]:
    differ = fingerprint.differences(env.to_dict(), baseline.results.fingerprint)
    if differ:
        notes.append(
            f"the stored baseline {baseline.label} comes from another environment"
            f" ({'; '.join(differ)}): no comparison, absolute budgets only"
        )
        return {"baseline_label": baseline.label}
    decision = compare.compare_stored(
        baseline.results.samples_ns,
        samples,
        margin=plan.margin,
        confidence=plan.confidence,
        seed=plan.seed,
    )
    return {"decision": decision, "baseline_label": baseline.label}


def _last(warm: timing.WarmUp) -> float:
    return warm.window_medians_ns[-1] if warm.window_medians_ns else 0.0


def _measurement(
    label: str, samples: Sequence[int], warm: timing.WarmUp | None, plan: BenchPlan
) -> Measurement:
    summary = stats.summarise(samples, plan.confidence)
    return Measurement(label, tuple(samples), summary, warm)


def measure(
    runner: timing.Runner,
    per_run_ns: float,
    budget_s: float,
    confidence: float,
    progress: timing.Progress | None = None,
) -> list[int]:
    """Timed runs of one model until its p90 is precise enough, or the budget ends."""
    import numpy as np

    runs = timing.runs_for(timing.BLOCK_TARGET_S, per_run_ns)
    samples: list[int] = []
    began = time.perf_counter()
    next_check = compare.MIN_SAMPLES
    blocks = 0
    while True:
        samples.extend(runner.time(runs))
        blocks += 1
        elapsed = time.perf_counter() - began
        if elapsed * (blocks + 1) / blocks >= budget_s:  # another block would overrun
            break
        if len(samples) + runs > compare.MAX_SAMPLES:
            break
        if len(samples) >= next_check:
            next_check = int(len(samples) * 1.25) + 1
            p90 = float(np.percentile(samples, 90))
            ci = stats.quantile_ci(samples, 0.9, confidence)
            precise = stats.relative_half_width(ci, p90) <= PRECISION
            if precise and (len(samples) >= SINGLE_MIN_SAMPLES or elapsed >= budget_s / 2):
                break
            if progress is not None:
                progress(f"{len(samples)} samples, p90 {p90 / 1e6:.3f} ms", elapsed / budget_s)
    return samples
