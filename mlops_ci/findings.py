"""The report model: severities, findings, per-check results and the whole report.

Everything here is a frozen dataclass so results can be shared between threads and cached. The
JSON form (``Report.to_dict``) is versioned by ``report_version`` and round-trips through
``Report.from_dict``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import Any, Literal, cast

from mlops_ci.scrub import scrub_line

REPORT_VERSION = 1

Status = Literal["passed", "failed", "skipped", "errored"]
ErrorKind = Literal["input", "internal"]
JsonValue = Any  # JSON-shaped data: dict/list/str/int/float/bool/None


class Severity(IntEnum):
    """How bad a finding is; ordered so ``>=`` compares with ``fail_on``."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Return the severity named by ``text`` (case-insensitive), or raise ``ValueError``."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(s.label for s in cls)
            raise ValueError(f"unknown severity {text!r}; use one of {names}") from None

    @property
    def label(self) -> str:
        """The lower-case name used in files and reports."""
        return self.name.lower()


@dataclass(frozen=True)
class Location:
    """Where a finding is: a repository-relative path and optional 1-based line and column."""

    path: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        text = self.path
        if self.line is not None:
            text += f":{self.line}"
            if self.column is not None:
                text += f":{self.column}"
        return text


def fingerprint(*parts: object) -> str:
    """A stable identity for a finding, from the parts that define it (never a line number)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode())
    return digest.hexdigest()[:32]


@dataclass(frozen=True)
class Finding:
    """One problem a check found."""

    rule_id: str
    severity: Severity
    message: str
    location: Location | None
    fingerprint: str
    suppressed_by: str | None = None

    def __post_init__(self) -> None:
        # A message may quote input (a requirement line, a YAML value): never a secret in it.
        object.__setattr__(self, "message", scrub_line(self.message))

    def blocks(self, fail_on: Severity) -> bool:
        """Whether this finding fails the gate at threshold ``fail_on``."""
        return self.suppressed_by is None and self.severity >= fail_on

    def to_dict(self) -> dict[str, JsonValue]:
        """The JSON form."""
        return {
            "rule_id": self.rule_id,
            "severity": self.severity.label,
            "message": self.message,
            "location": None if self.location is None else _location_to_dict(self.location),
            "fingerprint": self.fingerprint,
            "suppressed_by": self.suppressed_by,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, JsonValue]) -> Finding:
        """Read the JSON form back."""
        loc = data.get("location")
        return cls(
            rule_id=str(data["rule_id"]),
            severity=Severity.parse(str(data["severity"])),
            message=str(data["message"]),
            location=None if loc is None else Location(**loc),
            fingerprint=str(data["fingerprint"]),
            suppressed_by=data.get("suppressed_by"),
        )


def _location_to_dict(loc: Location) -> dict[str, JsonValue]:
    return {"path": loc.path, "line": loc.line, "column": loc.column}


@dataclass(frozen=True)
class CheckResult:
    """What one check concluded about one model (or the repository, when ``model`` is None).

    ``metrics`` are numbers worth charting; ``facts`` are JSON-shaped data that policies read;
    ``summary`` holds a few key figures as short labelled texts (e.g. ``{"p90": "1.2 ms"}``) that
    report summaries show next to the result. ``error_kind`` tells an input problem the user can
    fix (exit 2) from a crash (exit 3).
    """

    check: str
    status: Status
    model: str | None = None
    findings: tuple[Finding, ...] = ()
    metrics: Mapping[str, float] = field(default_factory=dict)
    facts: Mapping[str, JsonValue] = field(default_factory=dict)
    artifacts: tuple[str, ...] = ()
    duration_s: float = 0.0
    detail: str | None = None
    error_kind: ErrorKind | None = None
    summary: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # ``detail`` is an error's message or a skip reason: scrubbed like every message.
        if self.detail:
            object.__setattr__(self, "detail", scrub_line(self.detail))

    def with_status(self, fail_on: Severity) -> CheckResult:
        """Settle ``passed``/``failed`` from the findings; skipped and errored results stay."""
        if self.status in ("skipped", "errored"):
            return self
        failed = any(f.blocks(fail_on) for f in self.findings)
        return replace(self, status="failed" if failed else "passed")

    def to_dict(self) -> dict[str, JsonValue]:
        """The JSON form (``summary`` only when there is one)."""
        data: dict[str, JsonValue] = {
            "check": self.check,
            "model": self.model,
            "status": self.status,
            "findings": [f.to_dict() for f in self.findings],
            "metrics": dict(self.metrics),
            "facts": dict(self.facts),
            "artifacts": list(self.artifacts),
            "duration_s": self.duration_s,
            "detail": self.detail,
            "error_kind": self.error_kind,
        }
        if self.summary:
            data["summary"] = dict(self.summary)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, JsonValue]) -> CheckResult:
        """Read the JSON form back."""
        return cls(
            check=str(data["check"]),
            model=data.get("model"),
            status=cast(Status, data["status"]),
            findings=tuple(Finding.from_dict(f) for f in data.get("findings", [])),
            metrics={str(k): float(v) for k, v in data.get("metrics", {}).items()},
            facts=dict(data.get("facts", {})),
            artifacts=tuple(str(a) for a in data.get("artifacts", [])),
            duration_s=float(data.get("duration_s", 0.0)),
            detail=data.get("detail"),
            error_kind=data.get("error_kind"),
            summary={str(k): str(v) for k, v in (data.get("summary") or {}).items()},
        )


@dataclass(frozen=True)
class GitInfo:
    """The commit a report is about."""

    commit: str | None = None
    branch: str | None = None
    dirty: bool = False
    remote_url: str | None = None
    # Seconds since the epoch of the HEAD commit: the time of reproducible evidence (the SBOM).
    committed_at: int | None = None


@dataclass(frozen=True)
class ModelRef:
    """A model in scope of a run."""

    name: str
    path: str
    card: str | None = None


Verdict = Literal["pass", "fail", "error"]


@dataclass(frozen=True)
class Report:
    """The outcome of one ``mlops-ci`` run."""

    tool_version: str
    started_at: str
    git: GitInfo
    models: tuple[ModelRef, ...]
    results: tuple[CheckResult, ...]
    fail_on: Severity = Severity.HIGH
    duration_s: float = 0.0
    environment: str | None = None
    config_path: str | None = None

    @property
    def verdict(self) -> Verdict:
        """``error`` if any check errored, else ``fail`` if any failed, else ``pass``."""
        statuses = {r.status for r in self.results}
        if "errored" in statuses:
            return "error"
        if "failed" in statuses:
            return "fail"
        return "pass"

    @property
    def exit_code(self) -> int:
        """0 passed, 1 a gate failed, 2 an input error in some check, 3 a check crashed."""
        kinds = {r.error_kind for r in self.results if r.status == "errored"}
        if "input" in kinds:
            return 2
        if kinds:
            return 3
        return 1 if self.verdict == "fail" else 0

    def all_findings(self) -> list[tuple[CheckResult, Finding]]:
        """Every finding with the result it belongs to, most severe first."""
        pairs = [(r, f) for r in self.results for f in r.findings]
        pairs.sort(key=lambda p: (-p[1].severity, p[1].rule_id, p[0].model or "", p[1].message))
        return pairs

    def to_dict(self) -> dict[str, JsonValue]:
        """The canonical JSON form, carrying ``report_version``."""
        return {
            "report_version": REPORT_VERSION,
            "tool": {"name": "mlops-ci", "version": self.tool_version},
            "started_at": self.started_at,
            "duration_s": self.duration_s,
            "verdict": self.verdict,
            "fail_on": self.fail_on.label,
            "environment": self.environment,
            "config_path": self.config_path,
            "git": {
                "commit": self.git.commit,
                "branch": self.git.branch,
                "dirty": self.git.dirty,
                "remote_url": self.git.remote_url,
            },
            "models": [{"name": m.name, "path": m.path, "card": m.card} for m in self.models],
            "results": [r.to_dict() for r in self.results],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, JsonValue]) -> Report:
        """Read the JSON form back; refuses report versions this release does not know."""
        version = data.get("report_version")
        if version != REPORT_VERSION:
            raise ValueError(f"unsupported report_version {version!r}; expected {REPORT_VERSION}")
        git = data.get("git") or {}
        return cls(
            tool_version=str(data["tool"]["version"]),
            started_at=str(data["started_at"]),
            duration_s=float(data.get("duration_s", 0.0)),
            fail_on=Severity.parse(str(data.get("fail_on", "high"))),
            environment=data.get("environment"),
            config_path=data.get("config_path"),
            git=GitInfo(
                commit=git.get("commit"),
                branch=git.get("branch"),
                dirty=bool(git.get("dirty", False)),
                remote_url=git.get("remote_url"),
            ),
            models=tuple(ModelRef(**m) for m in data.get("models", [])),
            results=tuple(CheckResult.from_dict(r) for r in data.get("results", [])),
        )
