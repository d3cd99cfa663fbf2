"""The ML-BOM part: a ``machine-learning-model`` component with its ``modelCard``, and one ``data``
component per dataset of the card.

Built as JSON, because cyclonedx-python-lib 11 has no classes for ``modelCard`` or component
``data``; the whole document is then validated against the CycloneDX 1.6 schema. Every value comes
from the card, the model files or what the ``eval`` check measured (:mod:`mlops_ci.sbom.evaluation`,
marked as measured); nothing is invented. Benchmark latencies are not in it: they
vary from run to run, and the SBOM is a signed document that must stay byte-identical while its
inputs do (they are in the gate report and its attestation instead). Card text that the schema
would reject as a URL or e-mail address is kept as plain text instead, so user input never makes
the document invalid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_ci.card.schema import CardMetadata, DataSource, Governance
from mlops_ci.sbom.evaluation import (
    MeasuredEvaluation,
    evaluation_properties,
    measured_metrics,
)
from mlops_ci.sbom.licenses import license_entries

PROPERTY_PREFIX = "mlops-ci:"
OMS_DIGEST_PROPERTY = "mlops-ci:model:oms-digest"
# Algorithms of ``algo:hex`` digests, with the hex length the CycloneDX schema requires.
_HASH_ALGS = {
    "md5": ("MD5", 32),
    "sha1": ("SHA-1", 40),
    "sha256": ("SHA-256", 64),
    "sha384": ("SHA-384", 96),
    "sha512": ("SHA-512", 128),
}


@dataclass(frozen=True)
class ModelFacts:
    """Everything the model component is built from."""

    name: str
    files: Sequence[tuple[str, str]]  # (path inside the model, sha256 hex), in path order
    card: CardMetadata | None
    card_path: str | None = None
    inputs: Sequence[str] = ()
    outputs: Sequence[str] = ()
    oms_digest: str | None = None
    evaluation: MeasuredEvaluation | None = None  # what the eval check measured


def model_files(model_path: Path) -> list[tuple[str, Path]]:
    """The files of a model, by relative path: every regular file of a directory (its
    ``.gitattributes`` and ``.github/`` included, as in its signature), or a file and the
    external data files it names (an ONNX model's weights are part of it)."""
    if not model_path.is_dir():
        from mlops_ci.signing.scope import ExternalDataError, external_data_files

        try:
            data = external_data_files(model_path, sniff=True)
        except ExternalDataError:
            data = ()  # the artifacts and signature checks refuse the model
        parent = model_path.parent
        return [(model_path.name, model_path)] + [
            (path.relative_to(parent).as_posix(), path) for path in data
        ]
    found = []
    for path in sorted(model_path.rglob("*")):
        relative = path.relative_to(model_path)
        if path.is_symlink() or not path.is_file() or ".git" in relative.parts:
            continue
        found.append((relative.as_posix(), path))
    return found


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file, read in 1 MiB blocks, once per run (shared with the OMS digest)."""
    from mlops_ci.digests import sha256_hex

    return sha256_hex(path)


def io_format(value: Mapping[str, Any]) -> str:
    """``input: float32[batch, 64]`` for one ONNX graph input or output."""
    dims = ", ".join("?" if d is None else str(d) for d in value.get("shape") or [])
    return f"{value.get('name')}: {value.get('dtype') or 'unknown'}[{dims}]"


def model_ref(name: str) -> str:
    """The bom-ref of the model component."""
    return f"mlops-ci:model:{name}"


def data_ref(source: DataSource) -> str:
    """The bom-ref of a dataset's ``data`` component."""
    return f"mlops-ci:data:{source.name}@{source.version or source.digest}"


def data_components(governance: Governance | None, model: str) -> list[dict[str, Any]]:
    """One ``data`` component per distinct training or evaluation dataset, in card order."""
    if governance is None:
        return []
    roles: dict[str, list[str]] = {}
    sources: dict[str, DataSource] = {}
    for role, listed in (
        ("training", governance.training_data),
        ("evaluation", governance.evaluation_data),
    ):
        for source in listed:
            ref = data_ref(source)
            sources.setdefault(ref, source)
            if role not in roles.setdefault(ref, []):
                roles[ref].append(role)
    return [
        _data_component(sources[ref], ref, f"{' and '.join(roles[ref])} data of {model}")
        for ref in sources
    ]


def _data_component(source: DataSource, ref: str, description: str) -> dict[str, Any]:
    component: dict[str, Any] = {"type": "data", "bom-ref": ref, "name": source.name}
    if source.version:
        component["version"] = source.version
    properties: list[dict[str, str]] = []
    if source.digest:
        hashed = _hash_entry(source.digest)
        if hashed is None:
            properties.append(_prop("data:digest", source.digest))
        else:
            component["hashes"] = [hashed]
    if source.license:
        component["licenses"] = license_entries([source.license])
    data: dict[str, Any] = {"type": "dataset", "name": source.name, "description": description}
    if source.source:
        if _conforms(source.source, "iri"):
            component["externalReferences"] = [{"type": "distribution", "url": source.source}]
            data["contents"] = {"url": source.source}
        else:
            properties.append(_prop("data:source", source.source))
    if source.owners:
        data["governance"] = {"owners": [_party(owner) for owner in source.owners]}
    component["data"] = [data]
    if properties:
        component["properties"] = properties
    return component


def model_component(facts: ModelFacts, datasets: Sequence[str]) -> dict[str, Any]:
    """The ``machine-learning-model`` component: files and hashes, licences, and the modelCard."""
    card = facts.card
    governance = card.governance if card else None
    component: dict[str, Any] = {
        "type": "machine-learning-model",
        "bom-ref": model_ref(facts.name),
        "name": facts.name,
    }
    if governance and governance.version:
        component["version"] = governance.version
    if len(facts.files) == 1:
        component["hashes"] = [{"alg": "SHA-256", "content": facts.files[0][1]}]
    if card and card.licenses:
        component["licenses"] = license_entries(
            card.licenses, card.license_name, _url_or_none(card.license_link)
        )
    properties = []
    if facts.oms_digest:
        properties.append({"name": OMS_DIGEST_PROPERTY, "value": facts.oms_digest})
    if facts.card_path:
        properties.append(_prop("model:card", facts.card_path))
    if properties:
        component["properties"] = properties
    component["components"] = [
        {
            "type": "file",
            "bom-ref": f"{model_ref(facts.name)}:file:{name}",
            "name": name,
            "hashes": [{"alg": "SHA-256", "content": digest}],
        }
        for name, digest in facts.files
    ]
    if card is not None or facts.evaluation is not None:
        component["modelCard"] = model_card(facts, datasets)
    return component


def model_card(facts: ModelFacts, datasets: Sequence[str]) -> dict[str, Any]:
    """The CycloneDX ``modelCard`` of a card (see the README's mapping table)."""
    card = facts.card
    governance = card.governance if card else None
    parameters: dict[str, Any] = {}
    if card and card.pipeline_tag:
        parameters["task"] = card.pipeline_tag
    if governance and governance.architecture:
        parameters["architectureFamily"] = governance.architecture
    if datasets:
        parameters["datasets"] = [{"ref": ref} for ref in datasets]
    if facts.inputs:
        parameters["inputs"] = [{"format": text} for text in facts.inputs]
    if facts.outputs:
        parameters["outputs"] = [{"format": text} for text in facts.outputs]
    result: dict[str, Any] = {"bom-ref": f"{model_ref(facts.name)}:model-card"}
    if parameters:
        result["modelParameters"] = parameters
    metrics = performance_metrics(card)  # the card's claims, then what was measured
    if facts.evaluation is not None:
        metrics += measured_metrics(facts.evaluation)
    if metrics:
        result["quantitativeAnalysis"] = {"performanceMetrics": metrics}
    considerations = _considerations(governance)
    if considerations:
        result["considerations"] = considerations
    properties = _governance_properties(governance)
    if facts.evaluation is not None:
        properties += evaluation_properties(facts.evaluation)
    if properties:
        result["properties"] = properties
    return result


def performance_metrics(card: CardMetadata | None) -> list[dict[str, Any]]:
    """Metrics of the governance block, of ``model-index`` and of fairness slices (the card's)."""
    metrics: list[dict[str, Any]] = []
    governance = card.governance if card else None
    if governance is not None:
        for metric in governance.evaluation_metrics:
            entry = {"type": metric.name, "value": str(metric.value)}
            if metric.dataset:
                entry["slice"] = metric.dataset
            metrics.append(entry)
        slices = governance.fairness.slices if governance.fairness else []
        for group in slices:
            if group.metric and group.value is not None:
                metrics.append(
                    {"type": group.metric, "value": str(group.value), "slice": group.name}
                )
    for index in (card.model_index or []) if card else []:
        for evaluation in index.results:
            for hub_metric in evaluation.metrics:
                if hub_metric.value is None:
                    continue
                entry = {"type": hub_metric.type, "value": str(hub_metric.value)}
                if evaluation.dataset is not None:
                    split = (
                        f" ({evaluation.dataset.split} split)" if evaluation.dataset.split else ""
                    )
                    entry["slice"] = f"{evaluation.dataset.name}{split}"
                metrics.append(entry)
    return metrics


def _considerations(governance: Governance | None) -> dict[str, Any]:
    if governance is None:
        return {}
    found: dict[str, Any] = {}
    if governance.intended_users:
        found["users"] = list(governance.intended_users)
    if governance.intended_use:
        found["useCases"] = [governance.intended_use]
    if governance.limitations:
        found["technicalLimitations"] = [governance.limitations]
    if governance.ethical_considerations:
        found["ethicalConsiderations"] = [{"name": governance.ethical_considerations}]
    fairness = governance.fairness
    if fairness is not None:
        assessments: list[dict[str, str]] = [{"groupAtRisk": s.name} for s in fairness.slices]
        if fairness.statement:
            assessments.append({"mitigationStrategy": fairness.statement})
        found["fairnessAssessments"] = assessments
    return found


def _governance_properties(governance: Governance | None) -> list[dict[str, str]]:
    if governance is None:
        return []
    properties = []
    if governance.risk_level:
        properties.append(_prop("risk-level", governance.risk_level))
    if governance.out_of_scope_use:
        properties.append(_prop("out-of-scope-use", governance.out_of_scope_use))
    for owner in governance.owners:
        properties.append(_prop("owner", f"{owner.name} <{owner.contact}>"))
    explainability = governance.explainability
    if explainability is not None:
        for key, value in (
            ("method", explainability.method),
            ("statement", explainability.statement),
        ):
            if value:
                properties.append(_prop(f"explainability:{key}", value))
    for approval in governance.approvals:
        properties.append(
            _prop("approval", f"{approval.name} ({approval.role}) {approval.date.isoformat()}")
        )
    return properties


def _prop(name: str, value: str) -> dict[str, str]:
    return {"name": PROPERTY_PREFIX + name, "value": value}


def _hash_entry(digest: str) -> dict[str, str] | None:
    algorithm, _, content = digest.partition(":")
    known = _HASH_ALGS.get(algorithm.lower())
    if known is None or len(content) != known[1]:
        return None
    return {"alg": known[0], "content": content.lower()}


def _party(owner: str) -> dict[str, Any]:
    if _conforms(owner, "idn-email"):
        return {"contact": {"email": owner}}
    return {"organization": {"name": owner}}


def _url_or_none(value: str | None) -> str | None:
    return value if value and _conforms(value, "iri") else None


def _conforms(value: str, format_name: str) -> bool:
    """Whether the schema's format checker accepts ``value`` (the validator uses the same one)."""
    if any(ch.isspace() for ch in value):
        return False
    from mlops_ci.sbom.schema import conforms

    return conforms(value, format_name)
