"""``mlops-ci policy test``: unit tests for policy packs, like ``opa test`` or ``conftest verify``.

A test file (``*_test.yaml`` under the directory) names a pack and gives cases: a facts document
and the expected outcome (``pass``, ``fail`` or ``skip``) of each rule::

    pack: baseline                 # a shipped pack name, or a path relative to this file
    cases:
      - name: a complete card passes
        facts: {card: {valid: true, licenses: [mit], governance: {owners: [{name: a, contact: b}]}}}
        expect_all: pass           # the default outcome for rules not listed in 'expect'
        expect:
          BASE-NO-CRITICAL-VULNS: pass

Sections missing from ``facts`` are filled in empty, as in a real run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlops_ci.errors import InputError, SourcePosition, UsageError
from mlops_ci.policy.engine import evaluate_packs
from mlops_ci.policy.facts import empty_facts
from mlops_ci.policy.pack import load_pack
from mlops_ci.safepath import confine
from mlops_ci.validation import describe_errors, did_you_mean
from mlops_ci.yamlio import load_yaml, read_yaml_file

Expected = Literal["pass", "fail", "skip"]


class _Case(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    facts: dict[str, Any] = Field(default_factory=dict)
    expect: dict[str, Expected] = Field(default_factory=dict)
    expect_all: Expected | None = None

    @model_validator(mode="after")
    def _asserts_something(self) -> _Case:
        # A case with no expectation passes whatever the rules do: a silent pass.
        if self.expect_all is None and not self.expect:
            raise ValueError("the case expects nothing; give 'expect_all' or 'expect'")
        return self


class _TestFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pack: str
    cases: list[_Case] = Field(min_length=1)


@dataclass(frozen=True)
class CaseResult:
    """One case of one test file: the mismatches, if any."""

    file: str
    case: str
    failures: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """Whether every rule had the expected outcome."""
        return not self.failures


def find_test_files(directory: Path) -> list[Path]:
    """The policy test files under ``directory``."""
    if not directory.is_dir():
        raise UsageError(f"{directory} is not a directory of policy tests")
    files = sorted({*directory.rglob("*_test.yaml"), *directory.rglob("*_test.yml")})
    if not files:
        raise UsageError(f"no policy test files (*_test.yaml) under {directory}")
    return files


def run_test_file(path: Path, shown: str, root: Path | None = None) -> list[CaseResult]:
    """Run every case of one test file; it and the pack it names stay inside ``root`` (the
    repository, default the working directory) after following symlinks."""
    root = root or Path.cwd()
    real = confine(
        path, root, what="policy test file", position=SourcePosition(shown), trusted=True
    )
    document = load_yaml(read_yaml_file(real, shown), shown)
    try:
        spec = _TestFile.model_validate(document.data)
    except ValidationError as exc:
        problem = describe_errors(exc, document, _TestFile)[0]
        raise InputError(problem.message, problem.position) from None
    pack = load_pack(spec.pack, root, base=path.parent)
    rule_ids = [rule.id for rule in pack.rules]
    results = []
    for index, case in enumerate(spec.cases):
        for rule_id in case.expect:
            if rule_id not in rule_ids:
                raise InputError(
                    f"case {case.name!r}: pack {pack.name} has no rule {rule_id!r}"
                    f"{did_you_mean(rule_id, rule_ids)}",
                    document.position(("cases", index, "expect", rule_id), prefer_key=True),
                )
        facts = empty_facts()
        facts.update(case.facts)
        failures = []
        for outcome in evaluate_packs([pack], facts):
            expected = case.expect.get(outcome.rule.id, case.expect_all)
            got = "fail" if outcome.outcome == "error" else outcome.outcome
            if expected is not None and got != expected:
                detail = f" ({outcome.message})" if outcome.message else ""
                failures.append(
                    f"{outcome.rule.id}: expected {expected}, got {outcome.outcome}{detail}"
                )
        results.append(CaseResult(shown, case.name, tuple(failures)))
    return results


def position_of(path: Path) -> SourcePosition:
    """The position used when a whole test file is the subject of a message."""
    return SourcePosition(str(path), 1, 1)
