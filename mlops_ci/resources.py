"""Access to the files under ``templates/``, from a source checkout or an installed wheel."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_CHECKOUT_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def template_text(name: str) -> str:
    """The text of ``templates/<name>`` (``name`` may contain '/')."""
    local = _CHECKOUT_TEMPLATES / name
    if local.is_file():
        return local.read_text(encoding="utf-8")
    # In a wheel, repository-root templates/ is installed as the package mlops_ci.templates.
    return resources.files("mlops_ci.templates").joinpath(name).read_text(encoding="utf-8")
