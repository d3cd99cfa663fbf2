"""Report renderers: pure functions ``Report -> str`` (no clock, no I/O, deterministic)."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from mlops_ci.findings import Report

Renderer = Callable[[Report], str]

# Format name -> module under mlops_ci.formats defining ``render(report) -> str``.
FORMATS: dict[str, str] = {
    "json": "json_report",
    "markdown": "markdown",
    "sarif": "sarif",
    "junit": "junit",
    "gitlab-codequality": "codequality",
    "html": "html",
    "text": "text",
}


def renderer(name: str) -> Renderer:
    """The render function of format ``name`` (a key of :data:`FORMATS`)."""
    module = importlib.import_module(f"mlops_ci.formats.{FORMATS[name]}")
    render: Renderer = module.render
    return render


def render(name: str, report: Report) -> str:
    """Render ``report`` in format ``name``."""
    return renderer(name)(report)
