"""The ``deps`` check: known vulnerabilities in pinned dependencies, with pip-audit as the engine.

Modes, decided per run:
- ``scan.vuln_db`` / ``--vuln-db`` set: air-gapped. The OSV records are indexed (and the index
  cached under ``.mlops-ci/cache/``), served from a loopback OSV-API server, and pip-audit audits
  against it (``-s osv --osv-url http://127.0.0.1:PORT/v1/query``). No other connection is made.
- no database and ``--offline``: nothing can be looked up, so every package is unaudited.
- otherwise online: pip-audit's ``scan.service`` (``pypi`` by default, or ``osv``).

Never a silent pass: a package that is not pinned (auditing it would mean resolving it), that
pip-audit skipped, that is missing from pip-audit's report, or that could not be looked up is a
``DEP-UNAUDITED`` finding (``scan.unaudited_severity``, high by default).

Findings: ``DEP-<advisory id>`` at the requirements file and line of the pin; the message names
the aliases and the fix versions. Severity is the advisory's (CVSS v3/v2 base score, else the
database label), else ``scan.unknown_severity`` (high by default; counted as ``unknown`` in the
facts). In online mode there are no local records, so every advisory takes that default.

Cached (see :mod:`mlops_ci.cache`) only against a fixed database (``scan.vuln_db``): keyed by the
requirements files and what they include, the database's files, pip-audit's version and the
settings. An online audit (advisories appear by the hour) and an audit of the installed
environment are never cached, nor is an audit that could not ask about every pin.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from packaging.utils import canonicalize_name

if TYPE_CHECKING:
    from mlops_ci.scan.osv_index import OsvIndex

from mlops_ci.checks.base import Context, Scope, result, skipped
from mlops_ci.checks.cache_keys import tool_versions
from mlops_ci.errors import MlopsCiError
from mlops_ci.findings import CheckResult, Finding, JsonValue, Location, Severity
from mlops_ci.scan.pip_audit import (
    LOOPBACK_TIMEOUT_S,
    AuditRun,
    PendingAudit,
    Vulnerability,
    dependency_key,
    run_pip_audit,
    start_pip_audit,
)
from mlops_ci.scan.requirements import (
    Pin,
    Requirements,
    Unpinned,
    read_requirements,
    requirement_files,
)
from mlops_ci.scan.settings import ScanSettings, scan_settings

_SEVERITY_BUCKETS = ("critical", "high", "medium", "low", "unknown")


class DepsCheck:
    """Audits the configured requirements (and optionally the environment) with pip-audit."""

    name: ClassVar[str] = "deps"
    needs: ClassVar[tuple[str, ...]] = ()
    scope: ClassVar[Scope] = "repository"
    stampable: ClassVar[bool] = False  # the key holds pip-audit's version, not only files

    def inputs(self, ctx: Context) -> list[Path] | None:
        """The requirements files (includes followed) and the advisory database; None (not
        cached) with the installed environment, offline without a database, online with
        ``scan.online_cache_ttl: 0``, or when the files cannot be followed."""
        settings = scan_settings(ctx)
        if not settings.requirements and not settings.environment:
            return []
        if settings.environment:
            return None
        if settings.vuln_db is None and (ctx.offline or settings.online_cache_ttl == 0):
            return None
        files = requirement_files(list(settings.requirements), ctx.root)
        if files is None:
            return None
        return files if settings.vuln_db is None else [*files, settings.vuln_db]

    def cache_material(self, ctx: Context) -> dict[str, Any]:
        """pip-audit's version, and the files the flags chose (the flags replace the
        configured ones); online, the service and the time window the audit was made in."""
        settings = scan_settings(ctx)
        material: dict[str, Any] = {
            "tools": tool_versions("pip-audit", "packaging"),
            "requirements": [str(p) for p in settings.requirements],
            "vuln_db": str(settings.vuln_db),
        }
        if settings.vuln_db is None:
            # The service's answer changes as advisories are published: a result is reused only
            # within the window of ``online_cache_ttl`` seconds it was made in, so it is never
            # older than that (a window, not an age, because the key must be known before the
            # lookup).
            ttl = settings.online_cache_ttl
            material["online"] = {
                "service": settings.service,
                "ttl": ttl,
                "window": int(ctx.now.timestamp()) // ttl,
            }
        return material

    def storable(self, ctx: Context, outcome: CheckResult) -> bool:
        """Only an audit that asked about every pin: a pip-audit that crashed or timed out
        leaves packages unaudited that a re-run may audit (only unpinned ones stay so)."""
        unaudited = sum(1 for f in outcome.findings if f.rule_id == "DEP-UNAUDITED")
        if unaudited == 0:
            return True
        settings = scan_settings(ctx)
        try:
            requirements = read_requirements(list(settings.requirements), ctx.root)
        except (OSError, MlopsCiError):
            return False
        return unaudited == len(requirements.unpinned)

    def run(self, ctx: Context) -> CheckResult:
        """Audit every pinned dependency; report vulnerabilities and what could not be audited."""
        settings = scan_settings(ctx)
        if not settings.requirements and not settings.environment:
            return skipped(
                ctx,
                self.name,
                "no requirements to audit (set 'scan.requirements' or use --requirements)",
            )
        requirements = read_requirements(list(settings.requirements), ctx.root)
        if settings.environment:
            requirements = Requirements(
                requirements.pins + environment_pins(), requirements.unpinned
            )
        index: OsvIndex | None = None
        if settings.vuln_db is not None:
            run, index = _audit_offline(requirements, settings.vuln_db, settings.cache_dir)
            mode = "offline-db"
        elif ctx.offline:
            reason = "offline, and no vulnerability database is configured (--vuln-db)"
            run = AuditRun(
                unaudited={dependency_key(n, v): reason for n, v in _pairs(requirements)}
            )
            mode = "offline"
        else:
            run = run_pip_audit(_pairs(requirements), service=settings.service)
            mode = f"online-{settings.service}"

        def severity_of(vuln: Vulnerability) -> Severity | None:
            if index is None:
                return None
            for advisory in (vuln.id, *vuln.aliases):
                found = index.severity(advisory)
                if found is not None:
                    return found
            return None

        return _report(ctx, settings, requirements, run, severity_of, mode)


def _audit_offline(
    requirements: Requirements, vuln_db: Path, cache_dir: Path
) -> tuple[AuditRun, OsvIndex]:
    """pip-audit against the loopback OSV server. pip-audit starts first, so its start-up
    overlaps loading the index; its queries wait in the server's accept queue meanwhile."""
    from mlops_ci.scan.osv_index import load_index
    from mlops_ci.scan.osv_server import LoopbackOsvServer

    with LoopbackOsvServer() as server:
        pending = start_pip_audit(
            _pairs(requirements), service="osv", osv_url=server.url, timeout_s=LOOPBACK_TIMEOUT_S
        )
        try:
            index = load_index(vuln_db, cache_dir)
        except BaseException:
            if isinstance(pending, PendingAudit):
                pending.cancel()
            raise
        server.serve(index)
        run = pending if isinstance(pending, AuditRun) else pending.wait()
        return _unqueried(run, requirements, server.queried), index


def environment_pins() -> tuple[Pin, ...]:
    """Every distribution installed in this Python environment, pinned at its version."""
    from importlib import metadata

    pins = []
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            pins.append(Pin(str(name), Path(str(dist.locate_file(""))), 0, dist.version))
    return tuple(sorted(pins, key=lambda p: (p.canonical, p.version)))


def _pairs(requirements: Requirements) -> list[tuple[str, str]]:
    return [(pin.name, pin.version) for pin in requirements.pins]


def _unqueried(
    run: AuditRun, requirements: Requirements, queried: frozenset[tuple[str, str]]
) -> AuditRun:
    asked = {dependency_key(n, v) for n, v in queried}
    unaudited = dict(run.unaudited)
    for name, version in _pairs(requirements):
        key = dependency_key(name, version)
        if key not in asked and key not in unaudited:
            unaudited[key] = "pip-audit never asked the vulnerability database about it"
    return AuditRun(run.vulnerabilities, unaudited, run.error)


def _report(
    ctx: Context,
    settings: ScanSettings,
    requirements: Requirements,
    run: AuditRun,
    severity_of: Callable[[Vulnerability], Severity | None],
    mode: str,
) -> CheckResult:
    findings: list[Finding] = []
    counts = dict.fromkeys(_SEVERITY_BUCKETS, 0)
    listed: list[JsonValue] = []
    for pin in requirements.pins:
        key = dependency_key(pin.name, pin.version)
        location = _location(ctx, pin.path, pin.line)
        if key in run.unaudited:
            findings.append(_unaudited(ctx, settings, pin.name, run.unaudited[key], location))
            continue
        for vuln in run.vulnerabilities.get(key, ()):
            stated = severity_of(vuln)
            severity = stated if stated is not None else settings.unknown_severity
            counts["unknown" if stated is None else _bucket(stated)] += 1
            findings.append(
                ctx.finding(
                    f"DEP-{vuln.id}",
                    severity,
                    vulnerability_message(pin, vuln),
                    location,
                    pin.canonical,
                    vuln.id,
                )
            )
            listed.append(
                {
                    "id": vuln.id,
                    "aliases": list(vuln.aliases),
                    "package": pin.canonical,
                    "version": pin.version,
                    "severity": severity.label,
                    "severity_stated": stated is not None,
                    "fix_versions": list(vuln.fix_versions),
                    "description": vuln.description,
                    "location": str(location),
                }
            )
    for entry in requirements.unpinned:
        location = _location(ctx, entry.path, entry.line)
        findings.append(_unaudited(ctx, settings, entry.name, entry.reason, location))
    unaudited = sum(1 for f in findings if f.rule_id == "DEP-UNAUDITED")
    facts: dict[str, JsonValue] = {
        "vulnerabilities": counts,
        "total": sum(counts.values()),
        "unaudited": unaudited,
        "packages": len({dependency_key(p.name, p.version) for p in requirements.pins}),
        "mode": mode,
        "findings": listed,
    }
    metrics = {"vulnerabilities": float(sum(counts.values())), "unaudited": float(unaudited)}
    return result(ctx, "deps", findings, metrics=metrics, facts=facts)


def _bucket(severity: Severity) -> str:
    return "low" if severity <= Severity.LOW else severity.label


def _location(ctx: Context, path: Path, line: int) -> Location:
    return Location(ctx.display(path), line if line > 0 else None)


def _unaudited(
    ctx: Context, settings: ScanSettings, name: str, reason: str, location: Location
) -> Finding:
    message = f"{name} could not be audited: {reason}"
    return ctx.finding(
        "DEP-UNAUDITED", settings.unaudited_severity, message, location, canonicalize_name(name)
    )


def vulnerability_message(pin: Pin | Unpinned, vuln: Vulnerability) -> str:
    """One sentence: the package, the advisory and its aliases, what it is, and the fix."""
    version = pin.version if isinstance(pin, Pin) else "?"
    aliases = f" ({', '.join(vuln.aliases)})" if vuln.aliases else ""
    summary = " ".join(vuln.description.split())
    if len(summary) > 160:
        summary = summary[:157].rstrip() + "..."
    if vuln.fix_versions:
        upgrade = _next_fix(version, vuln.fix_versions)
        fix = f"fixed in {', '.join(vuln.fix_versions)}"
        fix += f"; upgrade to {upgrade} or later" if upgrade else ""
    else:
        fix = "no fixed version is known; replace the package or waive the finding with a reason"
    return f"{pin.name} {version} is affected by {vuln.id}{aliases}: {summary} ({fix})"


def _next_fix(version: str, fixes: tuple[str, ...]) -> str | None:
    from mlops_ci.scan.osv import parse_version

    current = parse_version(version)
    if current is None:
        return None
    later = [
        (parsed, text) for text in fixes if (parsed := parse_version(text)) and parsed > current
    ]
    return min(later)[1] if later else None
