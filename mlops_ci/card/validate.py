"""Reading and validating a model card: schema findings with positions, sections, facts."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mlops_ci.card.frontmatter import MAX_CARD_BYTES, split_front_matter
from mlops_ci.card.schema import GOVERNANCE_KEY, CardMetadata
from mlops_ci.errors import InputError, SourcePosition
from mlops_ci.findings import Finding, JsonValue, Location, Severity, fingerprint
from mlops_ci.validation import describe_errors
from mlops_ci.yamlio import YamlDocument, load_yaml, read_yaml_file

# Markdown sections a card must have, by risk level (overridable in mlops-ci.yaml, `cards:`).
DEFAULT_REQUIRED_SECTIONS: dict[str, list[str]] = {
    "minimal": [],
    "limited": ["Intended use", "Limitations"],
    "high": ["Intended use", "Limitations", "Ethical considerations", "Evaluation"],
    "unacceptable": [],
}

_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")


@dataclass(frozen=True)
class CardIssue:
    """A problem found in a card, before it is tied to a model."""

    rule_id: str
    severity: Severity
    message: str
    position: SourcePosition
    identity: str

    def finding(self, model: str | None = None) -> Finding:
        """This issue as a finding (the fingerprint ignores the line number)."""
        pos = self.position
        return Finding(
            rule_id=self.rule_id,
            severity=self.severity,
            message=self.message,
            location=Location(pos.path, pos.line, pos.column),
            fingerprint=fingerprint(self.rule_id, model or "", pos.path, self.identity),
        )


@dataclass(frozen=True)
class ValidatedCard:
    """A parsed card: its metadata (None when the schema rejects it), sections and issues."""

    path: str
    raw: Mapping[str, Any]
    metadata: CardMetadata | None
    document: YamlDocument | None
    sections: tuple[str, ...]
    issues: tuple[CardIssue, ...]

    def position(self, dotted: str) -> SourcePosition:
        """Where field ``a.b.c`` is, or its nearest enclosing field that exists."""
        if self.document is None:
            return SourcePosition(self.path, 1, 1)
        loc = tuple(int(p) if p.isdigit() else p for p in dotted.split(".") if p)
        return self.document.position(loc, prefer_key=True)

    @property
    def valid(self) -> bool:
        """Whether no issue at or above medium was found."""
        return self.metadata is not None and not any(
            i.severity >= Severity.MEDIUM for i in self.issues
        )

    def facts(self) -> dict[str, JsonValue]:
        """The card's part of the policy facts document."""
        governance: dict[str, JsonValue] = {}
        licenses: list[str] = []
        if self.metadata is not None:
            licenses = self.metadata.licenses
            if self.metadata.governance is not None:
                governance = self.metadata.governance.model_dump(mode="json", exclude_none=True)
        else:
            # An invalid card still tells policies what it does say (the card check fails it).
            raw_governance = self.raw.get(GOVERNANCE_KEY)
            if isinstance(raw_governance, dict):
                governance = _json_safe(raw_governance)
            raw_license = self.raw.get("license")
            licenses = [raw_license] if isinstance(raw_license, str) else []
        return {
            "path": self.path,
            "valid": self.valid,
            "metadata": _json_safe(self.raw),
            "licenses": licenses,
            "governance": governance,
            "risk_level": governance.get("risk_level", ""),
            "sections": list(self.sections),
        }


def read_card_text(path: Path, shown: str) -> str:
    """The card's text, or an InputError naming it."""
    if not path.exists() and not path.is_symlink():
        raise InputError("model card not found; check the path", SourcePosition(shown))
    try:
        return read_yaml_file(path, shown, max_bytes=MAX_CARD_BYTES)
    except InputError as exc:
        raise InputError(f"cannot read the model card: {exc.message}", exc.position) from None


def markdown_sections(body: str) -> tuple[str, ...]:
    """The headings of a Markdown body, outside code fences."""
    found = []
    fenced = False
    for line in body.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        match = None if fenced else _HEADING.match(line)
        if match:
            found.append(match.group(2).strip())
    return tuple(found)


def _without_front_matter(
    shown: str, problem: str, document: YamlDocument | None, sections: tuple[str, ...]
) -> ValidatedCard:
    """The result for a card whose front matter is missing or says nothing: CARD002."""
    issue = CardIssue(
        "CARD002",
        Severity.HIGH,
        f"model card {shown} {problem}",
        SourcePosition(shown, 1, 1),
        "no-front-matter",
    )
    return ValidatedCard(shown, {}, None, document, sections, (issue,))


def validate_card(
    text: str, shown: str, required_sections: Mapping[str, Sequence[str]] | None = None
) -> ValidatedCard:
    """Validate a card's text; raises InputError only when it cannot be parsed at all.

    Once per run for the same text: the card, policy and SBOM gates all read each model's card,
    and parsing its YAML was the largest per-model cost of a 20-model ``check``.
    """
    from mlops_ci.runmemo import memoised_text

    variant = (
        shown,
        None
        if required_sections is None
        else tuple(sorted((key, tuple(value)) for key, value in required_sections.items())),
    )
    return memoised_text(
        "card", text, variant, lambda: _validate_card(text, shown, required_sections)
    )


def _validate_card(
    text: str, shown: str, required_sections: Mapping[str, Sequence[str]] | None
) -> ValidatedCard:
    card = split_front_matter(text, shown)
    sections = markdown_sections(card.body)
    if card.front_matter is None:
        return _without_front_matter(
            shown, "has no YAML front matter; start it with a '---' block", None, sections
        )
    document = load_yaml(card.front_matter, shown, line_offset=card.yaml_line - 1)
    raw = document.data if document.data is not None else {}
    if not isinstance(raw, dict):
        raise InputError(
            "the front matter must be a mapping of keys to values",
            SourcePosition(shown, card.yaml_line, 1),
        )
    if not raw:  # '---' twice with nothing between says nothing about the model: no pass
        return _without_front_matter(
            shown, "has an empty YAML front matter; fill in its metadata", document, sections
        )
    issues: list[CardIssue] = []
    metadata: CardMetadata | None
    try:
        metadata = CardMetadata.model_validate(raw)
    except ValidationError as exc:
        metadata = None
        for problem in describe_errors(exc, document, CardMetadata):
            rule = {"extra_forbidden": "CARD004", "missing": "CARD005"}.get(problem.kind, "CARD003")
            identity = ".".join(str(p) for p in problem.loc)
            issues.append(
                CardIssue(rule, Severity.HIGH, problem.message, problem.position, identity)
            )
    issues += _governance_issues(raw, metadata, document, shown, sections, required_sections)
    return ValidatedCard(shown, raw, metadata, document, sections, tuple(issues))


def _governance_issues(
    raw: Mapping[str, Any],
    metadata: CardMetadata | None,
    document: YamlDocument,
    shown: str,
    sections: tuple[str, ...],
    required_sections: Mapping[str, Sequence[str]] | None,
) -> list[CardIssue]:
    if GOVERNANCE_KEY not in raw:
        return [
            CardIssue(
                "CARD006",
                Severity.INFO,
                f"no '{GOVERNANCE_KEY}' block: owners, risk level and lineage are not recorded",
                SourcePosition(shown, 1, 1),
                "no-governance",
            )
        ]
    if metadata is None or metadata.governance is None:
        return []
    issues = []
    risk = metadata.governance.risk_level
    risk_position = document.position((GOVERNANCE_KEY, "risk_level"), prefer_key=True)
    if risk == "unacceptable":
        issues.append(
            CardIssue(
                "CARD008",
                Severity.CRITICAL,
                "risk level 'unacceptable' is a prohibited practice under the EU AI Act;"
                " this model must not ship",
                risk_position,
                "unacceptable",
            )
        )
    table = DEFAULT_REQUIRED_SECTIONS if required_sections is None else required_sections
    present = {s.casefold() for s in sections}
    for section in table.get(risk or "", []):
        if section.casefold() not in present:
            issues.append(
                CardIssue(
                    "CARD007",
                    Severity.HIGH,
                    f"risk level {risk!r} requires a '## {section}' section in the card",
                    risk_position,
                    f"section:{section.casefold()}",
                )
            )
    return issues


def _json_safe(value: Any) -> JsonValue:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
