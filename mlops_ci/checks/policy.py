"""The ``policy`` check: the configured policy packs, evaluated over each model's facts."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any, ClassVar

from mlops_ci.card.validate import ValidatedCard, read_card_text, validate_card
from mlops_ci.checks.base import Context, Scope, card_inputs, result, skipped
from mlops_ci.errors import MlopsCiError
from mlops_ci.findings import CheckResult, Finding, JsonValue, Location, Severity
from mlops_ci.policy.engine import Budget, RuleOutcome, evaluate_packs
from mlops_ci.policy.facts import build_facts
from mlops_ci.policy.pack import PolicyPack, load_pack, pack_file

BUDGET_RULE = "POLICY-BUDGET"
OTHER_CHECKS = (
    "card",
    "onnx-model",
    "deps",
    "sast",
    "artifacts",
    "sbom",
    "bench",
    "eval",
    "signature",
)


def load_configured_packs(ctx: Context) -> list[PolicyPack]:
    """The packs named in the configuration, loaded and compiled."""
    trusted = ctx.loaded.is_trusted
    return [
        load_pack(ref, ctx.root, trusted=trusted("policies", ref)) for ref in ctx.config.policies
    ]


def facts_for(ctx: Context) -> dict[str, Any]:
    """The facts document of ``ctx.model`` from the results this check needs."""
    return build_facts(
        ctx.model,
        ctx.needs,
        git=ctx.git,
        changed_files=_changed_files(ctx),
        environment=ctx.environment,
        environments=ctx.config.environments,
        target=ctx.options.get("target"),
    )


_CHANGED_LOCK = threading.Lock()


def _changed_files(ctx: Context) -> list[str]:
    """The work tree's changed files, asked of git once per run (two diffs and a status cost
    ~20 ms, twice per model: 20 models spent 0.4 s of a warm run here). Every policy check runs
    after every other check, so nothing this run writes comes later."""
    from mlops_ci.gitops import changed_files

    key = f"policy-changed-files:{ctx.root}:{ctx.options.get('base')}"
    with _CHANGED_LOCK:
        if key not in ctx.shared:
            ctx.shared[key] = changed_files(ctx.root, ctx.options.get("base"))
        return list(ctx.shared[key])


class PolicyCheck:
    """Evaluates policy rules; a rule that cannot be evaluated fails closed, with a reason."""

    name: ClassVar[str] = "policy"
    needs: ClassVar[tuple[str, ...]] = OTHER_CHECKS
    scope: ClassVar[Scope] = "model"

    def inputs(self, ctx: Context) -> list[Path]:
        """The pack files, and the card (findings point into it)."""
        trusted = ctx.loaded.is_trusted
        packs = [
            pack_file(ref, ctx.root, trusted=trusted("policies", ref))
            for ref in ctx.config.policies
        ]
        return packs + card_inputs(ctx)

    def cache_material(self, ctx: Context) -> dict[str, Any]:
        """The facts document: rules are a pure function of it and the packs."""
        return facts_for(ctx)

    def run(self, ctx: Context) -> CheckResult:
        """Evaluate the configured packs for ``ctx.model``."""
        packs = load_configured_packs(ctx)
        limits = ctx.config.policy
        budget = Budget(max_cost=limits.max_cost, timeout_s=limits.timeout_s)
        outcomes = evaluate_packs(packs, facts_for(ctx), budget)
        card = _card(ctx)
        findings = [_finding(ctx, o, card) for o in outcomes if o.outcome in ("fail", "error")]
        tally = {
            k: sum(1 for o in outcomes if o.outcome == k) for k in ("pass", "fail", "skip", "error")
        }
        if not packs or tally["skip"] == len(outcomes):
            # Zero rules evaluated is no evidence about the model: say so rather than pass.
            return skipped(ctx, self.name, _why_no_rule(packs, len(outcomes)))
        facts: dict[str, JsonValue] = {
            "packs": [{"name": p.name, "version": p.version} for p in packs],
            "passed": tally["pass"],
            "failed": tally["fail"],
            "skipped": tally["skip"],
            "errored": tally["error"],
            "rule_docs": {
                r.id: {
                    "title": r.description,
                    "description": r.description,
                    "remediation": r.remediation,
                }
                for p in packs
                for r in p.rules
            },
        }
        return result(ctx, self.name, findings, facts=facts)


def _why_no_rule(packs: list[PolicyPack], rules: int) -> str:
    if not packs:
        return "no policy packs configured (policies: [])"
    return f"no rule applied: the 'when' of each of the {rules} rule(s) was false"


def _card(ctx: Context) -> ValidatedCard | None:
    if ctx.model is None or ctx.model.card is None:
        return None
    path = ctx.loaded.resolve(ctx.model.card)
    if not path.is_file():
        return None
    shown = ctx.display(path)
    try:
        return validate_card(read_card_text(path, shown), shown, ctx.config.cards.required_sections)
    except MlopsCiError:  # the card check reports it; findings then point at the model file
        return None


_CARD_FACTS = re.compile(r"\bcard\.")


def _finding(ctx: Context, outcome: RuleOutcome, card: ValidatedCard | None) -> Finding:
    rule = outcome.rule
    location: Location | None = None
    # A rule is about the card when it names a card field or reads card facts; otherwise (the
    # model is valid ONNX, signed, scanned) it is about the model file, not the card's first line.
    if card is not None and (rule.field or _CARD_FACTS.search(rule.expr_source)):
        pos = card.position(rule.field) if rule.field else card.position("")
        location = Location(pos.path, pos.line, pos.column)
    elif ctx.model is not None:
        location = Location(ctx.display(ctx.loaded.resolve(ctx.model.path)))
    if outcome.over_budget:
        # Blocking whatever the rule's own severity: an unevaluated rule is no evidence.
        return ctx.finding(
            BUDGET_RULE, Severity.CRITICAL, outcome.message, location, rule.pack, rule.id
        )
    message = (
        f"{outcome.message}; fix: {rule.remediation}"
        if outcome.outcome == "fail"
        else outcome.message
    )
    return ctx.finding(rule.id, rule.severity, message, location, rule.pack)
