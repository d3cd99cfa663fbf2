"""``mlops-ci init``: scaffold a repository from ``templates/`` without clobbering user files."""

from __future__ import annotations

from pathlib import Path

from mlops_ci import __version__
from mlops_ci.fsutil import atomic_write
from mlops_ci.resources import template_text
from mlops_ci.safepath import output_path

# Destination (relative to the repository) -> template under templates/.
SCAFFOLD: dict[str, str] = {
    "mlops-ci.yaml": "init/mlops-ci.yaml",
    "models/my-model/README.md": "model_card.md",
    ".github/workflows/mlops-ci.yml": "github/check.yml",
    ".github/workflows/mlops-ci-promote.yml": "github/promote.yml",
    ".gitlab-ci.yml": "init/gitlab-ci.yml",
    ".pre-commit-config.yaml": "init/pre-commit-config.yaml",
}
MONOREPO: dict[str, str] = {
    ".github/workflows/mlops-ci.yml": "github/monorepo.yml",
    ".gitlab-ci.yml": "init/gitlab-ci-monorepo.yml",
}
GPU: dict[str, str] = {".github/workflows/mlops-ci-bench-gpu.yml": "github/bench-gpu.yml"}


def render_template(name: str) -> str:
    """A template with its ``{{ version }}`` placeholder filled in."""
    return template_text(name).replace("{{ version }}", __version__)


def scaffold_files(*, monorepo: bool = False, gpu: bool = False) -> dict[str, str]:
    """Destination -> template of the files ``mlops-ci init`` writes with these options."""
    files = dict(SCAFFOLD)
    if monorepo:
        files.update(MONOREPO)
    if gpu:
        files.update(GPU)
    return files


def scaffold(
    directory: Path, *, force: bool = False, monorepo: bool = False, gpu: bool = False
) -> list[tuple[str, str]]:
    """Write the scaffold files into ``directory``; existing files are kept unless ``force``.

    ``monorepo`` writes the fan-out CI files (``mlops-ci matrix``), ``gpu`` the GPU benchmark
    workflow. Returns ``(path, action)`` pairs: action is ``created``, ``replaced`` or ``kept``.
    """
    done = []
    for destination, template in scaffold_files(monorepo=monorepo, gpu=gpu).items():
        path = directory / destination
        if path.exists() and not force:
            done.append((destination, "kept"))
            continue
        action = "replaced" if path.exists() else "created"
        # A directory linked out of the repository (.github -> ~) cannot carry the write away.
        target = output_path(path.absolute(), directory, what=f"'{destination}'")
        atomic_write(target, render_template(template))
        done.append((destination, action))
    return done
