"""Evaluating compiled rules over one facts document, each within a cost budget.

Before a rule runs, :mod:`mlops_ci.policy.celcost` bounds its cost over these facts. Over
``policy.max_cost`` it is not run at all; under :data:`IN_PROCESS_COST` it runs here (the normal
case: every shipped rule costs tens of units); otherwise, or when no bound is known, it runs in a
forked child killed after ``policy.timeout_s`` (:mod:`mlops_ci.policy.guard`). A rule stopped by
either limit is an error outcome with ``over_budget`` set: a blocking ``POLICY-BUDGET`` finding
that names it. All the rules of one facts document together stop after
``TOTAL_TIMEOUTS`` × ``policy.timeout_s``; the rules left are ``POLICY-BUDGET`` findings too.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from mlops_ci.policy.cel import CelEvaluationError, evaluate, make_context
from mlops_ci.policy.celcost import CostModel
from mlops_ci.policy.guard import run_guarded
from mlops_ci.policy.pack import PolicyPack, PolicyRule

Outcome = Literal["pass", "fail", "skip", "error"]

DEFAULT_MAX_COST = 10_000_000  # ~0.5 s of evaluation at ~50 ns a unit
DEFAULT_TIMEOUT_S = 5.0
IN_PROCESS_COST = 1_000_000  # ~50 ms: cheap enough to run without the guard
TOTAL_TIMEOUTS = 4  # all rules of one model together: at most this many times policy.timeout_s


@dataclass(frozen=True)
class Budget:
    """The limits of one rule: its estimated cost, and the wall time of a guarded evaluation."""

    max_cost: int = DEFAULT_MAX_COST
    timeout_s: float = DEFAULT_TIMEOUT_S


@dataclass(frozen=True)
class RuleOutcome:
    """What one rule concluded: pass, fail, skip (its ``when`` was false) or error."""

    rule: PolicyRule
    outcome: Outcome
    message: str = ""
    over_budget: bool = False


def evaluate_packs(
    packs: Sequence[PolicyPack], facts: Mapping[str, Any], budget: Budget | None = None
) -> list[RuleOutcome]:
    """Evaluate every rule of ``packs``; a rule that cannot be evaluated, or would exceed
    ``budget``, fails closed."""
    budget = budget or Budget()
    context = make_context(facts)
    costs = CostModel(facts)
    # Many rules each under the budget must not add up to an unbounded run either.
    deadline = time.monotonic() + TOTAL_TIMEOUTS * budget.timeout_s
    outcomes = []
    for pack in packs:
        for rule in pack.rules:
            if time.monotonic() > deadline:
                spent = TOTAL_TIMEOUTS * budget.timeout_s
                outcomes.append(
                    _over_budget(rule, f"the rules of this model ran past {spent:g} s in total")
                )
            else:
                outcomes.append(_bounded(rule, context, costs, budget))
    return outcomes


def rule_cost(rule: PolicyRule, costs: CostModel) -> int | None:
    """The estimated cost of every expression of ``rule``; None when one cannot be bounded."""
    total = 0
    for source in rule.sources():
        cost = costs.estimate(source, enough=IN_PROCESS_COST // 4)
        if cost is None:
            return None
        total += cost
    return total


def _bounded(rule: PolicyRule, context: Any, costs: CostModel, budget: Budget) -> RuleOutcome:
    cost = rule_cost(rule, costs)
    if cost is not None and cost > budget.max_cost:
        return _over_budget(
            rule,
            f"its estimated cost over these facts is {cost:,} units, over policy.max_cost"
            f" ({budget.max_cost:,})",
        )
    if cost is not None and cost <= IN_PROCESS_COST:
        return _evaluate(rule, context)
    guarded = run_guarded(lambda: _as_json(_evaluate(rule, context)), budget.timeout_s)
    if guarded.status == "ok":
        outcome, message, over = guarded.value
        return RuleOutcome(rule, outcome, message, over)
    if guarded.status == "timeout":
        return _over_budget(
            rule, f"it did not finish within policy.timeout_s ({budget.timeout_s:g} s)"
        )
    if guarded.status == "crashed":
        return _over_budget(rule, f"its evaluation was stopped: {guarded.reason}")
    return RuleOutcome(
        rule,
        "error",
        f"{rule.description} (rule could not be evaluated: its cost cannot be bounded and"
        f" {guarded.reason})",
    )


def _as_json(outcome: RuleOutcome) -> list[Any]:
    return [outcome.outcome, outcome.message, outcome.over_budget]


def _over_budget(rule: PolicyRule, why: str) -> RuleOutcome:
    return RuleOutcome(
        rule,
        "error",
        f"policy rule {rule.id} ({rule.pack}) was not evaluated to the end: {why}; simplify the"
        " rule (fewer nested comprehensions, smaller literal lists)",
        over_budget=True,
    )


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
