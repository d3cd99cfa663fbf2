"""The PR/MR description of a promotion: the evidence a reviewer needs, in Markdown."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlops_ci import __version__
from mlops_ci.promote.evidence import Evidence
from mlops_ci.promote.plan import PromotionPlan

BODY_MARKER = "<!-- mlops-ci:promotion -->"
COMMENT_MARKER = "<!-- mlops-ci:promotion-status -->"
MAX_BODY = 65_000  # GitHub refuses bodies over 65,536 characters


def _code(text: object) -> str:
    return f"`{str(text).replace('`', '')}`"


def _row(label: str, value: str) -> str:
    escaped = value.replace("|", "\\|")
    return f"| {label} | {escaped} |"


def pull_body(plan: PromotionPlan, evidence: Evidence | None) -> str:
    """The description: what changes, the digests, the verified evidence, the gate summary."""
    entry = plan.entry
    was = (
        f"{plan.current.version} {_code(plan.current.digest[:19] + '…')}"
        if plan.current
        else "nothing"
    )
    verb = "Roll back" if plan.rollback else "Promote"
    lines = [
        BODY_MARKER,
        f"## {'⏪' if plan.rollback else '🚀'} {verb} {_code(plan.model)} {entry.version} → **{plan.environment}**",
        "",
        "| | |",
        "| --- | --- |",
        _row("Model", _code(plan.model)),
        _row("Version", f"{entry.version} (replaces {was})"),
        _row("From", plan.source or "the repository (first environment)"),
        _row("Digest (OMS root)", _code(entry.digest)),
        _row("Artifact", _code(entry.artifact)),
        _row("Signature", _code(entry.signature or "-")),
        _row("Attestation", _code(entry.attestation or "-")),
        _row("State file", _code(plan.state_file)),
    ]
    if plan.rollback:
        lines.append(_row("Pinned", "yes: later promotions need `--unpin`"))
    if evidence is not None:
        who = evidence.identity or "-"
        lines.append(
            _row(
                "Verified",
                f"✅ {evidence.mode} signature by {_code(who)}"
                + (f" (issuer {_code(evidence.issuer)})" if evidence.issuer else ""),
            )
        )
        lines += ["", *_gate_summary(evidence.predicate), *_policy_table(evidence)]
    lines += [
        "",
        f"<sub>Opened by mlops-ci {__version__}. `mlops-ci promote verify` re-checks this change in CI;"
        " merging it deploys.</sub>",
    ]
    text = "\n".join(lines) + "\n"
    if len(text) > MAX_BODY:
        text = (
            text[: MAX_BODY - 200]
            + "\n\n… (truncated: see the gate report artifact of the pipeline)\n"
        )
    return text


def _gate_summary(predicate: Mapping[str, Any]) -> list[str]:
    report = predicate.get("report") or {}
    git = predicate.get("git") or {}
    lines = [
        "### Gate report at signing time",
        "",
        f"Verdict **{report.get('verdict', '?')}** · commit {_code(str(git.get('commit') or '?')[:12])}"
        f" · {report.get('started_at', '?')}",
        "",
    ]
    checks = [c for c in predicate.get("checks") or [] if isinstance(c, Mapping)]
    if checks:
        lines += ["| Check | Status | Unwaived findings |", "| --- | --- | --- |"]
        for item in checks:
            counts = (
                ", ".join(f"{n} {s}" for s, n in (item.get("findings") or {}).items()) or "none"
            )
            lines.append(f"| {item.get('check')} | {item.get('status')} | {counts} |")
        lines.append("")
    return lines


def _policy_table(evidence: Evidence) -> list[str]:
    if not evidence.outcomes:
        return []
    lines = ["### Policies of the target environment", "", "| Rule | Outcome |", "| --- | --- |"]
    icons = {"pass": "✅ pass", "skip": "⏭️ not applicable", "fail": "❌ fail", "error": "❌ error"}
    lines += [f"| {_code(o.rule.id)} | {icons[o.outcome]} |" for o in evidence.outcomes]
    return [*lines, ""]


def status_comment(plan: PromotionPlan, evidence: Evidence | None, when: str) -> str:
    """The sticky comment: the latest verification, updated in place on every run."""
    state = "✅ evidence verified" if evidence is not None else "⚠️ evidence not verified (dry run)"
    return (
        f"{COMMENT_MARKER}\n**mlops-ci**: {state} for {_code(plan.model)} {plan.entry.version}"
        f" → {plan.environment} at {when}; digest {_code(plan.entry.digest)}.\n"
    )
