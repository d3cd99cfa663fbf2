"""What a check is, and the context it runs in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

from mlops_ci.config import Config, LoadedConfig, ModelConfig
from mlops_ci.findings import (
    CheckResult,
    Finding,
    GitInfo,
    JsonValue,
    Location,
    Severity,
    fingerprint,
)

Scope = Literal["model", "repository"]


@dataclass(frozen=True)
class Context:
    """Everything a check may read: config, the model in scope, earlier results, clock, mode."""

    loaded: LoadedConfig
    model: ModelConfig | None
    needs: Mapping[str, CheckResult]
    now: dt.datetime
    offline: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)
    git: GitInfo = field(default_factory=GitInfo)
    environment: str | None = None

    @property
    def config(self) -> Config:
        """The validated configuration."""
        return self.loaded.config

    @property
    def root(self) -> Path:
        """The repository root (the directory of the configuration file)."""
        return self.loaded.root

    def display(self, path: Path) -> str:
        """``path`` relative to the repository root, for messages and locations."""
        return self.loaded.display(path)

    def finding(
        self,
        rule_id: str,
        severity: Severity,
        message: str,
        location: Location | None,
        *identity: object,
    ) -> Finding:
        """A finding whose fingerprint is the rule, the model and ``identity`` (not the line)."""
        model = self.model.name if self.model else ""
        path = location.path if location else ""
        return Finding(
            rule_id=rule_id,
            severity=severity,
            message=message,
            location=location,
            fingerprint=fingerprint(rule_id, model, path, *identity),
        )


class Check(Protocol):
    """A gate. ``run`` reads files and earlier results, and returns findings; it prints nothing."""

    name: ClassVar[str]
    needs: ClassVar[tuple[str, ...]]
    scope: ClassVar[Scope]

    def run(self, ctx: Context) -> CheckResult:
        """Run the check for ``ctx.model`` (or the repository) and report what it found."""
        ...


def result(
    ctx: Context,
    check: str,
    findings: list[Finding] | tuple[Finding, ...] = (),
    *,
    metrics: Mapping[str, float] | None = None,
    facts: Mapping[str, JsonValue] | None = None,
    artifacts: tuple[str, ...] = (),
    summary: Mapping[str, str] | None = None,
) -> CheckResult:
    """A completed result; the runner settles passed/failed from the findings and ``fail_on``."""
    return CheckResult(
        check=check,
        status="passed",
        model=ctx.model.name if ctx.model else None,
        findings=tuple(findings),
        metrics=dict(metrics or {}),
        facts=dict(facts or {}),
        artifacts=artifacts,
        summary=dict(summary or {}),
    )


def skipped(ctx: Context, check: str, reason: str) -> CheckResult:
    """A result saying the check did not apply, and why."""
    return CheckResult(
        check=check,
        status="skipped",
        model=ctx.model.name if ctx.model else None,
        detail=reason,
    )
