"""The ``bench`` check: latency statistics, absolute budgets and the regression gate.

In ``mlops-ci check`` it runs for models that have a ``bench:`` section (benchmarking needs the
dynamic dimensions and takes seconds); ``mlops-ci bench`` runs it for the model it names.
Settings come from the model's ``bench`` section, then ``MLOPS_CI_BENCH_*`` variables, then the
flags of ``mlops-ci bench`` (passed in ``ctx.options["bench"]``). Absolute budgets come from
``bench.budgets`` and from the card's ``governance.latency_budget``.

Facts for policies, under ``bench``: ``p50_ms``, ``p90_ms``, ``p95_ms``, ``p99_ms``,
``mean_ms``, ``max_ms``, ``samples``, ``throughput_per_s``, ``unstable``, ``ratio`` and
``ratio_ci`` (candidate over baseline), ``verdict`` (``pass``, ``fail``, ``inconclusive``, or
``none`` without a comparison), ``provider``, ``baseline``, ``loaded``, ``results`` (the JSON
results file) and ``notes``; with a comparison, the baseline's percentiles ``baseline_p50_ms``,
``baseline_p90_ms``, ``baseline_p95_ms``, ``baseline_p99_ms`` (the report's latency chart). A value that is unknown (no comparison, a model that did not load)
is absent, so ``has(bench.p90_ms)`` tells whether latency was measured.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import ValidationError

from mlops_ci.bench.session import SessionSettings
from mlops_ci.checks.base import Context, Scope, result, skipped
from mlops_ci.checks.onnx_model import onnx_files
from mlops_ci.config import BenchSettings
from mlops_ci.errors import UsageError
from mlops_ci.findings import CheckResult, Finding, JsonValue, Location, Severity
from mlops_ci.safepath import confine, require_regular

if TYPE_CHECKING:
    from mlops_ci.bench.compare import Decision
    from mlops_ci.bench.engine import BenchOutcome

OPTIONS_KEY = "bench"
PROGRESS_KEY = "bench_progress"
ENV_OVERRIDES = {
    "MLOPS_CI_BENCH_PROVIDER": "provider",
    "MLOPS_CI_BENCH_BASELINE": "baseline",
    "MLOPS_CI_BENCH_BUDGET_S": "budget_s",
    "MLOPS_CI_BENCH_MARGIN_PCT": "margin_pct",
}
FACT_KEYS = ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "mean_ms", "max_ms")
BASELINE_KEYS = ("p50_ms", "p90_ms", "p95_ms", "p99_ms")


def effective_settings(
    settings: BenchSettings, overrides: Mapping[str, Any], environ: Mapping[str, str]
) -> BenchSettings:
    """The model's settings with ``MLOPS_CI_BENCH_*`` variables, then flags, applied."""
    data = settings.model_dump()
    for variable, key in ENV_OVERRIDES.items():
        if environ.get(variable):
            data[key] = environ[variable]
    for key, value in overrides.items():
        if value is None:
            continue
        data[key] = {**data["dims"], **value} if key == "dims" else value
    try:
        return BenchSettings.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in error["loc"])
        raise UsageError(
            f"bench setting {where}: {error['msg'][:1].lower()}{error['msg'][1:]}"
            " (from a flag or an MLOPS_CI_BENCH_* variable)"
        ) from None


@dataclass(frozen=True)
class CardBudget:
    """The card's ``governance.latency_budget``: limits in ms, and the batch size they hold at."""

    limits: dict[str, float]
    batch: int | None = None


def card_budgets(ctx: Context) -> CardBudget:
    """Latency budgets declared in the model card (``governance.latency_budget``).

    A card that cannot be read or validated declares none here: the ``card`` check reports it.
    """
    from mlops_ci.card.validate import read_card_text, validate_card
    from mlops_ci.errors import MlopsCiError

    model = ctx.model
    if model is None or model.card is None:
        return CardBudget({})
    path = ctx.loaded.resolve(model.card)
    if not path.is_file():
        return CardBudget({})
    shown, sections = ctx.display(path), ctx.config.cards.required_sections
    try:  # the card check's arguments: the lone bench reuses its memoised parse (~0.04 s)
        card = validate_card(read_card_text(path, shown), shown, sections)
    except MlopsCiError:
        return CardBudget({})
    governance = card.metadata.governance if card.metadata is not None else None
    budget = governance.latency_budget if governance is not None else None
    if budget is None:
        return CardBudget({})
    limits = {
        key: float(value)
        for key in ("p50_ms", "p90_ms", "p99_ms")
        if (value := getattr(budget, key)) is not None
    }
    return CardBudget(limits, budget.batch)


def merged_budgets(
    config: Mapping[str, float], card: Mapping[str, float]
) -> list[dict[str, JsonValue]]:
    """Budgets from the config and the card; where both set one statistic, the stricter wins."""
    merged: dict[str, dict[str, JsonValue]] = {}
    for source, budgets in (("mlops-ci.yaml bench.budgets", config), ("model card", card)):
        for statistic, limit in budgets.items():
            current = merged.get(statistic)
            if current is None or float(limit) < float(current["limit_ms"]):
                merged[statistic] = {"statistic": statistic, "limit_ms": limit, "source": source}
    return [merged[key] for key in sorted(merged)]


class BenchCheck:
    """Benchmarks each model with onnxruntime and gates on budgets and regressions."""

    name: ClassVar[str] = "bench"
    needs: ClassVar[tuple[str, ...]] = ()
    scope: ClassVar[Scope] = "model"
    # Timings are taken with nothing else of the run working (runner.run_phases).
    runs_alone: ClassVar[bool] = True

    def run(self, ctx: Context) -> CheckResult:
        """Benchmark ``ctx.model``; see the module docstring for facts and settings."""
        from mlops_ci.bench.baseline import environment_baseline, resolve_baseline
        from mlops_ci.bench.engine import BenchPlan, run_bench
        from mlops_ci.bench.inputs import InputShape
        from mlops_ci.bench.session import ModelLoadError

        model = ctx.current_model
        requested = ctx.options.get(OPTIONS_KEY)
        if requested is None and "bench" not in model.model_fields_set:
            # Benchmarking is opt-in for `mlops-ci check`: it needs dims and takes seconds.
            return skipped(
                ctx,
                self.name,
                f"model {model.name!r} has no bench: section; add one (dims, baseline, budgets)"
                " to benchmark it",
            )
        settings = effective_settings(model.bench, requested or {}, os.environ)
        target = ctx.loaded.resolve(model.path, "models.path")  # `bench PATH` gives its own
        files = onnx_files(target) if target.is_dir() else [target]
        if not files:
            return skipped(ctx, self.name, f"no .onnx file under {ctx.display(target)}")
        if len(files) > 1:
            return skipped(
                ctx,
                self.name,
                f"{len(files)} .onnx files under {ctx.display(target)}; point the model's path"
                " at the one to benchmark",
            )
        path, display = files[0], ctx.display(files[0])
        # onnxruntime and numpy open what they are given: a FIFO would block them forever.
        require_regular(path, what=f"model {display}", max_bytes=_NO_CAP)
        if settings.npz:
            npz = _confined(ctx.root, settings.npz, "bench.npz")
            if npz.exists():
                require_regular(npz, what=f"bench.npz {settings.npz}", max_bytes=_NO_CAP)
        baseline = None
        if settings.baseline and settings.baseline.startswith("env:"):
            baseline = environment_baseline(ctx.loaded, model.name, settings.baseline[4:])
        elif settings.baseline:
            baseline = resolve_baseline(settings.baseline, path, cwd=ctx.root, display=display)
        plan = BenchPlan(
            name=model.name,
            model=path,
            display=display,
            dims=dict(settings.dims),
            shapes={k: InputShape(tuple(v.shape), v.dtype) for k, v in settings.inputs.items()},
            npz=_confined(ctx.root, settings.npz, "bench.npz") if settings.npz else None,
            npz_display=settings.npz or "",
            settings=SessionSettings(
                provider=settings.provider,
                graph_optimization=settings.graph_optimization,
                intra_op_threads=settings.intra_op_threads,
                inter_op_threads=settings.inter_op_threads,
                device_id=settings.device_id,
            ),
            budget_s=settings.budget_s,
            margin=settings.margin_pct / 100,
            confidence=settings.confidence,
            seed=settings.seed,
            baseline=baseline,
        )
        try:
            outcome = run_bench(plan, ctx.options.get(PROGRESS_KEY))
        except ModelLoadError as exc:
            finding = ctx.finding(
                "BENCH-LOAD",
                Severity.HIGH,
                f"onnxruntime cannot load {display}: {exc}",
                Location(display),
            )
            facts = _facts(None, settings.provider, None, [str(exc)])
            return result(ctx, self.name, [finding], facts=facts, summary={"load": "failed"})
        return self._conclude(ctx, model.name, settings, outcome)

    def _conclude(
        self, ctx: Context, name: str, settings: BenchSettings, outcome: BenchOutcome
    ) -> CheckResult:
        from mlops_ci.bench.results import outcome_document, write_results

        config_budgets = {str(key): value for key, value in settings.budgets.items()}
        card = card_budgets(ctx)
        notes = list(outcome.notes)
        batch = _batch_of(outcome)
        if card.limits and card.batch is not None and card.batch != batch:
            notes.append(
                f"the card's latency budget holds at batch {card.batch}, this run used batch"
                f" {batch}: the card's budget is not applied"
            )
            card = CardBudget({})
        budgets = merged_budgets(config_budgets, card.limits)
        summary = outcome.candidate.summary.to_dict()
        findings = _budget_findings(ctx, outcome, summary, budgets)
        decision = outcome.decision
        if decision is not None and decision.verdict != "pass":
            # An undecided comparison is never a silent pass: it is said, at a severity the
            # repository chooses (a waiver or fail_on decides whether it blocks).
            findings.append(_comparison_finding(ctx, outcome, decision, settings))
        results_path = results_path_for(ctx.root, name, settings.results)
        document = outcome_document(
            outcome,
            model_name=name,
            started_at=ctx.now.isoformat(timespec="seconds"),
            budgets=budgets,
        )
        write_results(results_path, document)
        shown = ctx.display(results_path)
        facts = _facts(summary, outcome.provider.name, decision, notes)
        facts["results"] = shown
        if outcome.baseline_label is not None:
            facts["baseline"] = outcome.baseline_label
        if decision is not None:
            facts.update(_baseline_percentiles(outcome))
        metrics = {key: float(summary[key]) for key in ("p50_ms", "p90_ms", "p99_ms")}
        if decision is not None:
            metrics["ratio"] = round(decision.ratio, 5)
        return result(
            ctx,
            self.name,
            findings,
            metrics=metrics,
            facts=facts,
            artifacts=(shown,),
            summary=_summary(summary, outcome),
        )


def _facts(
    summary: Mapping[str, Any] | None,
    provider: str,
    decision: Decision | None,
    notes: list[str],
) -> dict[str, JsonValue]:
    """The policy facts; a value that is unknown is absent, so ``has(bench.x)`` tells."""
    facts: dict[str, JsonValue] = {
        "verdict": decision.verdict if decision else "none",
        "provider": provider,
        "loaded": summary is not None,
        "notes": notes,
    }
    if summary is not None:
        facts.update({key: summary[key] for key in FACT_KEYS})
        facts.update(
            samples=summary["samples"],
            throughput_per_s=summary["throughput_per_s"],
            unstable=summary["unstable"],
        )
    if decision is not None:
        facts.update(ratio=round(decision.ratio, 5), ratio_ci=[round(v, 5) for v in decision.ci])
    return facts


def _baseline_percentiles(outcome: BenchOutcome) -> dict[str, JsonValue]:
    """The compared baseline's percentiles in ms: measured in this run, or from the stored
    results' samples (a comparison only happens in the same environment)."""
    from mlops_ci.bench.baseline import StoredBaseline

    if outcome.baseline is not None:
        summary = outcome.baseline.summary.to_dict()
        return {f"baseline_{key}": summary[key] for key in BASELINE_KEYS}
    stored = outcome.plan.baseline
    if not isinstance(stored, StoredBaseline) or not stored.results.samples_ns:
        return {}
    import numpy as np

    values = np.percentile(
        np.asarray(stored.results.samples_ns, dtype=np.float64), [50, 90, 95, 99]
    )
    return {
        f"baseline_{key}": round(float(v) / 1e6, 6)
        for key, v in zip(BASELINE_KEYS, values, strict=True)
    }


def _batch_of(outcome: BenchOutcome) -> int | None:
    """The batch size of a run: the first dimension of the first input."""
    shapes = [f["shape"] for f in outcome.feed_shapes if f["shape"]]
    return int(shapes[0][0]) if shapes else None


def _budget_findings(
    ctx: Context,
    outcome: BenchOutcome,
    summary: Mapping[str, Any],
    budgets: list[dict[str, JsonValue]],
) -> list[Finding]:
    findings = []
    display = outcome.plan.display
    for budget in budgets:
        statistic = str(budget["statistic"])
        value, limit = float(summary[statistic]), float(budget["limit_ms"])
        if value <= limit:
            continue
        name = statistic.removesuffix("_ms")
        message = (
            f"{name} latency {value:.4g} ms exceeds the budget of {limit:g} ms"
            f" ({budget['source']}) on {outcome.provider.name}"
        )
        findings.append(
            ctx.finding("BENCH-BUDGET", Severity.HIGH, message, Location(display), statistic)
        )
    return findings


def _comparison_finding(
    ctx: Context, outcome: BenchOutcome, decision: Decision, settings: BenchSettings
) -> Finding:
    """BENCH-REGRESSION for a failed comparison, BENCH-INCONCLUSIVE for an undecided one."""
    interval = (
        f"median ratio {decision.ratio:.3f}, {decision.confidence:.0%} CI"
        f" {decision.ci[0]:.3f}–{decision.ci[1]:.3f}"
    )
    if decision.verdict == "fail":
        rule, severity = "BENCH-REGRESSION", Severity.HIGH
        message = (
            f"latency regressed {decision.ratio - 1:+.1%} against {outcome.baseline_label}:"
            f" {interval}, above the {decision.margin:.0%} margin"
        )
    else:
        rule, severity = "BENCH-INCONCLUSIVE", settings.inconclusive_severity
        message = (
            f"latency against {outcome.baseline_label} could not be decided: {interval}"
            f" straddles the {decision.margin:.0%} margin"
        )
    location = Location(outcome.plan.display)
    return ctx.finding(rule, severity, message, location, settings.baseline)


def _summary(summary: Mapping[str, Any], outcome: BenchOutcome) -> dict[str, str]:
    p50, p90 = float(summary["p50_ms"]), float(summary["p90_ms"])
    unit = latency_unit(p50, p90)  # one unit for the line: "8.5 µs, 0.012 ms" reads as a typo
    figures = {"p50": format_latency(p50, unit), "p90": format_latency(p90, unit)}
    decision = outcome.decision
    if decision is not None:
        figures["verdict"] = (
            f"{decision.verdict.upper()} (ratio {decision.ratio:.3f},"
            f" CI {decision.ci[0]:.3f}–{decision.ci[1]:.3f})"
        )
    else:
        figures["verdict"] = "no baseline"
    figures["provider"] = outcome.provider.name
    if summary["unstable"]:
        figures["stability"] = "unstable"
    return figures


_UNITS = {"µs": 1000.0, "ms": 1.0, "s": 0.001}  # per millisecond


def latency_unit(*values_ms: float) -> str:
    """The one unit in which to show latencies given in ms: that of the largest."""
    largest = max(values_ms, default=0.0)
    return "µs" if largest < 1 else "ms" if largest < 1000 else "s"


def format_latency(value_ms: float, unit: str) -> str:
    """``value_ms`` (milliseconds) in ``unit``, three significant figures."""
    return f"{value_ms * _UNITS[unit]:.3g} {unit}"


def results_path_for(root: Path, name: str, configured: str | None) -> Path:
    """Where the results file of model ``name`` goes (inside the repository, see _confined)."""
    return _confined(root, configured or f".mlops-ci/bench/{name}.json", "bench.results")


_NO_CAP = 1 << 62  # models and input data are as big as they are; only their type is checked


def _confined(root: Path, path: str, what: str) -> Path:
    # The configuration's relative paths were confined when it loaded; an absolute one here
    # came from a flag of `mlops-ci bench` (the pipeline's), which may lie outside the
    # repository, but never through a symlink planted inside it.
    return confine(path, root, what=what, trusted=Path(path).is_absolute())
