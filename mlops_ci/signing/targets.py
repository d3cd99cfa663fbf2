"""What a ``sign`` or ``verify`` run covers: models, their signature paths, SBOMs and the report.

- Models: ``--model NAME`` (configured), a ``PATH`` (a configured model when it is one, otherwise
  an ad-hoc file or directory), or every configured model.
- The JSON gate report: ``signing.report`` (default ``reports/mlops-ci.json``, what
  ``mlops-ci check --format json=reports/mlops-ci.json`` writes); signed when it exists.
- A model's SBOM: ``signing.sbom`` (a template with ``{name}`` and ``{path}``) when set; else the
  ``path`` fact of the report's ``sbom`` result for that model; else ``<name>.cdx.json`` at the
  repository root. Signed when it exists.
- Files mlops-ci writes inside a model directory (signatures, bundles, SBOM, report) are left out
  of the model's manifest, as are ``signing.ignore`` paths (relative to the model directory); the
  signature lists them in its ignore list. Everything else counts (see ``signing.scope``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlops_ci.config import Config, LoadedConfig, ModelConfig, apply_environment, find_config
from mlops_ci.errors import InputError, SourcePosition, UsageError
from mlops_ci.findings import Report
from mlops_ci.safepath import confine, output_path, read_bytes
from mlops_ci.signing import paths


@dataclass(frozen=True)
class Target:
    """One model to sign or verify, and where its signature files go."""

    name: str
    path: Path
    shown: str
    signature: Path
    attestation: Path
    sbom: Path | None
    configured: bool


def load_signing_config(
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    config: Path | None = None,
) -> LoadedConfig:
    """The configuration when there is one (``config``, ``MLOPS_CI_CONFIG`` or
    ``./mlops-ci.yaml``), else the defaults with ``MLOPS_CI_*`` applied: ``sign PATH`` works in
    any directory."""
    from mlops_ci.config import ENV_PREFIX, load_config

    cwd = cwd or Path.cwd()
    environ = os.environ if environ is None else environ
    if config is not None:
        return load_config(config, cwd=cwd, environ=environ)
    if environ.get(f"{ENV_PREFIX}CONFIG") or find_config(cwd) is not None:
        return load_config(cwd=cwd, environ=environ)
    from mlops_ci.config_paths import trusted_pairs

    data = apply_environment({}, environ)
    defaults = Config.model_validate(data)
    return LoadedConfig(config=defaults, path=None, root=cwd.resolve(), trusted=trusted_pairs(data))


def report_file(loaded: LoadedConfig) -> Path | None:
    """The JSON report to sign and attest, when configured (it may not exist yet)."""
    report = loaded.config.signing.report
    return loaded.resolve(report) if report else None


def read_report(path: Path | None, shown: str) -> tuple[Report, bytes] | None:
    """The report at ``path`` and its bytes, or None when there is none; bad JSON is exit 2."""
    if path is None or not (path.exists() or path.is_symlink()):
        return None
    data = read_bytes(path, what="JSON report", position=SourcePosition(shown))
    try:
        return Report.from_dict(json.loads(data)), data
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"not an mlops-ci JSON report ({exc.__class__.__name__}); write it with"
            " 'mlops-ci check --format json=PATH'",
            SourcePosition(shown),
        ) from None


def sbom_file(loaded: LoadedConfig, model: ModelConfig, report: Report | None) -> Path:
    """The SBOM path of ``model`` (see the module docstring); it may not exist."""
    template = loaded.config.signing.sbom
    if template:
        try:
            return loaded.resolve(template.format(name=model.name, path=model.path.rstrip("/")))
        except (KeyError, IndexError, ValueError):
            raise InputError(
                f"signing.sbom {template!r}: use only the placeholders {{name}} and {{path}}",
                SourcePosition(str(loaded.path or "mlops-ci.yaml")),
            ) from None
    for result in report.results if report else ():
        if result.check == "sbom" and result.model == model.name and result.facts.get("path"):
            return loaded.resolve(str(result.facts["path"]))
    return loaded.resolve(f"{model.name}.cdx.json")


def select_targets(
    loaded: LoadedConfig,
    *,
    model: str | None = None,
    path: Path | None = None,
    signature: Path | None = None,
    report: Report | None = None,
) -> list[Target]:
    """The models a run covers; ``--signature`` only makes sense for one of them."""
    if model is not None and path is not None:
        raise UsageError("give either --model NAME or a PATH, not both")
    chosen: list[tuple[ModelConfig | None, Path]]
    if model is not None:
        found = loaded.config.model(model)
        chosen = [(found, loaded.resolve(found.path))]
    elif path is not None:
        # The pipeline's own argument, but a link planted in the repository cannot take it (and
        # the .sig written beside it) outside.
        resolved = confine(path.absolute(), loaded.root, what="model path", trusted=True)
        match = next((m for m in loaded.config.models if loaded.resolve(m.path) == resolved), None)
        chosen = [(match, resolved)]
    else:
        chosen = [(m, loaded.resolve(m.path)) for m in loaded.config.models]
        if not chosen:
            raise UsageError(
                "nothing to sign or verify: no models configured; give a model PATH,"
                " or add a 'models:' entry to mlops-ci.yaml"
            )
    if signature is not None and len(chosen) > 1:
        raise UsageError("--signature needs a single model: add --model NAME or a PATH")
    targets = []
    for config, model_path in chosen:
        sig = (
            output_path(signature.absolute(), loaded.root, what="--signature")
            if signature
            else paths.signature_path(model_path)
        )
        targets.append(
            Target(
                name=config.name if config else model_path.name,
                path=model_path,
                shown=loaded.display(model_path),
                signature=sig,
                attestation=paths.attestation_path(sig),
                sbom=sbom_file(loaded, config, report) if config else None,
                configured=config is not None,
            )
        )
    return targets


def release_targets(
    loaded: LoadedConfig,
    *,
    model: str | None = None,
    path: Path | None = None,
    signature: Path | None = None,
) -> list[Target]:
    """:func:`select_targets`, with SBOM paths taken from the JSON report when it exists."""
    report_path = report_file(loaded)
    report = read_report(report_path, loaded.display(report_path) if report_path else "")
    return select_targets(
        loaded, model=model, path=path, signature=signature, report=report[0] if report else None
    )


def hashing_ignores(
    loaded: LoadedConfig, target: Target, extra: Sequence[Path] = ()
) -> tuple[Path, ...]:
    """Paths a model's manifest leaves out: mlops-ci's evidence files and ``signing.ignore``.

    Relative to the model directory; for a single-file model, the evidence beside it, relative to
    the file's directory (listed in the manifest of an ONNX file with external data, and never
    accepted as one of its data files).
    """
    report = report_file(loaded)
    outputs = [target.signature, target.attestation, *extra]
    for file in (target.sbom, report):
        if file is not None:
            outputs += [file, paths.bundle_path(file)]
    if not target.path.is_dir():
        return tuple(paths.inside(target.path.parent, outputs))
    ignored = [Path(p) for p in loaded.config.signing.ignore]
    ignored += [p for p in paths.inside(target.path, outputs) if p not in ignored]
    return tuple(ignored)
