"""Generate the SBOM of one model: read its card and files, run cyclonedx-py, assemble, validate,
write atomically. An invalid document raises :class:`~mlops_ci.sbom.document.InvalidSbomError` and is
never written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mlops_ci import __version__
from mlops_ci.card.schema import CardMetadata
from mlops_ci.errors import InputError, SourcePosition
from mlops_ci.findings import GitInfo
from mlops_ci.fsutil import atomic_write
from mlops_ci.sbom import document
from mlops_ci.sbom.evaluation import MeasuredEvaluation, evaluation_component
from mlops_ci.sbom.licenses import bom_licenses
from mlops_ci.sbom.mlbom import (
    ModelFacts,
    data_components,
    io_format,
    model_component,
    model_files,
    sha256_file,
)
from mlops_ci.sbom.software import SoftwarePart, SoftwareSource, build_software_part
from mlops_ci.scrub import scrub_document


@dataclass(frozen=True)
class ModelSbomRequest:
    """What to build one model's SBOM from, and where to write it."""

    name: str
    model_path: Path
    card: CardMetadata | None
    card_path: str | None
    software: SoftwareSource
    output: Path
    display: Callable[[Path], str]
    git: GitInfo = field(default_factory=GitInfo)
    evaluation: MeasuredEvaluation | None = None  # measured by the eval check, if it ran
    software_part: SoftwarePart | None = None  # already inventoried (shared by models)


@dataclass(frozen=True)
class SbomOutcome:
    """The written SBOM and the facts policies read about it."""

    path: Path
    digest: str
    components: int
    licenses: list[str]
    model_card: bool


def oms_model_digest(model_path: Path) -> str | None:
    """Hook for "one digest everywhere": the OpenSSF Model Signing manifest digest of the model.

    Filled in by ``mlops_ci.signing.oms.model_digest`` where the signing package exists; without
    it the SBOM carries the per-file SHA-256 hashes only.
    """
    try:
        from mlops_ci.signing.oms import (  # type: ignore[import-not-found, unused-ignore]
            model_digest,
        )
    except ImportError:
        return None
    from mlops_ci.signing.scope import ExternalDataError

    try:
        found: str = model_digest(model_path)
    except ExternalDataError:
        return None  # no digest can cover the model: the signature and artifacts checks say why
    return found


def generate_model_sbom(request: ModelSbomRequest) -> SbomOutcome:
    """Build, validate and write the SBOM of one model."""
    model_path = request.model_path
    if not model_path.exists():
        raise InputError(
            f"model {request.name!r}: {request.display(model_path)} does not exist;"
            " fix its 'path:' in the configuration",
            SourcePosition(request.display(model_path)),
        )
    files = model_files(model_path)
    inputs, outputs = _io_formats(files)
    facts = ModelFacts(
        name=request.name,
        files=[(name, sha256_file(path)) for name, path in files],
        card=request.card,
        card_path=request.card_path,
        inputs=inputs,
        outputs=outputs,
        oms_digest=oms_model_digest(model_path),
        evaluation=request.evaluation,
    )
    governance = request.card.governance if request.card else None
    data = data_components(governance, request.name)
    if request.evaluation is not None:
        measured = evaluation_component(request.evaluation, request.name)
        if all(d["bom-ref"] != measured["bom-ref"] for d in data):
            data.append(measured)
    model = model_component(facts, [d["bom-ref"] for d in data])
    software = request.software_part or build_software_part(request.software, request.display)
    bom = document.assemble(
        timestamp=document.sbom_timestamp(request.git.committed_at),
        tool_version=__version__,
        tools=software.tools,
        git=request.git,
        source=request.software.kind,
        model=model,
        data=data,
        software=software.components,
        dependencies=software.dependencies,
    )
    # Requirement URLs may carry credentials (https://user:token@host): never into the file.
    text = scrub_document(document.render(bom))
    document.validate(text)
    atomic_write(request.output, text)
    return SbomOutcome(
        path=request.output,
        digest=document.digest(text),
        components=document.component_count(bom),
        licenses=bom_licenses(bom),
        model_card="modelCard" in model,
    )


def _io_formats(files: list[tuple[str, Path]]) -> tuple[list[str], list[str]]:
    from mlops_ci.checks.onnx_model import graph_signature

    graphs = [(name, path) for name, path in files if path.suffix == ".onnx"]
    inputs: list[str] = []
    outputs: list[str] = []
    for name, path in graphs:
        signature = graph_signature(path)
        if signature is None:
            continue  # the onnx-model check reports unreadable models
        prefix = f"{name}: " if len(graphs) > 1 else ""
        inputs += [prefix + io_format(v) for v in signature[0]]
        outputs += [prefix + io_format(v) for v in signature[1]]
    return inputs, outputs
