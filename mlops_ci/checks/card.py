"""The ``card`` check: the model card exists and its YAML front matter parses."""

from __future__ import annotations

from typing import ClassVar

from mlops_ci.card.frontmatter import split_front_matter
from mlops_ci.checks.base import Context, Scope, result, skipped
from mlops_ci.errors import InputError, SourcePosition
from mlops_ci.findings import CheckResult, Location, Severity
from mlops_ci.yamlio import load_yaml


class CardCheck:
    """Reads the card; unreadable front matter is an input error (exit 2), not a finding."""

    name: ClassVar[str] = "card"
    needs: ClassVar[tuple[str, ...]] = ()
    scope: ClassVar[Scope] = "model"

    def run(self, ctx: Context) -> CheckResult:
        """Check that the card exists and has parsable front matter."""
        model = ctx.model
        if model is None:
            return skipped(ctx, self.name, "not a model")
        if model.card is None:
            finding = ctx.finding(
                "CARD001", Severity.HIGH, f"model {model.name!r} has no 'card:' configured", None
            )
            return result(ctx, self.name, [finding])
        path = ctx.loaded.resolve(model.card)
        shown = ctx.display(path)
        if not path.is_file():
            finding = ctx.finding(
                "CARD001",
                Severity.HIGH,
                f"model card {shown} does not exist; create it with 'mlops-ci card init {shown}'",
                Location(shown),
            )
            return result(ctx, self.name, [finding])
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(
                f"cannot read the model card ({exc.__class__.__name__}); save it as UTF-8 text",
                SourcePosition(shown),
            ) from None
        card = split_front_matter(text, shown)
        if card.front_matter is None:
            finding = ctx.finding(
                "CARD002",
                Severity.HIGH,
                f"model card {shown} has no YAML front matter; start it with a '---' block",
                Location(shown, 1),
            )
            return result(ctx, self.name, [finding])
        document = load_yaml(card.front_matter, shown, line_offset=card.yaml_line - 1)
        metadata = document.data if isinstance(document.data, dict) else {}
        facts = {"path": shown, "metadata": _json_safe(metadata)}
        return result(ctx, self.name, [], facts=facts)


def _json_safe(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
