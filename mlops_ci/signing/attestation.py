"""The gate-report attestation: an in-toto statement about the model digest, summarising evidence.

Subject: the model, by its OMS root digest. Predicate type
``https://mlops-ci.dev/attestation/gate-report/v1``; the predicate holds (keys are present only
when the report has the facts behind them):

- ``report``: path, ``sha256:`` digest, start time, overall verdict, ``fail_on``;
- ``model``: name and the verdict of this model's checks (with repository-wide checks);
- ``git``: commit, branch, dirty; ``environment``: the target environment of the run;
- ``checks``: per check, its status and the count of unsuppressed findings by severity;
- ``policies``: the policy packs (``facts.policy.packs``: name and version);
- ``vulnerabilities``: ``facts.deps.vulnerabilities`` (+ ``total``, ``unaudited``);
- ``sast``: ``facts.sast.counts``;
- ``benchmark``: ``facts.bench`` verdict, p50_ms, p90_ms, ratio, provider;
- ``sbom``: ``facts.sbom`` digest and component count;
- ``evaluation``: ``facts.eval`` verdict, rows, data (path and digest), task, the baseline's
  label and digest, and per metric the candidate's and baseline's values with the delta and
  its interval (``{value, low, high}``) and the gate's limit.

It is signed in the same mode as the model, so a promotion verifies the evidence, not only bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from mlops_ci.findings import CheckResult, JsonValue, Report, Severity
from mlops_ci.signing.verify import ATTESTATION_PREDICATE_TYPE

IN_TOTO_STATEMENT_TYPE = "https://in-toto.io/Statement/v1"


def _pick(facts: Mapping[str, JsonValue], *keys: str) -> dict[str, JsonValue]:
    return {key: facts[key] for key in keys if key in facts}


def _verdict(results: list[CheckResult]) -> str:
    statuses = {r.status for r in results}
    return "error" if "errored" in statuses else "fail" if "failed" in statuses else "pass"


def _findings_by_severity(result: CheckResult) -> dict[str, int]:
    counts = {severity.label: 0 for severity in reversed(Severity)}
    for finding in result.findings:
        if finding.suppressed_by is None:
            counts[finding.severity.label] += 1
    return {label: n for label, n in counts.items() if n}


def gate_predicate(
    report: Report, model: str, report_path: str, report_bytes: bytes
) -> dict[str, JsonValue]:
    """The predicate summarising ``report`` for ``model`` (its results and repository ones)."""
    results = [r for r in report.results if r.model in (model, None)]
    facts = {r.check: r.facts for r in results}
    predicate: dict[str, JsonValue] = {
        "report": {
            "path": report_path,
            "digest": "sha256:" + hashlib.sha256(report_bytes).hexdigest(),
            "started_at": report.started_at,
            "verdict": report.verdict,
            "fail_on": report.fail_on.label,
            "tool_version": report.tool_version,
        },
        "model": {"name": model, "verdict": _verdict(results)},
        "git": {
            "commit": report.git.commit,
            "branch": report.git.branch,
            "dirty": report.git.dirty,
        },
        "checks": [
            {
                "check": r.check,
                "model": r.model,
                "status": r.status,
                "findings": _findings_by_severity(r),
                "suppressed": sum(1 for f in r.findings if f.suppressed_by is not None),
            }
            for r in results
        ],
    }
    if report.environment is not None:
        predicate["environment"] = report.environment
    packs = facts.get("policy", {}).get("packs")
    if isinstance(packs, list):
        predicate["policies"] = [
            _pick(p, "name", "version") for p in packs if isinstance(p, Mapping)
        ]
    deps = facts.get("deps", {})
    if "vulnerabilities" in deps:
        predicate["vulnerabilities"] = _pick(deps, "vulnerabilities", "total", "unaudited")
    if "counts" in facts.get("sast", {}):
        predicate["sast"] = dict(_pick(facts["sast"], "counts", "total"))
    bench = _pick(facts.get("bench", {}), "verdict", "p50_ms", "p90_ms", "ratio", "provider")
    if bench:
        predicate["benchmark"] = bench
    evaluation = evaluation_predicate(facts.get("eval", {}))
    if evaluation:
        predicate["evaluation"] = evaluation
    sbom = _pick(facts.get("sbom", {}), "digest", "components")
    if sbom:
        predicate["sbom"] = sbom
    return predicate


def evaluation_predicate(facts: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
    """The attestation's ``evaluation``: what ``eval`` measured, bound to the data's digest."""
    if "verdict" not in facts or "data_digest" not in facts:
        return {}
    found = _pick(
        facts,
        "verdict",
        "rows",
        "task",
        "data",
        "data_digest",
        "candidate_digest",
        "baseline_label",
        "baseline_digest",
        "confidence",
        "resamples",
        "seed",
    )
    names = facts.get("metrics")
    parts = {key: facts.get(key) for key in ("baseline", "delta", "gate")}
    metrics: dict[str, JsonValue] = {}
    for name, value in names.items() if isinstance(names, Mapping) else ():
        entry: dict[str, JsonValue] = {"candidate": value}
        for key, part in parts.items():
            if isinstance(part, Mapping) and name in part:
                entry[key] = part[name]
        metrics[name] = entry
    found["metrics"] = metrics
    return found


def statement_bytes(model: str, digest: str, predicate: Mapping[str, Any]) -> bytes:
    """The in-toto v1 statement (canonical JSON) with the model digest as its only subject."""
    algorithm, _, value = digest.partition(":")
    statement = {
        "_type": IN_TOTO_STATEMENT_TYPE,
        "subject": [{"name": model, "digest": {algorithm: value}}],
        "predicateType": ATTESTATION_PREDICATE_TYPE,
        "predicate": predicate,
    }
    return json.dumps(statement, sort_keys=True, separators=(",", ":")).encode("utf-8")
