"""Configuration: the pydantic models for ``mlops-ci.yaml`` and how a run's settings are found.

Precedence, highest first: command-line flags, ``MLOPS_CI_*`` environment variables, the file
(``mlops-ci.yaml``, or ``[tool.mlops-ci]`` in ``pyproject.toml``), then the defaults below.
Every validation error names ``file:line:column`` and the field path.
"""

from __future__ import annotations

import functools
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from mlops_ci.config_paths import check_config_paths, trusted_pairs
from mlops_ci.config_sections import (
    PRE_PUSH_CHECKS,
    AuthorConfig,
    BenchSettings,
    CardsConfig,
    ForgeConfig,
    GitHubClaims,
    HookConfig,
    InputSpec,
    ModelConfig,
    PolicyConfig,
    PromotionConfig,
    SbomConfig,
    ScanConfig,
    SeverityField,
    SigningConfig,
    StrictModel,
)
from mlops_ci.errors import ConfigError, InputError, SourcePosition
from mlops_ci.findings import Severity
from mlops_ci.safepath import confine, read_bytes
from mlops_ci.scrub import excerpt
from mlops_ci.validation import describe_errors, did_you_mean
from mlops_ci.yamlio import PathKey, YamlDocument, load_yaml, read_yaml_file

CONFIG_FILENAME = "mlops-ci.yaml"
ENV_PREFIX = "MLOPS_CI_"

__all__ = [
    "PRE_PUSH_CHECKS",
    "AuthorConfig",
    "BenchSettings",
    "CardsConfig",
    "Config",
    "ForgeConfig",
    "GitHubClaims",
    "HookConfig",
    "InputSpec",
    "LoadedConfig",
    "ModelConfig",
    "PolicyConfig",
    "PromotionConfig",
    "SbomConfig",
    "ScanConfig",
    "SeverityField",
    "SigningConfig",
    "StrictModel",
    "config_schema",
    "load_config",
]


class Config(StrictModel):
    """The whole ``mlops-ci.yaml``."""

    version: Literal[1] = 1
    models: list[ModelConfig] = Field(default_factory=list)
    environments: list[str] = Field(default_factory=lambda: ["dev", "staging", "prod"])
    state_dir: str = "deploy/"
    policies: list[str] = Field(default_factory=lambda: ["baseline"])
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    waivers: str | None = "waivers.yaml"
    cards: CardsConfig = Field(default_factory=CardsConfig)
    scan: ScanConfig = Field(default_factory=ScanConfig)
    signing: SigningConfig = Field(default_factory=SigningConfig)
    forge: ForgeConfig = Field(default_factory=ForgeConfig)
    hook: HookConfig = Field(default_factory=HookConfig)
    sbom: SbomConfig = Field(default_factory=SbomConfig)
    promotion: PromotionConfig = Field(default_factory=PromotionConfig)
    fail_on: SeverityField = Field(
        default=Severity.HIGH, description="one of info, low, medium, high, critical"
    )

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        names = [m.name for m in self.models]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"model names must be unique; repeated: {', '.join(dupes)}")
        envs = self.environments
        if len(set(envs)) != len(envs) or not envs:
            raise ValueError("environments must be a non-empty list of unique names")
        unknown = sorted(set(self.promotion.policies) - set(envs))
        if unknown:
            raise ValueError(f"promotion.policies names unknown environments: {', '.join(unknown)}")
        return self

    def model(self, name: str) -> ModelConfig:
        """The model called ``name``; raises ConfigError with a hint otherwise."""
        for model in self.models:
            if model.name == name:
                return model
        known = [m.name for m in self.models]
        listed = f" (configured models: {', '.join(known[:10])})" if known else ""
        raise ConfigError(f"unknown model {name!r}{did_you_mean(name, known)}{listed}")


@dataclass(frozen=True)
class LoadedConfig:
    """A validated configuration and where it came from."""

    config: Config
    path: Path | None
    root: Path
    document: YamlDocument | None = None
    # (key, value) pairs of paths given by flags or MLOPS_CI_* variables ("signing.key", "/x"):
    # the pipeline's, so they may lie outside. Keyed, so the same string written for another
    # key (card: /runner/tmp/key.pem) or read from a report stays untrusted.
    trusted: frozenset[tuple[str, str]] = frozenset()

    def where(self, *loc: str | int) -> SourcePosition:
        """The position of a configuration key, for error messages (the file when unknown)."""
        if self.document is None:
            return SourcePosition(str(self.path or CONFIG_FILENAME))
        position = self.document.position(tuple(loc), prefer_key=True)
        return SourcePosition(self.display(Path(position.path)), position.line, position.column)

    def environment(self, name: str) -> str:
        """``name`` if it is on the ladder; ConfigError naming the file and line otherwise."""
        if name not in self.config.environments:
            ladder = self.config.environments
            raise ConfigError(
                f"unknown environment {name!r}{did_you_mean(name, ladder)}; environments: {', '.join(ladder)}",
                self.where("environments"),
            )
        return name

    def model_named(self, name: str) -> ModelConfig:
        """The configured model ``name``; ConfigError naming the file and line otherwise."""
        try:
            return self.config.model(name)
        except ConfigError as exc:
            raise ConfigError(exc.message, self.where("models")) from None

    def resolve(self, relative: str, key: str | None = None) -> Path:
        """A path from the configuration, resolved against the repository root (symlinks
        followed); ConfigError when it leaves the repository (see :mod:`mlops_ci.safepath`).

        ``key`` names the setting (``signing.key``): a value a flag or a variable gave for that
        very key may lie outside the repository.
        """
        return confine(
            relative,
            self.root,
            what="the configured path",
            position=SourcePosition(self._shown_path),
            trusted=self.is_trusted(key, relative),
            error=ConfigError,
        )

    def is_trusted(self, key: str | None, value: str) -> bool:
        """Whether the pipeline (a flag or an ``MLOPS_CI_*`` variable) gave ``value`` for ``key``."""
        return key is not None and (key, value) in self.trusted

    def display(self, path: Path) -> str:
        """A path as users should read it: relative to the root when inside it."""
        try:
            return path.resolve().relative_to(self._real_root).as_posix()
        except ValueError:
            return str(path)

    # Both are asked for hundreds of times per run (every configured path a check resolves);
    # each costs a realpath. Computed once per loaded configuration.
    @functools.cached_property
    def _real_root(self) -> Path:
        return self.root.resolve()

    @functools.cached_property
    def _shown_path(self) -> str:
        return self.display(self.path) if self.path else CONFIG_FILENAME


def find_config(start: Path) -> Path | None:
    """The configuration file for ``start``, looked for as git looks for ``.git``.

    ``start`` first, then each directory above it up to the repository root (the nearest
    directory holding ``.git``): in each, ``mlops-ci.yaml``, then ``mlops-ci.yml``, then a
    ``pyproject.toml`` with a ``[tool.mlops-ci]`` table. The nearest wins, so a monorepo's
    package may carry its own. Outside any repository only ``start`` is searched: a stray file in
    a parent such as ``/tmp`` or the home directory never configures a run. Paths in the file
    resolve against the file's directory, wherever the command runs.
    """
    here = start.absolute()
    chain = (here, *here.parents)
    top = next((i for i, d in enumerate(chain) if (d / ".git").exists()), 0)
    for directory in chain[: top + 1]:
        found = _config_in(directory)
        if found is not None:
            return found
    return None


def _config_in(directory: Path) -> Path | None:
    """The configuration file of one directory, or None.

    A file found here is part of the repository: it must be a regular file that stays inside
    ``directory`` (a symlink to ``/proc/self/environ`` is refused, a FIFO is never opened).
    """
    for name in (CONFIG_FILENAME, "mlops-ci.yml"):
        candidate = directory / name
        if candidate.exists() or candidate.is_symlink():
            confine(name, directory, what="configuration file", error=ConfigError)
            return candidate
    pyproject = directory / "pyproject.toml"
    if pyproject.exists() or pyproject.is_symlink():
        real = confine("pyproject.toml", directory, what="pyproject.toml", error=ConfigError)
        text = read_bytes(real, what="pyproject.toml", error=ConfigError)
        if b"[tool.mlops-ci" in text:
            return pyproject
    return None


def load_config(
    path: Path | None = None,
    *,
    cwd: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> LoadedConfig:
    """Find, read and validate the configuration.

    ``overrides`` are command-line values keyed by top-level field (they win over everything);
    ``environ`` defaults to ``os.environ``.
    """
    cwd = cwd or Path.cwd()
    environ = os.environ if environ is None else environ
    path = locate_config(path, cwd=cwd, environ=environ)
    if not path.exists():  # a FIFO or a link to /proc gets its own message from the reader
        raise ConfigError(
            "configuration file not found; check the path, or run 'mlops-ci init'",
            SourcePosition(str(path)),
        )
    document = _read_document(path)
    return config_from_document(
        document, path, path.resolve().parent, overrides=overrides, environ=environ
    )


def locate_config(path: Path | None, *, cwd: Path, environ: Mapping[str, str]) -> Path:
    """The configuration file a command reads: ``path``, ``MLOPS_CI_CONFIG``, or found in ``cwd``."""
    if path is None and environ.get(f"{ENV_PREFIX}CONFIG"):
        path = Path(environ[f"{ENV_PREFIX}CONFIG"])
    if path is None:
        path = find_config(cwd)
        if path is None:
            raise ConfigError(
                f"no {CONFIG_FILENAME} in {cwd} or above it (up to the repository root);"
                " run 'mlops-ci init' to create one, or pass --config PATH",
                SourcePosition(str(cwd / CONFIG_FILENAME)),
            )
    return path


def config_from_document(
    document: YamlDocument,
    path: Path,
    root: Path,
    *,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> LoadedConfig:
    """Validate a parsed configuration (``MLOPS_CI_*`` variables and ``overrides`` applied).

    ``promote verify`` uses it for the base branch's configuration, read from git.
    """
    environ = os.environ if environ is None else environ
    data = document.data if document.data is not None else {}
    if not isinstance(data, dict):
        raise ConfigError(
            "the configuration must be a mapping of keys to values", document.position(())
        )
    data = apply_environment(data, environ)
    for key, value in (overrides or {}).items():
        if value is not None:
            data[key] = value
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, document) from None
    trusted = trusted_pairs(apply_environment({}, environ), dict(overrides or {}))
    loaded = LoadedConfig(config=config, path=path, root=root, document=document, trusted=trusted)
    check_config_paths(loaded)
    return loaded


def default_config(
    cwd: Path,
    *,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> LoadedConfig:
    """The defaults (with ``MLOPS_CI_*`` variables and ``overrides`` applied) for a directory
    without a configuration file."""
    environ = os.environ if environ is None else environ
    data = apply_environment({}, environ)
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, YamlDocument("environment", data, {}, {})) from None
    return LoadedConfig(config=config, path=None, root=cwd.resolve(), trusted=trusted_pairs(data))


def _read_document(path: Path) -> YamlDocument:
    display = str(path)
    try:
        text = read_yaml_file(path, display)
    except InputError as exc:
        raise ConfigError(exc.message, exc.position) from None
    return parse_config_text(text, display, pyproject=path.name == "pyproject.toml")


def parse_config_text(text: str, display: str, *, pyproject: bool = False) -> YamlDocument:
    """Parse the text of ``mlops-ci.yaml`` (or of ``pyproject.toml``'s ``[tool.mlops-ci]``)."""
    if not pyproject:
        return load_yaml(text, display)
    try:
        table = tomllib.loads(text).get("tool", {}).get("mlops-ci")
    except tomllib.TOMLDecodeError as exc:
        # tomllib names the line and the kind of problem; the excerpt is short and scrubbed.
        raise ConfigError(f"invalid TOML: {excerpt(str(exc))}", SourcePosition(display)) from None
    if table is None:
        raise ConfigError("pyproject.toml has no [tool.mlops-ci] table", SourcePosition(display))
    line = next(
        (n for n, ln in enumerate(text.splitlines(), 1) if ln.strip().startswith("[tool.mlops-ci")),
        1,
    )
    # TOML has no node positions here: every error points at the table header.
    return YamlDocument(display, table, {(): (line, 1)}, {})


_ENV_SCALARS: dict[str, PathKey] = {
    "FAIL_ON": ("fail_on",),
    "STATE_DIR": ("state_dir",),
    "WAIVERS": ("waivers",),
    "POLICIES": ("policies",),
    "ENVIRONMENTS": ("environments",),
    "SCAN_VULN_DB": ("scan", "vuln_db"),
    "SCAN_REQUIREMENTS": ("scan", "requirements"),
    "SCAN_SOURCE": ("scan", "source"),
    "SCAN_SERVICE": ("scan", "service"),
    "SIGNING_MODE": ("signing", "mode"),
    "SIGNING_KEY_FILE": ("signing", "key"),
    "SIGNING_PUBLIC_KEY": ("signing", "public_key"),
    "SIGNING_CA": ("signing", "ca"),
    "SIGNING_IDENTITY": ("signing", "identity"),
    "SIGNING_ISSUER": ("signing", "issuer"),
    "SIGNING_GITHUB_REPOSITORY": ("signing", "github", "repository"),
    "SIGNING_GITHUB_REF": ("signing", "github", "ref"),
    "SIGNING_GITHUB_WORKFLOW": ("signing", "github", "workflow"),
    "SIGNING_STAGING": ("signing", "staging"),
    "SIGNING_TRUST_CONFIG": ("signing", "trust_config"),
    "SIGNING_ALLOW_UNSIGNED": ("signing", "allow_unsigned"),
    "FORGE_KIND": ("forge", "kind"),
    "SBOM_OUTPUT_DIR": ("sbom", "output_dir"),
    "SBOM_SOURCE": ("sbom", "source"),
    "SBOM_REQUIREMENTS": ("sbom", "requirements"),
    "SBOM_GITLAB": ("sbom", "gitlab"),
    "SBOM_PYTHON": ("sbom", "python"),
    "FORGE_API_URL": ("forge", "api_url"),
}
_ENV_LISTS = {
    "POLICIES",
    "ENVIRONMENTS",
    "SCAN_REQUIREMENTS",
    "SCAN_SOURCE",
    "SBOM_REQUIREMENTS",
    "SIGNING_CA",
}


def apply_environment(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """Overlay ``MLOPS_CI_*`` variables (lists are comma-separated) on the file's data."""
    merged = dict(data)
    for suffix, loc in _ENV_SCALARS.items():
        raw = environ.get(ENV_PREFIX + suffix)
        if raw is None:
            continue
        value: Any = (
            [p.strip() for p in raw.split(",") if p.strip()] if suffix in _ENV_LISTS else raw
        )
        target = merged
        for part in loc[:-1]:
            section = target.get(str(part))
            target[str(part)] = dict(section) if isinstance(section, dict) else {}
            target = target[str(part)]
        target[str(loc[-1])] = value
    return merged


def _config_error(exc: ValidationError, document: YamlDocument) -> ConfigError:
    problem = describe_errors(exc, document, Config)[0]
    return ConfigError(problem.message, problem.position)


def config_schema() -> dict[str, Any]:
    """The JSON Schema of ``mlops-ci.yaml``, for editor completion."""
    schema = Config.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "mlops-ci configuration"
    return schema
