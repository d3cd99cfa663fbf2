"""Waivers: accepted findings, each with an owner, a reason and an expiry date.

``waivers.yaml``::

    waivers:
      - id: W-001                      # shown in reports as the finding's suppressor
        rule: DEP-PYSEC-2018-28        # a rule id, or a family: DEP-PYSEC-* ...
        # fingerprint: 3f2a...         # ... or one finding's fingerprint
        model: fraud-detector          # or "*" (default)
        reason: No fix released; the endpoint is internal only.
        owner: security@example.com
        expires: 2026-12-31            # last day the waiver applies

A live waiver marks matching findings ``suppressed_by`` (they stay in every report). An expired
waiver suppresses nothing and is itself a ``WAIVER-EXPIRED`` error finding; a waiver that matched
nothing gives a ``WAIVER-UNUSED`` warning, with a hint when its rule id looks like a typo.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mlops_ci.errors import InputError, SourcePosition
from mlops_ci.findings import CheckResult, Finding, Location, Severity, fingerprint
from mlops_ci.validation import describe_errors, did_you_mean
from mlops_ci.yamlio import load_yaml, read_yaml_file

CHECK_NAME = "waivers"
_RULE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*|[A-Za-z0-9][A-Za-z0-9._-]{2,}\*")


class _WaiverSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="a waiver id like W-001")
    rule: str | None = None
    fingerprint: str | None = None
    model: str = "*"
    reason: str = Field(min_length=3)
    owner: str = Field(min_length=1)
    expires: dt.date

    @field_validator("reason", "owner")
    @classmethod
    def _written(cls, value: str, info: ValidationInfo) -> str:
        # A reason of blanks is no reason: the length rule applies to the words, not the spaces.
        least = 3 if info.field_name == "reason" else 1
        if len(value.strip()) < least:
            raise ValueError(f"write it out (at least {least} characters besides spaces)")
        return value.strip()

    @field_validator("rule")
    @classmethod
    def _narrow(cls, value: str | None) -> str | None:
        # A pattern that matches every rule (``*``, ``[A-Z]*``, ``?*``) would waive the whole gate.
        if value is not None and not _RULE_PATTERN.fullmatch(value):
            raise ValueError(
                "give a rule id, or a family ending in '*' after at least 3 characters"
                " (e.g. DEP-PYSEC-*); '?', '[...]' and a bare '*' are not allowed"
            )
        return value

    @model_validator(mode="after")
    def _target(self) -> _WaiverSpec:
        if (self.rule is None) == (self.fingerprint is None):
            raise ValueError("give exactly one of 'rule' or 'fingerprint'")
        return self


class _WaiverFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    waivers: list[_WaiverSpec] = Field(default_factory=list)


@dataclass(frozen=True)
class Waiver:
    """One waiver and where it is written."""

    id: str
    rule: str | None
    fingerprint: str | None
    model: str
    reason: str
    owner: str
    expires: dt.date
    position: SourcePosition

    def matches(self, finding: Finding, model: str | None) -> bool:
        """Whether this waiver is about ``finding`` of ``model``."""
        if self.model not in ("*", model or ""):
            return False
        if self.fingerprint is not None:
            return finding.fingerprint == self.fingerprint
        return self.rule is not None and fnmatch.fnmatchcase(finding.rule_id, self.rule)

    def expired(self, today: dt.date) -> bool:
        """A waiver applies through its ``expires`` day."""
        return today > self.expires


def load_waivers(path: Path, shown: str) -> list[Waiver]:
    """Read a waivers file; a missing file means no waivers."""
    if not (path.exists() or path.is_symlink()):
        return []
    try:
        text = read_yaml_file(path, shown)
    except InputError as exc:
        raise InputError(f"cannot read the waivers file: {exc.message}", exc.position) from None
    document = load_yaml(text, shown)
    try:
        spec = _WaiverFile.model_validate(document.data or {})
    except ValidationError as exc:
        problem = describe_errors(exc, document, _WaiverFile)[0]
        raise InputError(problem.message, problem.position) from None
    waivers = []
    seen: set[str] = set()
    for index, item in enumerate(spec.waivers):
        position = document.position(("waivers", index))
        if item.id in seen:
            raise InputError(f"waiver id {item.id!r} is used twice", position)
        seen.add(item.id)
        waivers.append(
            Waiver(
                item.id,
                item.rule,
                item.fingerprint,
                item.model,
                item.reason,
                item.owner,
                item.expires,
                position,
            )
        )
    return waivers


class WaiverLedger:
    """Applies waivers to results as they complete and remembers which were used (thread-safe)."""

    def __init__(self, waivers: Iterable[Waiver], today: dt.date) -> None:
        self.waivers = list(waivers)
        self.today = today
        self._used: set[str] = set()
        self._seen_rules: set[str] = set()
        self._lock = threading.Lock()

    def apply(self, result: CheckResult) -> CheckResult:
        """``result`` with findings accepted by a live waiver marked as suppressed."""
        changed = []
        for finding in result.findings:
            waiver = next((w for w in self.waivers if w.matches(finding, result.model)), None)
            with self._lock:
                self._seen_rules.add(finding.rule_id)
                if waiver is not None:
                    self._used.add(waiver.id)
            if waiver is not None and not waiver.expired(self.today):
                changed.append(replace(finding, suppressed_by=waiver.id))
            else:
                changed.append(finding)
        return replace(result, findings=tuple(changed))

    def summary(self, rule_checks: Mapping[str, str], ran: Iterable[str]) -> CheckResult:
        """The ``waivers`` result: expired waivers (errors) and unused ones (warnings).

        ``rule_checks`` maps known rule ids (and families like ``DEP-*``) to the check that emits
        them; a waiver for a rule whose check did not run in this invocation is not "unused".
        """
        findings = []
        ran_checks = set(ran)
        candidates = sorted(set(rule_checks) | self._seen_rules)
        for waiver in self.waivers:
            location = Location(waiver.position.path, waiver.position.line, waiver.position.column)
            if waiver.expired(self.today):
                findings.append(
                    Finding(
                        "WAIVER-EXPIRED",
                        Severity.HIGH,
                        f"waiver {waiver.id} ({waiver.rule or waiver.fingerprint}) expired on"
                        f" {waiver.expires.isoformat()}; fix the finding or renew the waiver"
                        f" with {waiver.owner}",
                        location,
                        fingerprint("WAIVER-EXPIRED", waiver.id),
                    )
                )
            elif waiver.id not in self._used and _check_ran(waiver, rule_checks, ran_checks):
                target = waiver.rule or waiver.fingerprint or ""
                hint = did_you_mean(target, candidates) if waiver.rule else ""
                findings.append(
                    Finding(
                        "WAIVER-UNUSED",
                        Severity.LOW,
                        f"waiver {waiver.id} matches no finding ({target}){hint}",
                        location,
                        fingerprint("WAIVER-UNUSED", waiver.id),
                    )
                )
        return CheckResult(
            check=CHECK_NAME,
            status="passed",
            findings=tuple(findings),
            facts={"total": len(self.waivers), "used": len(self._used)},
        )


def _check_ran(waiver: Waiver, rule_checks: Mapping[str, str], ran: set[str]) -> bool:
    """Whether the check behind the waiver's rule ran (unknown rules count as ran: a typo)."""
    if waiver.rule is None:
        return True
    for rule_id, check in rule_checks.items():
        pattern = rule_id if rule_id.endswith("*") else None
        if rule_id == waiver.rule or (pattern and waiver.rule.startswith(pattern[:-1])):
            return check in ran
    return True
