"""Every path the configuration names, confined to the repository when the configuration loads.

``mlops-ci.yaml`` (or ``[tool.mlops-ci]``) is part of the pull request, so each path it gives is
checked by :func:`mlops_ci.safepath.confine` before any command uses it, and a bad one is a
:class:`~mlops_ci.errors.ConfigError` naming the key's ``file:line:column`` (exit 2). Values that
came from a command-line flag or an ``MLOPS_CI_*`` variable are the pipeline's and are trusted
(they may point outside the repository, e.g. a signing key in ``$RUNNER_TEMP``); they are listed
in ``LoadedConfig.trusted``. ``LoadedConfig.resolve`` confines again at every use, so a path
read from anywhere else (a report's ``facts.path``) gets the same treatment.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from mlops_ci.errors import ConfigError
from mlops_ci.safepath import confine
from mlops_ci.yamlio import PathKey

if TYPE_CHECKING:
    from mlops_ci.config import Config, LoadedConfig

# Keys holding one path (or a list of paths), relative to the repository root.
_SCALARS: tuple[tuple[str, ...], ...] = (
    ("state_dir",),
    ("waivers",),
    ("scan", "vuln_db"),
    ("sbom", "output_dir"),
    ("signing", "key"),
    ("signing", "certificate"),
    ("signing", "public_key"),
    ("signing", "trust_config"),
    ("signing", "report"),
)
_LISTS: tuple[tuple[str, ...], ...] = (
    ("scan", "requirements"),
    ("scan", "source"),
    ("sbom", "requirements"),
    ("signing", "chain"),
    ("signing", "ca"),
)
_MODEL_KEYS: tuple[tuple[str, ...], ...] = (
    ("path",),
    ("card",),
    ("bench", "npz"),
    ("bench", "results"),
    ("eval", "data"),
)


def _get(data: Any, loc: tuple[str, ...]) -> Any:
    for part in loc:
        data = getattr(data, part, None)
        if data is None:
            return None
    return data


def configured_paths(config: Config) -> Iterator[tuple[PathKey, str]]:
    """Every ``(key path, value)`` of the configuration that names a file or directory."""
    for loc in _SCALARS:
        value = _get(config, loc)
        if isinstance(value, str):
            yield loc, value
    for loc in _LISTS:
        for index, value in enumerate(_get(config, loc) or ()):
            yield (*loc, index), value
    for index, reference in enumerate(config.policies):
        if is_pack_path(reference):
            yield ("policies", index), reference
    for env, packs in config.promotion.policies.items():
        for index, reference in enumerate(packs):
            if is_pack_path(reference):
                yield ("promotion", "policies", env, index), reference
    for m_index, model in enumerate(config.models):
        for loc in _MODEL_KEYS:
            value = _get(model, loc)
            if isinstance(value, str):
                yield ("models", m_index, *loc), value
        baseline = model.bench.baseline
        if baseline and _looks_like_path(baseline):
            yield ("models", m_index, "bench", "baseline"), baseline
        eval_baseline = model.eval.baseline if model.eval else None
        if eval_baseline and _looks_like_path(eval_baseline):
            yield ("models", m_index, "eval", "baseline"), eval_baseline
    template = config.signing.sbom
    if template:
        # Only the template's fixed part can be checked here; each use is confined again.
        yield ("signing", "sbom"), template.replace("{name}", "x").replace("{path}", "x")


def is_pack_path(reference: str) -> bool:
    """Whether a ``policies:`` entry names a file (not a shipped pack such as ``baseline``)."""
    return "/" in reference or reference.endswith((".yaml", ".yml")) or reference.startswith(".")


def _looks_like_path(spec: str) -> bool:
    # A git ref never starts with '/' nor holds a '..' component; 'env:NAME' is a state entry.
    if spec.startswith("env:"):
        return False
    return (
        spec.startswith(("/", ".")) or ".." in spec.split("/") or spec.endswith((".onnx", ".json"))
    )


def check_config_paths(loaded: LoadedConfig) -> None:
    """Refuse the first configured path that leaves the repository (ConfigError at its key)."""
    for loc, value in configured_paths(loaded.config):
        if loaded.is_trusted(dotted(loc), value):
            continue
        confine(
            value,
            loaded.root,
            what=f"'{_format(loc)}'",
            position=loaded.where(*loc),
            error=ConfigError,
        )


def _format(loc: PathKey) -> str:
    from mlops_ci.yamlio import format_path

    return format_path(loc)


def dotted(loc: PathKey) -> str:
    """A key path without list indices: ``("models", 0, "card")`` is ``models.card``."""
    return ".".join(str(part) for part in loc if not isinstance(part, int))


def trusted_pairs(*sources: Any) -> frozenset[tuple[str, str]]:
    """``(dotted key, value)`` for every string in ``sources`` (data given by flags or
    ``MLOPS_CI_*`` variables, shaped like the configuration)."""
    found: set[tuple[str, str]] = set()

    def walk(value: Any, loc: tuple[str, ...]) -> None:
        if isinstance(value, str):
            found.add((".".join(loc), value))
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, (*loc, str(key)))
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item, loc)

    for source in sources:
        walk(source, ())
    return frozenset(found)


__all__ = ["ConfigError", "check_config_paths", "configured_paths", "dotted", "trusted_pairs"]
