"""Monorepo fan-out: which configured models changed since a git ref, as a CI job matrix.

A model changed when one of its own files changed (its model path, its card, its benchmark inputs,
its evaluation data) or its entry in the configuration did. A change to what every model shares (the rest of the
configuration, the requirements files, local policy packs, the waivers file, the offline
vulnerability database) changes every model. Source code (``scan.source``) is left out: bandit
runs once per repository, not per model.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_ci.config import LoadedConfig, ModelConfig, parse_config_text
from mlops_ci.errors import MlopsCiError

EVERY_MODEL = "*"


@dataclass(frozen=True)
class ChangedModel:
    """A model to check, and the changed files (or ``config``) that put it in scope."""

    name: str
    path: str
    card: str | None
    reasons: tuple[str, ...]


def _norm(path: Path) -> Path:
    return Path(os.path.normpath(path))


def model_paths(model: ModelConfig) -> list[str]:
    """The repository paths that belong to one model."""
    evaluation = model.eval.data if model.eval is not None else None
    paths = [model.path, model.card, getattr(model.bench, "npz", None), evaluation]
    return [p for p in paths if p]


def shared_paths(loaded: LoadedConfig) -> list[str]:
    """The paths every model depends on, besides the configuration file."""
    config = loaded.config
    paths: list[str | None] = [*config.scan.requirements, config.scan.vuln_db, config.waivers]
    sbom = getattr(config, "sbom", None)
    paths += list(getattr(sbom, "requirements", None) or [])
    paths += [p for p in config.policies if "/" in p or p.endswith((".yaml", ".yml"))]
    return [p for p in paths if p]


def _covers(owned: Path, changed: Path) -> bool:
    return changed == owned or owned in changed.parents


def changed_models(loaded: LoadedConfig, base: str) -> list[ChangedModel]:
    """The configured models whose files changed since ``base``, in configuration order."""
    from mlops_ci.gitops import changed_since

    toplevel, names, merge_base = changed_since(loaded.root, base)
    toplevel = toplevel.resolve()
    changed = [_norm(toplevel / name) for name in names]
    root = loaded.root

    def touched(paths: Iterable[str]) -> list[str]:
        owned = [_norm(root / p) for p in paths]
        return [loaded.display(c) for c in changed if any(_covers(o, c) for o in owned)]

    everything = touched(shared_paths(loaded))
    config_models: set[str] = set()
    if loaded.path is not None:
        config_file = _norm(loaded.path.resolve())
        if config_file in changed:
            relative = config_file.relative_to(toplevel).as_posix()
            config_models = _config_changes(loaded, config_file, merge_base, relative)
    result = []
    for model in loaded.config.models:
        reasons = list(everything) or touched(model_paths(model))
        if EVERY_MODEL in config_models or model.name in config_models:
            reasons.append(loaded.display(loaded.path) if loaded.path else "config")
        if reasons:
            result.append(ChangedModel(model.name, model.path, model.card, tuple(reasons)))
    return result


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _config_changes(
    loaded: LoadedConfig, config_file: Path, merge_base: str, relative: str
) -> set[str]:
    """Names of models whose configuration entry changed, or ``{"*"}`` for a shared change."""
    from mlops_ci.gitops import read_file_at_ref

    pyproject = config_file.name == "pyproject.toml"
    old_bytes, _ = read_file_at_ref(config_file, merge_base)
    if old_bytes is None:
        return {EVERY_MODEL}
    try:
        old_text = old_bytes.decode("utf-8")
        text = config_file.read_text(encoding="utf-8")
        current = parse_config_text(text, relative, pyproject=pyproject).data
        old = parse_config_text(old_text, relative, pyproject=pyproject).data
    except (MlopsCiError, UnicodeDecodeError):  # an unreadable old configuration: all changed
        return {EVERY_MODEL}
    if not isinstance(current, dict) or not isinstance(old, dict):
        return {EVERY_MODEL}
    for key in (set(current) | set(old)) - {"models"}:
        if _canonical(current.get(key)) != _canonical(old.get(key)):
            return {EVERY_MODEL}
    now, before = _entries(current.get("models")), _entries(old.get("models"))
    return {name for name, entry in now.items() if before.get(name) != entry}


def _entries(models: Any) -> dict[str, str]:
    if not isinstance(models, list):
        return {}
    return {
        str(m.get("name")): _canonical(m) for m in models if isinstance(m, dict) and "name" in m
    }


def github_matrix(models: Sequence[ChangedModel]) -> str:
    """One line of JSON for ``strategy.matrix``: ``{"include": [{"model", "path", "card"}]}``."""
    include = [{"model": m.name, "path": m.path, "card": m.card or ""} for m in models]
    return json.dumps({"include": include}, separators=(",", ":"))


@dataclass(frozen=True)
class ChildPipelineSettings:
    """What the generated GitLab jobs run on."""

    image: str = "python:3.11-slim"
    install: str = ""
    stage: str = "test"
    base: str = ""


def gitlab_child_pipeline(models: Sequence[ChangedModel], settings: ChildPipelineSettings) -> str:
    """A child-pipeline YAML with one ``mlops-ci: <model>`` job per changed model.

    Values go into ``variables:``, never into scripts. A pipeline needs at least one job, so no
    changed model gives one job that says so.
    """
    import io

    from ruamel.yaml import YAML

    variables = {
        "MLOPS_CI_INSTALL": settings.install,
        "MLOPS_CI_BASE": settings.base,
        "MLOPS_CI_SBOM_GITLAB": "true",
        "MLOPS_CI_SBOM_OUTPUT_DIR": "reports",
    }
    template: dict[str, Any] = {
        "stage": settings.stage,
        "image": settings.image,
        "variables": variables,
        "script": [
            'if [ -n "$MLOPS_CI_INSTALL" ]; then python -m pip install "$MLOPS_CI_INSTALL"; fi',
            'mkdir -p reports && mlops-ci check --model "$MLOPS_CI_MODEL"'
            ' --format markdown --format json="reports/$MLOPS_CI_MODEL.json"'
            ' --format junit="reports/$MLOPS_CI_MODEL.junit.xml"'
            ' --format gitlab-codequality="reports/$MLOPS_CI_MODEL.codequality.json"',
        ],
        "artifacts": {
            "when": "always",
            "paths": ["reports/"],
            "reports": {
                "junit": "reports/*.junit.xml",
                "codequality": "reports/*.codequality.json",
                "cyclonedx": "reports/gl-sbom-*.cdx.json",
            },
        },
    }
    document: dict[str, Any] = {"stages": [settings.stage], ".mlops-ci-check": template}
    for model in models:
        document[f"mlops-ci: {model.name}"] = {
            "extends": ".mlops-ci-check",
            "variables": {"MLOPS_CI_MODEL": model.name},
        }
    if not models:
        document["mlops-ci: no model changed"] = {
            "stage": settings.stage,
            "image": settings.image,
            "variables": {"MLOPS_CI_BASE": settings.base},
            "script": ['echo "no configured model changed since $MLOPS_CI_BASE"'],
        }
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.width = 4096
    out = io.StringIO()
    out.write(
        "# Generated by `mlops-ci matrix --gitlab`: one job per model changed since the base.\n"
    )
    yaml.dump(document, out)
    return out.getvalue()
