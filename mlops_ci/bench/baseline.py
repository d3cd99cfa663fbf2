"""Where the baseline comes from: an .onnx file, a git ref, or a stored results file.

``--baseline`` takes, in this order of interpretation:

1. an existing ``.json`` file: results stored by an earlier run (compared only when the
   environment fingerprints match);
2. an existing file of any other kind: an ONNX model, measured in the same run;
3. otherwise a git ref (``origin/main``, a tag, a SHA): the same model path as committed at that
   ref, measured in the same run. A ref that does not exist is an input error (exit 2); a model
   that did not exist at that ref yet means there is no baseline, which is not an error.

4. ``env:ENV``: the model the environment runs now, from its state file ``deploy/ENV.yaml``
   (:func:`environment_baseline`), read at the commit it was promoted from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlops_ci.bench.results import StoredResults, load_results
from mlops_ci.config import LoadedConfig
from mlops_ci.errors import InputError
from mlops_ci.safepath import read_text


@dataclass(frozen=True)
class ModelBaseline:
    """A baseline model to measure in the same run: a file, or bytes read at a git ref.

    For bytes, ``ref`` is the ref or commit they were read at and ``source`` the work-tree path
    they were read from, so files the model names beside it (external data) can be read there.
    """

    label: str
    model: Path | bytes
    ref: str | None = None
    source: Path | None = None


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
    return ModelBaseline(label, data, spec, model_path)


def environment_baseline(loaded: LoadedConfig, model: str, environment: str) -> Baseline:
    """``--baseline env:ENV``: the model ``environment`` runs now, per its state file.

    The entry's artifact is read as committed at its ``promoted_from.commit`` (the commit the
    release was signed at), so the baseline is exactly the bytes that environment runs.
    """
    from mlops_ci.gitops import read_file_at_ref
    from mlops_ci.promote.state import parse_state, state_path

    loaded.environment(environment)
    relative = state_path(loaded.config.state_dir, environment)
    state_file = loaded.resolve(relative)  # inside the repository, symlinks followed
    text = read_text(state_file, what="state file") if state_file.is_file() else None
    names = [m.name for m in loaded.config.models]
    entry = parse_state(text, environment, relative, models=names).entry(model)
    label = f"env:{environment}"
    if entry is None:
        return NoBaseline(label, f"{environment} does not run {model} yet: no baseline")
    if entry.artifact.startswith("oci://"):  # promoted by digest: its bytes are not in git
        return NoBaseline(
            label, f"the {environment} entry of {model} is an artifact in a registry, not in git"
        )
    commit = entry.promoted_from.get("commit")
    if not commit:
        return NoBaseline(
            label, f"the {environment} entry of {model} names no commit to read it at"
        )
    source = loaded.root / entry.artifact
    data, short = read_file_at_ref(source, commit)
    if data is None:
        return NoBaseline(label, f"{entry.artifact} is not a file at {short}")
    return ModelBaseline(f"{label} ({model} {entry.version}, {short})", data, commit, source)
