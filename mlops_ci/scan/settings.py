"""The scan settings of a run: ``scan:`` from the configuration, overridden by command-line flags.

``mlops-ci scan`` passes its flags to the checks as ``options["scan"]`` (absolute paths, already
resolved against the working directory); configuration paths are relative to the repository root.
A flag replaces the configured value (``--requirements`` replaces the whole list).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_ci.checks.base import Context
from mlops_ci.config import ScanConfig
from mlops_ci.findings import Severity
from mlops_ci.scan.pip_audit import Service

OPTIONS_KEY = "scan"
CACHE_DIR = Path(".mlops-ci") / "cache"


@dataclass(frozen=True)
class ScanSettings:
    """Resolved scan settings."""

    requirements: tuple[Path, ...]
    source: tuple[Path, ...]
    vuln_db: Path | None
    environment: bool
    service: Service
    online_cache_ttl: int
    unaudited_severity: Severity
    unknown_severity: Severity
    cache_dir: Path


def scan_settings(ctx: Context) -> ScanSettings:
    """The settings for ``ctx``: flags in ``ctx.options['scan']`` win over ``scan:``."""
    config: ScanConfig = ctx.config.scan
    flags: Mapping[str, Any] = ctx.options.get(OPTIONS_KEY) or {}

    def paths(key: str, configured: list[str]) -> tuple[Path, ...]:
        if flags.get(key):
            return tuple(Path(p) for p in flags[key])
        return tuple(ctx.loaded.resolve(p, f"scan.{key}") for p in configured)

    vuln_db: Path | None = None
    if flags.get("vuln_db"):
        vuln_db = Path(flags["vuln_db"])
    elif config.vuln_db:
        vuln_db = ctx.loaded.resolve(config.vuln_db, "scan.vuln_db")
    return ScanSettings(
        requirements=paths("requirements", config.requirements),
        source=paths("source", config.source),
        vuln_db=vuln_db,
        environment=config.environment,
        service=config.service,
        online_cache_ttl=config.online_cache_ttl,
        unaudited_severity=config.unaudited_severity,
        unknown_severity=config.unknown_severity,
        cache_dir=ctx.root / CACHE_DIR,
    )
