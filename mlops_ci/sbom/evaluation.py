"""Measured quality in the ML-BOM: the ``eval`` check's metrics and its data set.

The card's ``evaluation_metrics`` are claims; what ``eval`` measured is evidence. Both go into
``modelCard.quantitativeAnalysis.performanceMetrics``, kept apart: a measured metric's ``slice``
says ``measured by mlops-ci on <data>`` (CycloneDX 1.6's performanceMetric has only type, value,
slice and confidenceInterval, no properties), and the modelCard's ``mlops-ci:eval:*`` properties
name the measured metrics, the row count and the data digest. The data set is a ``data``
component with its SHA-256 digest.

Only what depends on the model and the data goes in: the candidate's values, never the baseline,
the deltas or the verdict (a promotion moves the baseline, and must not change a signed SBOM's
bytes; those are in the report and the attestation). Values are formatted with ``.6g``, so the
document stays byte-identical for unchanged inputs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlops_ci.findings import JsonValue

MEASURED_PREFIX = "measured by mlops-ci on "


@dataclass(frozen=True)
class MeasuredEvaluation:
    """What the ``eval`` check measured for the candidate, as the SBOM carries it."""

    data: str  # the data path, repository-relative
    data_digest: str  # "sha256:<hex>"
    rows: int
    metrics: tuple[tuple[str, float], ...]  # (metric, the candidate's value), in measured order
    fairness: tuple[tuple[str, str, float], ...] = ()  # (metric, sensitive column, value)


def measured_evaluation(facts: Mapping[str, JsonValue] | None) -> MeasuredEvaluation | None:
    """The measured evaluation in an ``eval`` result's facts; None when it measured nothing."""
    if not facts:
        return None
    digest, rows, data = facts.get("data_digest"), facts.get("rows"), facts.get("data")
    metrics = facts.get("metrics")
    if not isinstance(digest, str) or not isinstance(rows, int) or not isinstance(data, str):
        return None
    if not isinstance(metrics, Mapping):
        return None
    measured = tuple(
        (str(name), float(value))
        for name, value in metrics.items()
        if isinstance(value, int | float) and math.isfinite(value)
    )
    fairness = []
    for entry in facts.get("fairness_results") or []:
        if not isinstance(entry, Mapping):
            continue
        value = entry.get("candidate")
        if isinstance(value, int | float) and math.isfinite(value):
            fairness.append((str(entry.get("metric")), str(entry.get("by")), float(value)))
    return MeasuredEvaluation(data, digest, rows, measured, tuple(fairness))


def figure(value: float) -> str:
    """A measured value as the SBOM writes it: 6 significant digits, the same on every run."""
    return f"{value:.6g}"


def evaluation_ref(evaluation: MeasuredEvaluation) -> str:
    """The bom-ref of the evaluation data set's ``data`` component."""
    return f"mlops-ci:data:{evaluation.data}@{evaluation.data_digest}"


def measured_metrics(evaluation: MeasuredEvaluation) -> list[dict[str, Any]]:
    """performanceMetrics entries for the measured values, marked as measured in ``slice``."""
    where = f"{MEASURED_PREFIX}{evaluation.data}"
    entries = [
        {"type": name, "value": figure(value), "slice": where} for name, value in evaluation.metrics
    ]
    entries += [
        {"type": name, "value": figure(value), "slice": f"{where}, by {by}"}
        for name, by, value in evaluation.fairness
    ]
    return entries


def evaluation_properties(evaluation: MeasuredEvaluation) -> list[dict[str, str]]:
    """modelCard properties saying which metrics are measured, on how many rows of what."""
    return [
        {"name": "mlops-ci:eval:data", "value": evaluation.data},
        {"name": "mlops-ci:eval:data-digest", "value": evaluation.data_digest},
        {"name": "mlops-ci:eval:rows", "value": str(evaluation.rows)},
        {
            "name": "mlops-ci:eval:measured",
            "value": ", ".join(name for name, _ in evaluation.metrics),
        },
    ]


def evaluation_component(evaluation: MeasuredEvaluation, model: str) -> dict[str, Any]:
    """The evaluation data set as a ``data`` component with its SHA-256 digest."""
    component: dict[str, Any] = {
        "type": "data",
        "bom-ref": evaluation_ref(evaluation),
        "name": evaluation.data,
    }
    algorithm, _, content = evaluation.data_digest.partition(":")
    if algorithm == "sha256" and len(content) == 64:
        component["hashes"] = [{"alg": "SHA-256", "content": content.lower()}]
    else:
        component["properties"] = [
            {"name": "mlops-ci:data:digest", "value": evaluation.data_digest}
        ]
    component["data"] = [
        {
            "type": "dataset",
            "name": evaluation.data,
            "description": f"evaluation data of {model}, measured by mlops-ci"
            f" ({evaluation.rows} rows)",
        }
    ]
    return component
