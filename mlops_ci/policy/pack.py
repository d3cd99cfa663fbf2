"""Policy packs: YAML files of CEL rules, checked when they load.

A pack has ``name``, ``version``, ``description`` and ``rules``; each rule has ``id``,
``description``, ``severity``, an optional ``when`` (CEL: does the rule apply?), ``expr`` (CEL:
true means compliant), a ``message`` that may interpolate facts as ``{{ cel expression }}``, a
``remediation`` and an optional ``field`` (a dotted path in the model card the rule is about, so
findings point at the right line). Syntax errors are reported at load time with the pack file,
the rule id and the column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from mlops_ci.errors import InputError, SourcePosition
from mlops_ci.findings import Severity
from mlops_ci.policy.cel import CelSyntaxError, compile_expression
from mlops_ci.resources import resource_dir
from mlops_ci.safepath import confine
from mlops_ci.validation import describe_errors, did_you_mean
from mlops_ci.yamlio import YamlDocument, load_yaml, read_yaml_file

_TEMPLATE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


def _severity(value: Any) -> Any:
    return Severity.parse(value) if isinstance(value, str) else value


class _RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(
        pattern=r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$", description="a rule id like ORG-RULE-1"
    )
    description: str
    severity: Annotated[Severity, BeforeValidator(_severity)]
    when: str | None = None
    expr: str
    message: str
    remediation: str
    field: str | None = None


class _PackSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    version: str
    description: str
    rules: list[_RuleSpec] = Field(min_length=1)


@dataclass(frozen=True)
class MessagePart:
    """A literal piece of a message, or a compiled ``{{ expression }}``."""

    text: str
    program: Any = None


@dataclass(frozen=True)
class PolicyRule:
    """A compiled rule."""

    id: str
    pack: str
    description: str
    severity: Severity
    expr: Any
    expr_source: str
    when: Any
    message: tuple[MessagePart, ...]
    remediation: str
    field: str | None
    position: SourcePosition
    when_source: str | None = None

    def sources(self) -> tuple[str, ...]:
        """Every CEL expression of the rule (``when``, ``expr``, message templates)."""
        templates = tuple(p.text[2:-2].strip() for p in self.message if p.program is not None)
        return (*((self.when_source,) if self.when_source else ()), self.expr_source, *templates)


@dataclass(frozen=True)
class PolicyPack:
    """A loaded pack."""

    name: str
    version: str
    description: str
    path: str
    rules: tuple[PolicyRule, ...]


def shipped_pack_names() -> list[str]:
    """Names of the packs shipped in ``policies/``."""
    return sorted(
        p.name.removesuffix(".yaml")
        for p in resource_dir("policies").iterdir()
        if p.name.endswith(".yaml") and p.is_file()
    )


def pack_file(
    reference: str, root: Path, base: Path | None = None, *, trusted: bool = False
) -> Path:
    """The file a pack reference reads: a shipped pack's YAML, or the path given, which must
    stay inside the repository ``root`` (relative to ``base``, default ``root``) unless the
    pipeline gave it (``trusted``: ``MLOPS_CI_POLICIES``)."""
    if "/" not in reference and not reference.endswith((".yaml", ".yml")):
        return Path(str(resource_dir("policies").joinpath(f"{reference}.yaml")))
    return confine(reference, root, what="policy pack", base=base, trusted=trusted)


def load_pack(
    reference: str, root: Path, base: Path | None = None, *, trusted: bool = False
) -> PolicyPack:
    """Load a pack by shipped name (``baseline``) or by path (relative to ``base``, default
    ``root``; it must stay inside the repository ``root`` unless ``trusted``)."""
    if "/" not in reference and not reference.endswith((".yaml", ".yml")):
        names = shipped_pack_names()
        if reference not in names:
            raise InputError(
                f"unknown policy pack {reference!r}{did_you_mean(reference, names)};"
                f" shipped packs: {', '.join(names)}, or give a path to a pack file"
            )
        text = resource_dir("policies").joinpath(f"{reference}.yaml").read_text(encoding="utf-8")
        return load_pack_text(text, f"policies/{reference}.yaml")
    path = pack_file(reference, root, base, trusted=trusted)
    try:
        text = read_yaml_file(path, reference)
    except InputError as exc:
        raise InputError(f"cannot read the policy pack: {exc.message}", exc.position) from None
    return load_pack_text(text, reference)


def load_pack_text(text: str, shown: str) -> PolicyPack:
    """Parse and compile a pack; raises InputError naming file, line, rule and column.

    Once per run for the same text: every model's policy gate loads the configured packs. The
    compiled programs are then shared by the gates' threads; ``cel.Program.execute`` only reads
    the program (``tests/test_policy_threads.py`` runs one program from many threads).
    """
    from mlops_ci.runmemo import memoised_text

    return memoised_text("policy-pack", text, shown, lambda: _compile_pack(text, shown))


def _compile_pack(text: str, shown: str) -> PolicyPack:
    document = load_yaml(text, shown)
    try:
        spec = _PackSpec.model_validate(document.data)
    except ValidationError as exc:
        problem = describe_errors(exc, document, _PackSpec)[0]
        raise InputError(problem.message, problem.position) from None
    seen: set[str] = set()
    rules = []
    for index, rule in enumerate(spec.rules):
        if rule.id in seen:
            raise InputError(
                f"rule {rule.id}: the id is used twice in this pack",
                document.position(("rules", index, "id")),
            )
        seen.add(rule.id)
        rules.append(_compile_rule(rule, index, spec.name, document))
    return PolicyPack(spec.name, spec.version, spec.description, shown, tuple(rules))


def _compile_rule(rule: _RuleSpec, index: int, pack: str, document: YamlDocument) -> PolicyRule:
    def compiled(key: str, source: str) -> Any:
        try:
            return compile_expression(source)
        except CelSyntaxError as exc:
            raise _syntax_error(document, index, key, rule.id, exc) from None

    parts: list[MessagePart] = []
    cursor = 0
    for match in _TEMPLATE.finditer(rule.message):
        parts.append(MessagePart(rule.message[cursor : match.start()]))
        parts.append(MessagePart(match.group(0), compiled("message", match.group(1).strip())))
        cursor = match.end()
    parts.append(MessagePart(rule.message[cursor:]))
    return PolicyRule(
        id=rule.id,
        pack=pack,
        description=rule.description,
        severity=rule.severity,
        expr=compiled("expr", rule.expr),
        expr_source=rule.expr,
        when=None if rule.when is None else compiled("when", rule.when),
        message=tuple(p for p in parts if p.text or p.program is not None),
        remediation=rule.remediation,
        field=rule.field,
        position=document.position(("rules", index, "id")),
        when_source=rule.when,
    )


def _syntax_error(
    document: YamlDocument, index: int, key: str, rule_id: str, exc: CelSyntaxError
) -> InputError:
    position = document.position(("rules", index, key))
    return InputError(
        f"rule {rule_id}: CEL syntax error in '{key}' at column {exc.column}"
        f" (expression line {exc.line}): {exc.message}",
        position,
    )
