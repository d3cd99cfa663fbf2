"""Moved to :mod:`mlops_ci.init`; kept so ``from mlops_ci.scaffold import ...`` still works."""

from __future__ import annotations

from mlops_ci.init.scaffold import (
    GPU,
    MONOREPO,
    SCAFFOLD,
    render_template,
    scaffold,
    scaffold_files,
)

__all__ = ["GPU", "MONOREPO", "SCAFFOLD", "render_template", "scaffold", "scaffold_files"]
