"""The ``eval`` check: model quality and fairness measured against the running model.

In ``mlops-ci check`` it runs for models that have an ``eval:`` section (it scores a data set
twice and takes seconds); ``mlops-ci eval`` runs it for the model it names. Settings come from
the model's ``eval`` section, then the flags of ``mlops-ci eval`` (``ctx.options["eval"]``:
``data``, ``baseline``).

The baseline (``eval.baseline`` or ``--baseline``) is resolved as ``bench --baseline`` does:
``env:ENV`` (the bytes the environment's state entry names), an ``.onnx`` file, or a git ref.
Unset, it is the model the candidate would replace next: the run's target environment when
there is one, else the first environment (ladder order) whose state entry for this model
differs from the candidate; when that environment does not run the model yet (or none does),
the model as committed on the default branch (``origin/HEAD``, else ``main`` or ``master``).
A model that has no baseline anywhere is new: verdict ``none``, with a note, and no error.

Findings are built in :mod:`mlops_ci.checks.eval_report`; facts and key figures (their layout
documented there) in :mod:`mlops_ci.checks.eval_facts`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import ValidationError

from mlops_ci.checks.base import Context, Scope, card_inputs, model_inputs, skipped
from mlops_ci.checks.onnx_model import onnx_files
from mlops_ci.errors import ConfigError, InputError, UsageError
from mlops_ci.eval.settings import EvalSettings
from mlops_ci.findings import CheckResult
from mlops_ci.safepath import confine, require_regular

if TYPE_CHECKING:
    from mlops_ci.bench.baseline import Baseline, ModelBaseline
    from mlops_ci.config import LoadedConfig
    from mlops_ci.eval.types import EvalOutcome

OPTIONS_KEY = "eval"
DATA_KEY = "models.eval.data"
_NO_CAP = 1 << 62  # models and data sets are as big as they are; only their type is checked
_CONFIG_KEYS = "eval.metrics, eval.gate, eval.thresholds, eval.fairness or eval.positive_label"


def effective_settings(settings: EvalSettings, overrides: Mapping[str, Any]) -> EvalSettings:
    """The model's ``eval`` section with the flags of ``mlops-ci eval`` applied."""
    data = settings.model_dump()
    data.update({key: value for key, value in overrides.items() if value is not None})
    try:
        return EvalSettings.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in error["loc"])
        raise UsageError(f"eval setting {where}: {error['msg']} (from a flag)") from None


class EvalCheck:
    """Scores the evaluation data with the candidate and the baseline; gates on the difference."""

    name: ClassVar[str] = "eval"
    needs: ClassVar[tuple[str, ...]] = ()
    scope: ClassVar[Scope] = "model"

    def inputs(self, ctx: Context) -> list[Path]:
        """The model's files, its card (claims and thresholds) and the evaluation data.

        A result is a function of these, the settings, the baseline's bytes (see
        :meth:`cache_material`) and the measuring libraries' versions: a re-run on an unchanged
        tree is answered from the cache instead of scoring the data twice again.
        """
        model = ctx.current_model
        if model.eval is None:
            return []
        overrides = dict(ctx.options.get(OPTIONS_KEY) or {})
        settings = effective_settings(model.eval, overrides)
        data = self._data_path(ctx, settings, from_flag=overrides.get("data") is not None)
        return [*model_inputs(ctx), *card_inputs(ctx), data]

    def cache_material(self, ctx: Context) -> dict[str, Any]:
        """The baseline (its label and the digest of its bytes: the state file or git ref that
        chose it is not a file of the work tree) and the versions of the measuring libraries."""
        from importlib.metadata import version

        from mlops_ci.bench.baseline import ModelBaseline
        from mlops_ci.eval.engine import model_digest

        model = ctx.current_model
        if model.eval is None:
            return {}
        settings = effective_settings(model.eval, dict(ctx.options.get(OPTIONS_KEY) or {}))
        target = ctx.loaded.resolve(model.path, "models.path")
        files = onnx_files(target) if target.is_dir() else [target]
        if len(files) != 1 or not files[0].is_file():
            return {"candidates": len(files)}  # the run skips or refuses it: nothing to key
        baseline = resolve_eval_baseline(ctx, settings.baseline, files[0], ctx.display(files[0]))
        digest = model_digest(baseline.model) if isinstance(baseline, ModelBaseline) else None
        libraries = ("numpy", "onnxruntime", "scikit-learn", "fairlearn", "pyarrow", "scipy")
        return {
            "baseline": [baseline.label, digest],
            "libraries": {name: version(name) for name in libraries},
        }

    def run(self, ctx: Context) -> CheckResult:
        """Evaluate ``ctx.model``; see the module docstring for settings and the baseline."""
        from mlops_ci.bench.baseline import ModelBaseline, NoBaseline
        from mlops_ci.checks.eval_report import conclude

        model = ctx.current_model
        requested = ctx.options.get(OPTIONS_KEY)
        if model.eval is None:
            if requested is not None:
                raise UsageError(
                    f"model {model.name!r} has no eval: section in the configuration; add one"
                    " (data, label, features) to evaluate it"
                )
            # Evaluation is opt-in for `mlops-ci check`: it needs a data set and takes seconds.
            return skipped(
                ctx,
                self.name,
                f"model {model.name!r} has no eval: section; add one (data, label, features,"
                " metrics, gate) to measure its quality against the running model",
            )
        overrides = dict(requested or {})
        settings = effective_settings(model.eval, overrides)
        target = ctx.loaded.resolve(model.path, "models.path")
        files = onnx_files(target) if target.is_dir() else [target]
        if len(files) != 1:
            count = "no" if not files else str(len(files))
            return skipped(
                ctx,
                self.name,
                f"{count} .onnx files under {ctx.display(target)}; point the model's path at the"
                " one to evaluate",
            )
        candidate, display = files[0], ctx.display(files[0])
        require_regular(candidate, what=f"model {display}", max_bytes=_NO_CAP)
        data_path = self._data_path(ctx, settings, from_flag=overrides.get("data") is not None)
        data_display = ctx.display(data_path)
        baseline = resolve_eval_baseline(ctx, settings.baseline, candidate, display)
        notes: list[str] = []
        if isinstance(baseline, ModelBaseline):
            base_model: Path | bytes | None = baseline.model
            base_label: str | None = baseline.label
        elif isinstance(baseline, NoBaseline):
            base_model, base_label = None, None
            notes.append(baseline.reason)
        else:  # stored results are refused before; a baseline must be a model to score
            raise InputError(f"eval baseline {baseline.label!r} is not a model")
        from mlops_ci.eval.model import ModelUnloadable

        try:
            with tempfile.TemporaryDirectory(prefix="mlops-ci-eval-") as scratch:
                if isinstance(baseline, ModelBaseline):
                    base_model = with_external_data(baseline, Path(scratch))
                outcome = _run(
                    candidate, display, base_model, base_label, data_path, data_display, settings
                )
        except ModelUnloadable as exc:
            if exc.model != display:
                raise  # a baseline that cannot be scored leaves no comparison: bad input
            # The candidate itself does not load: the onnx-model check's finding says so (one
            # finding, not one per gate); alone, a run of only skipped checks exits 2.
            return skipped(ctx, self.name, f"{display}: {exc.message}")
        except ValueError as exc:
            # The stats modules refuse unknown metric names and wrong directions this way.
            raise ConfigError(
                f"models.eval of {model.name!r}: {exc}; fix {_CONFIG_KEYS} in the configuration",
                ctx.loaded.where("models", _model_index(ctx), "eval"),
            ) from None
        return conclude(ctx, self.name, settings, outcome, notes)

    @staticmethod
    def _data_path(ctx: Context, settings: EvalSettings, *, from_flag: bool) -> Path:
        if from_flag:
            # A --data flag is the pipeline's: it may lie outside the repository, but never
            # through a symlink planted inside it.
            path = confine(settings.data, ctx.root, what="--data", trusted=True)
        else:
            path = ctx.loaded.resolve(settings.data, DATA_KEY)
        if not path.exists():
            if from_flag:
                raise InputError(f"EVAL-DATA: --data {ctx.display(path)} does not exist")
            raise InputError(
                f"EVAL-DATA: the evaluation data {ctx.display(path)} does not exist; fix"
                " eval.data, or give --data",
                ctx.loaded.where("models", _model_index(ctx), "eval", "data"),
            )
        return path


def _model_index(ctx: Context) -> int:
    names = [m.name for m in ctx.config.models]
    return names.index(ctx.current_model.name) if ctx.current_model.name in names else 0


def _run(
    candidate: Path,
    display: str,
    baseline: Path | bytes | None,
    baseline_label: str | None,
    data_path: Path,
    data_display: str,
    settings: EvalSettings,
) -> EvalOutcome:
    """Open the data and run the engine (the only place the measuring modules are imported)."""
    from mlops_ci.eval.data import open_data
    from mlops_ci.eval.engine import EvalPlan, run_eval

    plan = EvalPlan(
        candidate=candidate,
        candidate_display=display,
        baseline=baseline,
        baseline_label=baseline_label,
        data=open_data(data_path, data_display),
        settings=settings,
    )
    outcome: EvalOutcome = run_eval(plan)
    return outcome


def resolve_eval_baseline(
    ctx: Context, spec: str | None, candidate: Path, display: str
) -> Baseline:
    """The baseline model of an evaluation: ``spec`` as ``bench --baseline`` reads it, or the
    default (see the module docstring). A stored bench results file is refused (exit 2).

    Resolved once per run (kept in ``ctx.shared``): the cache key and the run read the same
    state files and git objects, and the candidate is not hashed again.
    """
    key = f"eval-baseline:{ctx.current_model.name}:{spec}:{candidate}"
    found = ctx.shared.get(key)
    if found is None:
        found = ctx.shared[key] = _resolve_baseline(ctx, spec, candidate, display)
    resolved: Baseline = found
    return resolved


def _resolve_baseline(ctx: Context, spec: str | None, candidate: Path, display: str) -> Baseline:
    from mlops_ci.bench.baseline import environment_baseline, resolve_baseline

    model = ctx.current_model.name
    if spec is None:
        return default_baseline(ctx.loaded, model, candidate, display, ctx.environment)
    if spec.startswith("env:"):
        return environment_baseline(ctx.loaded, model, spec[4:])
    if Path(spec).suffix.lower() == ".json":
        raise InputError(
            f"eval baseline {spec!r}: a stored results file holds latencies, not a model; give"
            " env:ENV, a git ref or an .onnx file"
        )
    return resolve_baseline(spec, candidate, cwd=ctx.root, display=display)


def default_baseline(
    loaded: LoadedConfig, model: str, candidate: Path, display: str, environment: str | None
) -> Baseline:
    """The model the candidate would replace next; the default branch's; or none (a new model)."""
    from mlops_ci.bench.baseline import (
        ModelBaseline,
        NoBaseline,
        environment_baseline,
        resolve_baseline,
    )
    from mlops_ci.eval.engine import model_digest
    from mlops_ci.gitops import default_branch

    ladder = [environment] if environment else list(loaded.config.environments)
    mine = model_digest(candidate)
    for name in ladder:
        found = environment_baseline(loaded, model, name)
        if not isinstance(found, ModelBaseline):
            break  # the model would go here next, and nothing runs here to compare against
        if environment is not None or model_digest(found.model) != mine:
            return found
        # This environment already runs the candidate: the next one is what it replaces.
    branch = default_branch(loaded.root)
    if branch is None:
        return NoBaseline(
            "default branch",
            "no environment runs this model and no default branch (origin/HEAD, main, master)"
            " was found: a new model has no baseline",
        )
    return resolve_baseline(branch, candidate, cwd=loaded.root, display=display)


def with_external_data(baseline: ModelBaseline, scratch: Path) -> Path | bytes:
    """The baseline as onnxruntime can load it: bytes read at a git ref that name external
    data files are written under ``scratch`` with those files as committed at the same ref.

    The locations are the graph's own, refused unless plain relative paths without ``..``
    (:func:`~mlops_ci.scan.onnx_scan.location_problem` on the written tree), so nothing is
    written outside ``scratch``.
    """
    from mlops_ci.gitops import read_file_at_ref
    from mlops_ci.onnx_graph import model_class
    from mlops_ci.scan.onnx_scan import external_locations, location_problem

    if not isinstance(baseline.model, bytes) or baseline.ref is None or baseline.source is None:
        return baseline.model
    try:
        graph = model_class()()  # the protobuf only (no ``import onnx``): bytes hold no data
        graph.ParseFromString(baseline.model)
    except Exception:  # not an ONNX protobuf: the engine says it cannot load the baseline
        return baseline.model
    locations = sorted({location for _, location in external_locations(graph)})
    if not locations:
        return baseline.model
    target = scratch / baseline.source.name
    target.write_bytes(baseline.model)
    for location in locations:
        plain = bool(location) and not {"\x00", "\\"} & set(location)
        plain = plain and not Path(location).is_absolute()
        if not plain or ".." in Path(location).parts:
            raise InputError(
                f"the baseline {baseline.label} names external data {location!r} outside its"
                " directory; give another baseline"
            )
        data, short = read_file_at_ref(baseline.source.parent / location, baseline.ref)
        if data is None:
            raise InputError(
                f"the baseline {baseline.label} names external data {location!r}, which is not"
                f" a file next to it at {short}; give another baseline"
            )
        written = scratch / location
        written.parent.mkdir(parents=True, exist_ok=True)
        written.write_bytes(data)
    refused = [loc for loc in locations if location_problem(loc, scratch) is not None]
    if refused:
        raise InputError(
            f"the baseline {baseline.label} names external data {refused[0]!r} outside its"
            " directory; give another baseline"
        )
    return target
