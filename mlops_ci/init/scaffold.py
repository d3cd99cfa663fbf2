"""Writing what ``mlops-ci init`` decided: the config, cards, CI files, ``.gitignore`` lines.

Nothing that exists is replaced unless ``force`` (``.gitignore`` only gets the missing lines
appended). Every write goes through :func:`mlops_ci.safepath.output_path`, so a directory
symlinked out of the repository cannot carry it away, and is atomic.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from mlops_ci import __version__
from mlops_ci.errors import UsageError
from mlops_ci.fsutil import atomic_write
from mlops_ci.init.discover import Discovery, discover
from mlops_ci.init.onnx_inputs import ModelInputs, read_inputs
from mlops_ci.init.plan import ModelPlan, Plan, has_front_matter, make_plan, render_config
from mlops_ci.resources import template_text
from mlops_ci.safepath import output_path, read_text

CONFIG = "mlops-ci.yaml"
# Destination (relative to the repository) -> template under templates/.
SCAFFOLD: dict[str, str] = {
    ".github/workflows/mlops-ci.yml": "github/check.yml",
    ".github/workflows/mlops-ci-promote.yml": "github/promote.yml",
    ".github/zizmor.yml": "init/zizmor.yml",
    ".gitlab-ci.yml": "init/gitlab-ci.yml",
    ".pre-commit-config.yaml": "init/pre-commit-config.yaml",
}
MONOREPO: dict[str, str] = {
    ".github/workflows/mlops-ci.yml": "github/monorepo.yml",
    ".gitlab-ci.yml": "init/gitlab-ci-monorepo.yml",
}
GPU: dict[str, str] = {".github/workflows/mlops-ci-bench-gpu.yml": "github/bench-gpu.yml"}
GITIGNORE_LINES = (".mlops-ci/", "reports/")
# Without any ONNX model init writes this placeholder, for the user to point at the real one.
PLACEHOLDER = ModelPlan(
    name="my-model",
    path="models/my-model/model.onnx",
    card="models/my-model/README.md",
    write_card=True,
    inputs=ModelInputs(problem="no ONNX model was found; describe its inputs (see README)"),
)


@dataclass(frozen=True)
class InitResult:
    """What init did: ``(path, action)`` pairs, notes for the user, and the next commands."""

    actions: tuple[tuple[str, str], ...]
    notes: tuple[str, ...]
    next_steps: tuple[str, ...]


def render_template(name: str) -> str:
    """A template with its ``{{ version }}`` placeholder filled in."""
    return template_text(name).replace("{{ version }}", __version__)


def scaffold_files(*, monorepo: bool = False, gpu: bool = False) -> dict[str, str]:
    """Destination -> template of the CI files ``mlops-ci init`` writes with these options."""
    files = dict(SCAFFOLD)
    if monorepo:
        files.update(MONOREPO)
    if gpu:
        files.update(GPU)
    return files


def scaffold(
    directory: Path, *, force: bool = False, monorepo: bool = False, gpu: bool = False
) -> list[tuple[str, str]]:
    """Run init on ``directory`` and return its ``(path, action)`` pairs (see :func:`run_init`)."""
    return list(run_init(directory, force=force, monorepo=monorepo, gpu=gpu).actions)


def run_init(
    directory: Path,
    *,
    force: bool = False,
    monorepo: bool = False,
    gpu: bool = False,
    vuln_db: Path | None = None,
    cwd: Path | None = None,
) -> InitResult:
    """Read the repository at ``directory`` and write what gates it (never over existing files
    unless ``force``). Actions are ``created``, ``replaced``, ``kept``, ``updated`` (lines
    appended to ``.gitignore``) or ``linked`` (a symlinked ``.gitignore``, left alone)."""
    root = directory.absolute()
    found = discover(root) if root.is_dir() else Discovery()
    inputs = {path: read_inputs(root / path) for path in found.models}
    plan = make_plan(root, found, inputs, _vuln_db(root, vuln_db))
    if not plan.models:
        plan = Plan((PLACEHOLDER,), *_rest(plan))
    files: dict[str, str] = {CONFIG: render_config(plan)}
    if force or not (root / CONFIG).exists():
        # Cards only go with the configuration that names them.
        for model in plan.models:
            if model.write_card:
                files[model.card] = _card(model.name)
    for destination, template in scaffold_files(monorepo=monorepo, gpu=gpu).items():
        files[destination] = render_template(template)
    actions = [_write(root, destination, text, force) for destination, text in files.items()]
    ignored = _gitignore(root)
    actions.append((".gitignore", ignored))
    notes = _notes(root, plan, found)
    if ignored == "linked":  # never read or written through: it could lead anywhere
        notes += (".gitignore is a symlink: add .mlops-ci/ and reports/ to it yourself",)
    return InitResult(tuple(actions), notes, _next_steps(root, cwd or Path.cwd(), actions))


def _rest(plan: Plan) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], str | None, bool]:
    return (
        plan.requirements,
        plan.lock_files,
        plan.source,
        plan.vuln_db,
        plan.sbom_from_environment,
    )


def _vuln_db(root: Path, vuln_db: Path | None) -> str | None:
    """``--vuln-db`` as a path relative to the repository (the config never reads outside)."""
    if vuln_db is None:
        return None
    resolved = vuln_db.resolve()
    if not resolved.exists():
        raise UsageError(
            f"--vuln-db {vuln_db}: does not exist; give a directory or zip of OSV records"
        )
    try:
        return resolved.relative_to(root.resolve()).as_posix()
    except ValueError:
        raise UsageError(
            f"--vuln-db {vuln_db}: is outside the repository; copy it in (scan.vuln_db never"
            " reads outside), or pass it to check/scan with --vuln-db instead"
        ) from None


def _card(name: str) -> str:
    # The name is a valid model name ([A-Za-z0-9._-]), so it is safe in YAML and Markdown.
    return template_text("model_card.md").replace("my-model", name)


def _write(root: Path, destination: str, text: str, force: bool) -> tuple[str, str]:
    path = root / destination
    if (path.exists() or path.is_symlink()) and not force:
        return destination, "kept"
    action = "replaced" if path.exists() else "created"
    # A directory linked out of the repository (.github -> ~) cannot carry the write away.
    target = output_path(path, root, what=f"'{destination}'")
    atomic_write(target, text)
    return destination, action


def _gitignore(root: Path) -> str:
    """Append the lines init needs to ``.gitignore`` (each once; nothing else changes)."""
    path = root / ".gitignore"
    if path.is_symlink():
        return "linked"
    existing = read_text(path, what="'.gitignore'") if path.exists() else ""
    present = {line.strip().lstrip("/").rstrip("/") for line in existing.splitlines()}
    missing = [line for line in GITIGNORE_LINES if line.rstrip("/") not in present]
    if not missing:
        return "kept"
    block = "# mlops-ci: caches, SBOMs and reports (written by mlops-ci init)\n"
    block += "".join(f"{line}\n" for line in missing)
    separator = "" if not existing or existing.endswith("\n") else "\n"
    target = output_path(path, root, what="'.gitignore'")
    atomic_write(target, existing + separator + block)
    return "updated" if existing else "created"


def _notes(root: Path, plan: Plan, found: Discovery) -> tuple[str, ...]:
    notes = []
    for model in plan.models:
        if model is PLACEHOLDER:
            notes.append(
                "no ONNX model found: set models[0].path in mlops-ci.yaml to your model, and"
                " its bench.inputs"
            )
        elif model.inputs.problem:
            notes.append(f"{model.path}: no bench.inputs written ({model.inputs.problem})")
        if model.write_card and model is not PLACEHOLDER:
            notes.append(f"{model.card}: a template card; replace its placeholders")
        elif not model.write_card and not has_front_matter(root / model.card):
            notes.append(
                f"{model.card}: exists without YAML front matter, so the card check fails;"
                " add it (`mlops-ci schema card` lists the fields)"
            )
        if model.inputs.dynamic:
            dims = ", ".join(model.inputs.dynamic)
            notes.append(f"{model.name}: dynamic dimensions {dims} benchmarked at 1 (bench.dims)")
    notes += [
        f"{lock}: lock files are not audited; see the comment in mlops-ci.yaml"
        for lock in found.lock_files
    ]
    if found.truncated:
        notes.append("the repository is large: init looked at part of it; check mlops-ci.yaml")
    return tuple(notes)


def _next_steps(root: Path, cwd: Path, actions: list[tuple[str, str]]) -> tuple[str, ...]:
    where = "" if root.resolve() == cwd.resolve() else f"cd {shlex.quote(str(root))} && "
    written = [shlex.quote(path) for path, action in actions if action not in ("kept", "linked")]
    commit = (
        "git add " + " ".join(written or [CONFIG]) + ' && git commit -m "Gate models with mlops-ci"'
    )
    return (
        f"{where}mlops-ci check --format json=reports/mlops-ci.json  # the gates, as CI runs them",
        "mlops-ci sign --key PATH  # an EC P-256 key (README: Signing); CI signs keylessly",
        commit,
    )
