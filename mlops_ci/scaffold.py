"""``mlops-ci init``: scaffold a repository from ``templates/`` without clobbering user files."""

from __future__ import annotations

from pathlib import Path

from mlops_ci import __version__
from mlops_ci.fsutil import atomic_write
from mlops_ci.resources import template_text

# Destination (relative to the repository) -> template under templates/.
SCAFFOLD: dict[str, str] = {
    "mlops-ci.yaml": "init/mlops-ci.yaml",
    "models/my-model/README.md": "model_card.md",
    ".github/workflows/mlops-ci.yml": "github/check.yml",
    ".gitlab-ci.yml": "init/gitlab-ci.yml",
    ".pre-commit-config.yaml": "init/pre-commit-config.yaml",
}


def render_template(name: str) -> str:
    """A template with its ``{{ version }}`` placeholder filled in."""
    return template_text(name).replace("{{ version }}", __version__)


def scaffold(directory: Path, *, force: bool = False) -> list[tuple[str, str]]:
    """Write the scaffold files into ``directory``; existing files are kept unless ``force``.

    Returns ``(path, action)`` pairs where action is ``created``, ``replaced`` or ``kept``.
    """
    done = []
    for destination, template in SCAFFOLD.items():
        path = directory / destination
        if path.exists() and not force:
            done.append((destination, "kept"))
            continue
        action = "replaced" if path.exists() else "created"
        atomic_write(path, render_template(template))
        done.append((destination, action))
    return done
