"""What ``promote verify`` verified, said in the report: facts for tools, a sentence for people.

A pass that only says "passed" leaves the reviewer guessing what was looked at. Each entry the
pull request changes and that verified is recorded (model, environment, version, digest, where
it came from, and the evidence: signature mode and signer, attestation, gate verdict, policy
packs); the result's summary carries one sentence and the key figures, so every format shows
them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mlops_ci.promote.evidence import Evidence, attested_verdict
from mlops_ci.promote.state import StateEntry


def verified_entry(
    model: str,
    env: str,
    entry: StateEntry,
    evidence: Evidence,
    *,
    source: str | None,
    rollback: bool,
    policies: Sequence[str],
) -> dict[str, Any]:
    """The record of one verified change (JSON-shaped, for ``facts.verified``)."""
    signer = evidence.identity or ""
    passed = sum(1 for o in evidence.outcomes if o.outcome == "pass")
    return {
        "model": model,
        "environment": env,
        "kind": "rollback" if rollback else "promotion",
        "from": source or ("rollback" if rollback else "repository"),
        "version": entry.version,
        "digest": entry.digest,
        "commit": entry.promoted_from.get("commit", ""),
        "evidence": {
            "signature": {"mode": evidence.mode, "signer": signer, "issuer": evidence.issuer or ""},
            "attestation": True,
            "gate_verdict": attested_verdict(evidence.predicate)
            if source is None and not rollback
            else "",
            "policies": list(policies),
            "policy_rules_passed": passed,
        },
    }


def summary(
    base_name: str,
    base: str,
    head: str,
    branch: str,
    verified: Sequence[Mapping[str, Any]],
    findings: int,
    changed: Sequence[str],
) -> dict[str, str]:
    """The result's summary: the one-line statement first, then what it covered."""
    where = f"{branch} ({head[:12]})" if branch else head[:12]
    against = f"{base_name} ({base[:12]})" if base_name and base_name != base else base[:12]
    if findings:
        statement = (
            f"refused {where} against {against}: {findings} finding(s);"
            f" {len(verified)} changed entr{'y' if len(verified) == 1 else 'ies'} verified"
        )
    elif not verified:
        statement = f"verified {where} against {against}: it changes no state entry"
    else:
        statement = f"verified {where} against {against}: " + "; ".join(
            _sentence(v) for v in verified
        )
    figures = {"result": statement}
    figures["changed files"] = (
        ", ".join(changed[:5]) + (f" (+{len(changed) - 5} more)" if len(changed) > 5 else "")
        or "none"
    )
    for record in verified[:5]:
        figures[f"{record['model']} in {record['environment']}"] = _evidence(record)
    return figures


def _sentence(record: Mapping[str, Any]) -> str:
    move = (
        f"rollback in {record['environment']}"
        if record["kind"] == "rollback"
        else f"{record['from']} → {record['environment']}"
    )
    return f"{record['model']} {record['version']} ({_short(record['digest'])}) {move}"


def _evidence(record: Mapping[str, Any]) -> str:
    evidence = record["evidence"]
    signature = evidence["signature"]
    # "key sha256:e24c..." or "sigstore, who@example.com" or just the mode
    signer = str(signature["signer"])
    if signer.startswith("sha256:"):  # a key's fingerprint: its start tells keys apart
        signer = signer[:19]
    sep = (" " if signature["mode"] == "key" else ", ") if signer else ""
    parts = [
        f"{record['version']} {_short(record['digest'])} from commit {str(record['commit'])[:12]}",
        f"signature ({signature['mode']}{sep}{signer})",
        "attestation",
    ]
    if evidence["gate_verdict"]:
        parts.append(f"gate verdict {evidence['gate_verdict']}")
    packs = evidence["policies"]
    parts.append(
        f"policies {', '.join(packs)} ({evidence['policy_rules_passed']} rules passed)"
        if packs
        else "no promotion policies configured"
    )
    return "; ".join(parts)


def _short(digest: str) -> str:
    algorithm, _, value = digest.rpartition(":")
    return f"{algorithm}:{value[:12]}" if algorithm else value[:12]
