"""The facts document policies are evaluated over: one JSON-shaped mapping per model.

Every top-level section is always present (possibly empty), so ``has(bench.p90_ms)`` works when
no benchmark ran; a fact no check produced is simply absent. ``mlops-ci policy facts`` prints it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mlops_ci.config import ModelConfig
from mlops_ci.findings import CheckResult, GitInfo, JsonValue, Report, Severity

CHECK_SECTIONS = (
    "card",
    "onnx_model",
    "deps",
    "sast",
    "artifacts",
    "sbom",
    "bench",
    "eval",
    "signature",
)


def section_name(check: str) -> str:
    """The facts section of a check: its name with '-' replaced by '_' (a CEL identifier)."""
    return check.replace("-", "_")


def check_summary(result: CheckResult) -> dict[str, JsonValue]:
    """Status and unwaived finding counts by severity of one check result."""
    counts = {s.label: 0 for s in Severity}
    waived = 0
    for finding in result.findings:
        if finding.suppressed_by is None:
            counts[finding.severity.label] += 1
        else:
            waived += 1
    return {
        "status": result.status,
        "findings": counts,
        "total": sum(counts.values()),
        "waived": waived,
        "rules": sorted({f.rule_id for f in result.findings if f.suppressed_by is None}),
    }


def build_facts(
    model: ModelConfig | None,
    results: Mapping[str, CheckResult],
    *,
    git: GitInfo,
    changed_files: Sequence[str] = (),
    environment: str | None = None,
    environments: Sequence[str] = (),
    target: Mapping[str, JsonValue] | None = None,
) -> dict[str, Any]:
    """Assemble the facts document of ``model`` from the results of the checks it needs."""
    facts: dict[str, Any] = {
        "model": {} if model is None else {"name": model.name, "path": model.path},
        "git": {
            key: value
            for key, value in (
                ("commit", git.commit),
                ("branch", git.branch),
                ("dirty", git.dirty),
                ("changed_files", list(changed_files)),
            )
            if value is not None
        },
        "environments": list(environments),
        "target": dict(target or {}),
        "checks": {},
    }
    if model is not None and model.card is not None:
        facts["model"]["card"] = model.card
    if model is not None and model.eval is not None:
        facts["model"]["eval"] = True  # the model opted in: rules may require its verdict
    if environment is not None:
        facts["target"].setdefault("environment", environment)
        if environment in environments:
            index = list(environments).index(environment)
            if index > 0:
                facts["target"].setdefault("previous", environments[index - 1])
    for section in CHECK_SECTIONS:
        facts[section] = {}
    for name, result in results.items():
        facts["checks"][section_name(name)] = check_summary(result)
        facts[section_name(name)] = dict(result.facts)
    card = facts["card"]
    card.setdefault("governance", {})
    card.setdefault("licenses", [])
    return facts


def empty_facts() -> dict[str, Any]:
    """A facts document with every section present and nothing in it."""
    facts: dict[str, Any] = {
        "model": {},
        "git": {},
        "environments": [],
        "target": {},
        "checks": {},
    }
    for section in CHECK_SECTIONS:
        facts[section] = {}
    facts["card"] = {"governance": {}, "licenses": []}
    return facts


def facts_from_report(
    report: Report, model: ModelConfig, environments: Sequence[str], environment: str | None
) -> dict[str, Any]:
    """The facts document of ``model`` rebuilt from a finished report."""
    results = {r.check: r for r in report.results if r.model in (model.name, None)}
    return build_facts(
        model,
        results,
        git=report.git,
        environment=environment,
        environments=environments,
    )
