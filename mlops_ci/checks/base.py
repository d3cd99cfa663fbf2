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
    # One mapping per run, shared by every check's context: work one check prepares for
    # another (see Check.prepare); never part of a cache key.
    shared: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def current_model(self) -> ModelConfig:
        """The model of a model-scoped check (the runner always gives one)."""
        if self.model is None:
            raise RuntimeError("a model-scoped check ran without a model")
        return self.model

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
    """A gate. ``run`` reads files and earlier results, and returns findings; it prints nothing.

    A check may also define ``inputs(ctx) -> list[Path]``, the files it reads (a directory
    stands for every file under it), and ``cache_material(ctx)``, JSON-shaped data its result
    depends on besides those files; a check with ``inputs`` has its results cached (see
    :mod:`mlops_ci.cache`). Checks doing network or time-dependent work define neither.

    ``prepare(ctx)``, when defined, is started when the run starts, before any level, for work
    of a later check that needs none of the earlier results (the SBOM's software inventory runs
    while the gates it waits for run); it keeps what it made in ``ctx.shared`` and its errors
    are left to ``run``, which does the work itself when nothing was prepared.

    ``runs_alone = True`` (``bench``) runs the check after every check it does not feed, one
    model at a time, with nothing else of the run working: its timings describe the model.
    """

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


def model_inputs(ctx: Context) -> list[Path]:
    """The files a model's checks read: its directory, or its file and the files beside it.

    A single-file model may keep external data next to it, so its siblings count, except the
    model card, which has checks of its own.
    """
    if ctx.model is None:
        return []
    path = ctx.loaded.resolve(ctx.model.path)
    if path.is_dir() or not path.parent.is_dir():
        return [path]
    card = ctx.loaded.resolve(ctx.model.card) if ctx.model.card else None
    return [p for p in path.parent.iterdir() if p.is_file() and p not in (card, path)] + [path]


def card_inputs(ctx: Context) -> list[Path]:
    """The model card of ``ctx.model``, when one is configured."""
    if ctx.model is None or ctx.model.card is None:
        return []
    return [ctx.loaded.resolve(ctx.model.card)]
