"""Where the baseline comes from: an .onnx file, a git ref, or a stored results file.

``--baseline`` takes, in this order of interpretation:

1. an existing ``.json`` file: results stored by an earlier run (compared only when the
   environment fingerprints match);
2. an existing file of any other kind: an ONNX model, measured in the same run;
3. otherwise a git ref (``origin/main``, a tag, a SHA): the same model path as committed at that
   ref, measured in the same run. A ref that does not exist is an input error (exit 2); a model
   that did not exist at that ref yet means there is no baseline, which is not an error.

The state file of the target environment (``deploy/<env>.yaml``) will be a fourth source once
promotion exists (issue 8): :func:`environment_baseline` is the hook.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlops_ci.bench.results import StoredResults, load_results
from mlops_ci.errors import InputError


@dataclass(frozen=True)
class ModelBaseline:
    """A baseline model to measure in the same run: a file, or bytes read at a git ref."""

    label: str
    model: Path | bytes


@dataclass(frozen=True)
class StoredBaseline:
    """Stored results of an earlier run."""

    label: str
    results: StoredResults


@dataclass(frozen=True)
class NoBaseline:
    """No baseline exists (e.g. a new model); absolute budgets alone apply."""

    label: str
    reason: str


Baseline = ModelBaseline | StoredBaseline | NoBaseline


def resolve_baseline(spec: str, model_path: Path, *, cwd: Path, display: str) -> Baseline:
    """What ``--baseline spec`` designates for the candidate at ``model_path``."""
    from mlops_ci.gitops import read_file_at_ref

    candidate = Path(spec) if Path(spec).is_absolute() else cwd / spec
    if candidate.is_file():
        if candidate.suffix.lower() == ".json":
            return StoredBaseline(spec, load_results(candidate, spec))
        return ModelBaseline(spec, candidate)
    if candidate.suffix.lower() in (".onnx", ".json"):
        raise InputError(
            f"--baseline {spec!r}: no such file (relative paths are read from {cwd});"
            " check the path"
        )
    data, commit = read_file_at_ref(model_path, spec)
    label = f"{spec} ({commit})"
    if data is None:
        return NoBaseline(label, f"{display} does not exist at {spec}: a new model has no baseline")
    return ModelBaseline(label, data)


def environment_baseline(environment: str) -> Baseline | None:
    """Hook: the model the target environment runs now, from its state file.

    Promotion (issue 8) defines ``deploy/<env>.yaml``; until then there is no such baseline.
    """
    del environment
    return None
