"""``mlops-ci init``: read the repository (models, cards, requirements, source) and write the
configuration, cards and CI files that gate it; see :mod:`mlops_ci.init.plan` for the decisions.
"""

from __future__ import annotations

from mlops_ci.init.scaffold import InitResult, render_template, run_init, scaffold, scaffold_files

__all__ = ["InitResult", "render_template", "run_init", "scaffold", "scaffold_files"]
