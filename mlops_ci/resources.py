"""Files shipped with mlops-ci: ``templates/`` and the policy packs in ``policies/``.

In a source checkout (and an editable install) they are read from the repository root; in a
wheel they are installed as the packages ``mlops_ci.templates`` and ``mlops_ci.packs``.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent
_PACKAGES = {"templates": "mlops_ci.templates", "policies": "mlops_ci.packs"}


def resource_dir(kind: str) -> Traversable:
    """The shipped directory ``templates`` or ``policies``."""
    local = _CHECKOUT / kind
    if local.is_dir() and (_CHECKOUT / "pyproject.toml").is_file():
        return local
    return resources.files(_PACKAGES[kind])


def template_text(name: str) -> str:
    """The text of ``templates/<name>`` (``name`` may contain '/')."""
    return resource_dir("templates").joinpath(name).read_text(encoding="utf-8")
