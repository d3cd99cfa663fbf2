"""Evaluating compiled rules over one facts document."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from mlops_ci.policy.cel import CelEvaluationError, evaluate, make_context
from mlops_ci.policy.pack import PolicyPack, PolicyRule

Outcome = Literal["pass", "fail", "skip", "error"]


@dataclass(frozen=True)
class RuleOutcome:
    """What one rule concluded: pass, fail, skip (its ``when`` was false) or error."""

    rule: PolicyRule
    outcome: Outcome
    message: str = ""


def evaluate_packs(packs: Sequence[PolicyPack], facts: Mapping[str, Any]) -> list[RuleOutcome]:
    """Evaluate every rule of ``packs``; a rule that cannot be evaluated fails closed."""
    context = make_context(facts)
    return [_evaluate(rule, context) for pack in packs for rule in pack.rules]


def _evaluate(rule: PolicyRule, context: Any) -> RuleOutcome:
    try:
        if rule.when is not None and not _boolean(rule, "when", evaluate(rule.when, context)):
            return RuleOutcome(rule, "skip")
        compliant = _boolean(rule, "expr", evaluate(rule.expr, context))
    except CelEvaluationError as exc:
        return RuleOutcome(
            rule, "error", f"{rule.description} (rule could not be evaluated: {exc})"
        )
    if compliant:
        return RuleOutcome(rule, "pass")
    return RuleOutcome(rule, "fail", render_message(rule, context))


def _boolean(rule: PolicyRule, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise CelEvaluationError(f"'{key}' returned {type(value).__name__}, not a boolean")
    return value


def render_message(rule: PolicyRule, context: Any) -> str:
    """The rule's message with each ``{{ expression }}`` replaced by its value."""
    pieces = []
    for part in rule.message:
        if part.program is None:
            pieces.append(part.text)
            continue
        try:
            value = evaluate(part.program, context)
        except CelEvaluationError:
            value = "?"
        pieces.append(_show(value))
    return " ".join("".join(pieces).split())


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ", ".join(_show(v) for v in value)
    return str(value)
