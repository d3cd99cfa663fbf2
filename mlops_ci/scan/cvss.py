"""CVSS base scores from vector strings, and the severity an OSV advisory carries.

Only the base-score formulas of CVSS v3.0/v3.1 and v2 are implemented (they are short and
published by FIRST); a CVSS v4 vector has no closed formula (it needs FIRST's lookup tables), so
for v4 the database's own severity label is used, or the configured default.

Severity of an advisory, in order: the highest CVSS v3/v2 base score in ``severity`` (top level or
per ``affected`` entry), else ``database_specific.severity`` (GHSA labels: LOW, MODERATE, HIGH,
CRITICAL), else None: the caller applies ``scan.unknown_severity`` (default high) and counts the
finding as ``unknown`` in the facts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from mlops_ci.findings import Severity

_V3_WEIGHTS: dict[str, dict[str, float]] = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
    "I": {"H": 0.56, "L": 0.22, "N": 0.0},
    "A": {"H": 0.56, "L": 0.22, "N": 0.0},
}
_V3_PRIVILEGES = {"U": {"N": 0.85, "L": 0.62, "H": 0.27}, "C": {"N": 0.85, "L": 0.68, "H": 0.5}}
_V2_WEIGHTS: dict[str, dict[str, float]] = {
    "AV": {"L": 0.395, "A": 0.646, "N": 1.0},
    "AC": {"H": 0.35, "M": 0.61, "L": 0.71},
    "Au": {"M": 0.45, "S": 0.56, "N": 0.704},
    "C": {"N": 0.0, "P": 0.275, "C": 0.660},
    "I": {"N": 0.0, "P": 0.275, "C": 0.660},
    "A": {"N": 0.0, "P": 0.275, "C": 0.660},
}
_LABELS = {
    "CRITICAL": Severity.CRITICAL,
    "HIGH": Severity.HIGH,
    "MODERATE": Severity.MEDIUM,
    "MEDIUM": Severity.MEDIUM,
    "LOW": Severity.LOW,
}


def _metrics(vector: str) -> dict[str, str]:
    parts = [p for p in vector.strip().split("/") if ":" in p]
    return dict(p.split(":", 1) for p in parts)


def _roundup(value: float) -> float:
    # CVSS v3.1 Appendix A: round up to one decimal without floating-point surprises.
    scaled = round(value * 100_000)
    if scaled % 10_000 == 0:
        return scaled / 100_000.0
    return (math.floor(scaled / 10_000) + 1) / 10.0


def cvss3_score(vector: str) -> float | None:
    """The CVSS v3.x base score of ``vector``, or None when it is not a complete v3 vector."""
    metrics = _metrics(vector)
    try:
        scope = metrics["S"]
        weights = {key: _V3_WEIGHTS[key][metrics[key]] for key in _V3_WEIGHTS}
        privileges = _V3_PRIVILEGES[scope][metrics["PR"]]
    except KeyError:
        return None
    iss = 1 - (1 - weights["C"]) * (1 - weights["I"]) * (1 - weights["A"])
    changed = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15
    impact = 6.42 * iss if scope == "U" else changed
    exploitability = 8.22 * weights["AV"] * weights["AC"] * privileges * weights["UI"]
    if impact <= 0:
        return 0.0
    total = impact + exploitability if scope == "U" else 1.08 * (impact + exploitability)
    return _roundup(min(total, 10.0))


def cvss2_score(vector: str) -> float | None:
    """The CVSS v2 base score of ``vector``, or None when it is not a complete v2 vector."""
    metrics = _metrics(vector)
    try:
        weights = {key: _V2_WEIGHTS[key][metrics[key]] for key in _V2_WEIGHTS}
    except KeyError:
        return None
    impact = 10.41 * (1 - (1 - weights["C"]) * (1 - weights["I"]) * (1 - weights["A"]))
    exploitability = 20 * weights["AV"] * weights["AC"] * weights["Au"]
    factor = 0.0 if impact == 0 else 1.176
    return round((0.6 * impact + 0.4 * exploitability - 1.5) * factor, 1)


def score_severity(score: float) -> Severity:
    """The qualitative rating of a CVSS score (FIRST's v3 table; 0.0 is informational)."""
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    if score > 0.0:
        return Severity.LOW
    return Severity.INFO


def advisory_severity(record: Mapping[str, Any]) -> Severity | None:
    """The severity an OSV record states (see the module docstring), or None when it has none."""
    entries: list[Any] = list(record.get("severity") or [])
    for affected in record.get("affected") or []:
        if isinstance(affected, Mapping):
            entries.extend(affected.get("severity") or [])
    scores: list[float] = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        kind, vector = str(entry.get("type", "")), str(entry.get("score", ""))
        score = cvss3_score(vector) if kind == "CVSS_V3" else None
        if kind == "CVSS_V2":
            score = cvss2_score(vector)
        if score is not None:
            scores.append(score)
    if scores:
        return score_severity(max(scores))
    specific = record.get("database_specific")
    if isinstance(specific, Mapping):
        label = _LABELS.get(str(specific.get("severity", "")).upper())
        if label is not None:
            return label
    return None
