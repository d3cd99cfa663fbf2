"""The ``card`` check: the model card exists and satisfies the card schema."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from mlops_ci.card.validate import read_card_text, validate_card
from mlops_ci.checks.base import Context, Scope, card_inputs, result
from mlops_ci.findings import CheckResult, Location, Severity


class CardCheck:
    """Validates the card; unparsable front matter is an input error (exit 2), not a finding."""

    name: ClassVar[str] = "card"
    needs: ClassVar[tuple[str, ...]] = ()
    scope: ClassVar[Scope] = "model"

    def inputs(self, ctx: Context) -> list[Path]:
        """The card file (the cache key also holds ``cards:`` from the configuration)."""
        return card_inputs(ctx)

    def run(self, ctx: Context) -> CheckResult:
        """Check the card of ``ctx.model`` against the schema and the required sections."""
        model = ctx.current_model
        if model.card is None:
            finding = ctx.finding(
                "CARD001", Severity.HIGH, f"model {model.name!r} has no 'card:' configured", None
            )
            return result(ctx, self.name, [finding], facts={"valid": False})
        path = ctx.loaded.resolve(model.card)
        shown = ctx.display(path)
        if not path.is_file():
            finding = ctx.finding(
                "CARD001",
                Severity.HIGH,
                f"model card {shown} does not exist; create it with 'mlops-ci card init {shown}'",
                Location(shown),
            )
            return result(ctx, self.name, [finding], facts={"path": shown, "valid": False})
        card = validate_card(read_card_text(path, shown), shown, ctx.config.cards.required_sections)
        findings = [issue.finding(model.name) for issue in card.issues]
        return result(ctx, self.name, findings, facts=card.facts())
