"""From what :mod:`mlops_ci.init.discover` found to the ``mlops-ci.yaml`` ``init`` writes.

Decisions (README "Getting started" states them for users):

- Each ONNX model becomes a ``models:`` entry named after its file (``model.onnx`` and the like
  take their directory's name), made valid for the name pattern and unique.
- ``bench.inputs`` are the model's real inputs; a dynamic dimension gets its name in ``bench.dims``
  with the value 1 and a comment saying so (mlops-ci itself never assumes a size).
- A card is a Markdown file with YAML front matter beside the model (``MODEL_CARD.md``,
  ``model_card.md``, ``README.md``, in that order). Without one, init writes ``MODEL_CARD.md``
  from the template: a model without a card is a ``CARD001`` (high) finding, so ``check`` would
  fail on what init wrote; the template's placeholders are for the team to replace.
- ``scan.requirements`` lists ``requirements*.txt`` files; only when there are none does it list
  the top ``pyproject.toml`` (then the SBOM is made from the environment, which cannot be made
  from a ``pyproject.toml``). Lock files are not read by the audit: a comment names the export.
- ``scan.source`` lists the top-level directories holding Python files (not ``tests``), and
  Python scripts at the root.
- No ``waivers:`` key: the default ``waivers.yaml`` is read when it exists.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mlops_ci.init.discover import LOCK_FILES, Discovery
from mlops_ci.init.onnx_inputs import ModelInputs

CARD_NAMES = ("MODEL_CARD.md", "model_card.md", "README.md")
_GENERIC_STEMS = frozenset({"model", "model_quantized", "model_fp16", "onnx", "weights"})
_NOT_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ModelPlan:
    """One model entry: where its card is, whether init writes that card, its inputs."""

    name: str
    path: str
    card: str
    write_card: bool
    inputs: ModelInputs


@dataclass(frozen=True)
class Plan:
    """Everything init will write into ``mlops-ci.yaml``."""

    models: tuple[ModelPlan, ...]
    requirements: tuple[str, ...]
    lock_files: tuple[str, ...]
    source: tuple[str, ...]
    vuln_db: str | None
    sbom_from_environment: bool


def model_name(path: str, taken: set[str]) -> str:
    """A valid, unique model name for the model file at ``path``."""
    pure = PurePosixPath(path)
    stem = pure.stem
    if stem.lower() in _GENERIC_STEMS and pure.parent.name:
        stem = pure.parent.name
    name = _NOT_NAME.sub("-", stem).strip("-._") or "model"
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}-{n}", n + 1
    taken.add(candidate)
    return candidate


def has_front_matter(path: Path) -> bool:
    """Whether ``path`` is a regular file starting with a YAML front matter block."""
    if path.is_symlink() or not path.is_file():
        return False
    try:
        with path.open("rb") as handle:
            head = handle.read(64 * 1024).decode("utf-8", errors="replace")
    except OSError:
        return False
    lines = head.splitlines()
    return bool(lines) and lines[0].strip() == "---" and any(x.strip() == "---" for x in lines[1:])


def card_for(root: Path, model: str, name: str, shared_directory: bool) -> tuple[str, bool]:
    """The card of ``model`` and whether init must write it (see the module's decisions)."""
    directory = PurePosixPath(model).parent
    for candidate in CARD_NAMES:
        if has_front_matter(root / directory / candidate):
            return (directory / candidate).as_posix(), False
    # Two models in one directory each get their own card; one model gets the usual name.
    written = directory / (f"{name}.MODEL_CARD.md" if shared_directory else "MODEL_CARD.md")
    return written.as_posix(), not (root / written).exists()


def make_plan(
    root: Path,
    found: Discovery,
    inputs: dict[str, ModelInputs],
    vuln_db: str | None = None,
) -> Plan:
    """The configuration for ``root`` from ``found`` (``inputs``: per model path)."""
    taken: set[str] = set()
    directories = [PurePosixPath(m).parent for m in found.models]
    models = []
    for path in found.models:
        name = model_name(path, taken)
        shared = directories.count(PurePosixPath(path).parent) > 1
        card, write = card_for(root, path, name, shared)
        models.append(ModelPlan(name, path, card, write, inputs.get(path, ModelInputs())))
    requirements = found.requirements or found.pyprojects[:1]
    return Plan(
        models=tuple(models),
        requirements=requirements,
        lock_files=found.lock_files,
        source=found.source,
        vuln_db=vuln_db,
        sbom_from_environment=not found.requirements and bool(requirements),
    )


def _q(text: str) -> str:
    """A YAML scalar for any text: JSON strings are YAML double-quoted scalars."""
    return json.dumps(text, ensure_ascii=False)


def _list(items: tuple[str, ...]) -> str:
    return "[" + ", ".join(_q(item) for item in items) + "]"


def render_config(plan: Plan) -> str:
    """The text of ``mlops-ci.yaml`` for ``plan``."""
    lines = [
        "# mlops-ci configuration, written by `mlops-ci init` from what it found here.",
        "# Reference: `mlops-ci schema config`, and README.md of mlops-ci.",
        "version: 1",
        "models:",
    ]
    for model in plan.models:
        lines += _model_lines(model)
    lines += [
        "environments: [dev, staging, prod]         # the promotion ladder, in order",
        "state_dir: deploy/                         # deploy/<env>.yaml: what each environment runs",
        "policies: [baseline]",
        "# waivers: waivers.yaml                    # accepted findings with an expiry (read when"
        " it exists)",
        "scan:",
        f"  requirements: {_list(plan.requirements)}  # pinned files to audit (pip-audit)",
    ]
    for lock in plan.lock_files:
        command = LOCK_FILES[PurePosixPath(lock).name]
        lines.append(f"  # {lock} is not audited: export it (`{command}`) and list the result")
    lines += [
        f"  source: {_list(plan.source)}  # Python source for bandit",
        f"  vuln_db: {_q(plan.vuln_db) if plan.vuln_db else 'null'}"
        "  # OSV records (a directory or zip) for offline audits",
    ]
    if plan.sbom_from_environment:
        lines += [
            "# The SBOM cannot be made from pyproject.toml: it lists the installed environment;",
            "# list a pinned requirements file in scan.requirements to make it from your pins.",
            "sbom: {output_dir: .mlops-ci/sbom, source: environment}",
        ]
    else:
        lines.append(
            "sbom: {output_dir: .mlops-ci/sbom}         # CycloneDX SBOM + ML-BOM per model"
        )
    lines += [
        "signing: {mode: auto}                      # auto | sigstore | key | certificate | none",
        "forge: {kind: auto}                        # auto | github | gitlab | none",
        "fail_on: high",
    ]
    return "\n".join(lines) + "\n"


def _model_lines(model: ModelPlan) -> list[str]:
    card_note = "  # written by mlops-ci init: fill it in" if model.write_card else ""
    lines = [
        f"  - name: {_q(model.name)}",
        f"    path: {_q(model.path)}",
        f"    card: {_q(model.card)}{card_note}",
    ]
    inputs = model.inputs
    if inputs.problem is not None:
        return [*lines, f"    # bench: not written: {inputs.problem}"]
    if not inputs.inputs:
        return lines
    lines += ["    bench:", "      inputs:"]
    for spec in inputs.inputs:
        shape = ", ".join(str(d) if isinstance(d, int) else _q(d) for d in spec.shape)
        lines.append(f"        {_q(spec.name)}: {{shape: [{shape}], dtype: {spec.dtype}}}")
    if inputs.dynamic:
        lines.append("      dims:  # dynamic in the model: 1 is init's choice, set real sizes")
        lines += [f"        {_q(dim)}: 1" for dim in inputs.dynamic]
    lines += [
        "      # baseline: origin/main  # latency gate: measured interleaved in the same run",
        "      # budgets: {p90_ms: 20}  # absolute latency budgets, in milliseconds",
    ]
    return lines
