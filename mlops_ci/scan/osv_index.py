"""An index of an OSV database by package, cached on disk under a key made of the data itself.

Parsing 2,600 YAML records takes about a second; the index (records trimmed to what matching and
reporting need, grouped by normalised package name) loads from JSON in a fraction of that. The
cache file is ``<cache_dir>/osv-<sha256 of every record file>.json``, so any change to the
database (a record added, edited or removed) is a different key and a rebuild; there is no
staleness by time. A cache that cannot be written or read is ignored (the run is just slower).
JSON, not pickle: a cache file must never be able to run code.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from mlops_ci.findings import Severity
from mlops_ci.fsutil import atomic_write
from mlops_ci.scan.cvss import advisory_severity
from mlops_ci.scan.osv import (
    ECOSYSTEM,
    RawDatabase,
    affects,
    parse_records,
    read_database,
    stat_manifest,
)

INDEX_FORMAT = 1
_KEEP_CACHES = 3


@dataclass(frozen=True)
class OsvIndex:
    """Records by id, the ids affecting each package, and where the data came from."""

    digest: str
    records: Mapping[str, dict[str, Any]]
    packages: Mapping[str, tuple[str, ...]]
    aliases: Mapping[str, str] = field(default_factory=dict)
    from_cache: bool = False

    def query(self, name: str, version: str) -> list[dict[str, Any]]:
        """The records affecting PyPI package ``name`` at ``version``."""
        canonical = canonicalize_name(name)
        candidates = (self.records[i] for i in self.packages.get(canonical, ()))
        return [r for r in candidates if affects(r, canonical, version)]

    def lookup(self, advisory_id: str) -> dict[str, Any] | None:
        """The record with ``advisory_id`` as its id or one of its aliases."""
        found = self.records.get(advisory_id)
        if found is None and advisory_id in self.aliases:
            found = self.records.get(self.aliases[advisory_id])
        return found

    def severity(self, advisory_id: str) -> Severity | None:
        """The severity the record states (CVSS or database label), None when it states none."""
        record = self.lookup(advisory_id)
        label = record.get("x_mlops_ci_severity") if record else None
        return Severity.parse(label) if isinstance(label, str) else None


def _trim(record: dict[str, Any]) -> dict[str, Any] | None:
    """What matching and reporting need; None for withdrawn records and other ecosystems."""
    if record.get("withdrawn"):
        return None
    affected = []
    for entry in record.get("affected") or []:
        package = (entry.get("package") or {}) if isinstance(entry, dict) else {}
        if package.get("ecosystem") != ECOSYSTEM or not package.get("name"):
            continue
        ranges = [r for r in entry.get("ranges") or [] if r.get("type") == "ECOSYSTEM"]
        affected.append(
            {
                # pip-audit compares this name with the canonical name of the dependency.
                "package": {
                    "name": canonicalize_name(str(package["name"])),
                    "ecosystem": ECOSYSTEM,
                },
                "ranges": ranges,
                "versions": list(entry.get("versions") or []),
            }
        )
    if not affected:
        return None
    trimmed: dict[str, Any] = {
        key: record[key]
        for key in (
            "schema_version",
            "id",
            "aliases",
            "summary",
            "details",
            "published",
            "modified",
            "severity",
            "database_specific",
        )
        if key in record
    }
    trimmed["affected"] = affected
    severity = advisory_severity(record)
    trimmed["x_mlops_ci_severity"] = severity.label if severity is not None else None
    return trimmed


def build_index(database: RawDatabase) -> OsvIndex:
    """Parse every record of ``database`` and group the PyPI ones by package."""
    records: dict[str, dict[str, Any]] = {}
    packages: dict[str, list[str]] = {}
    for record in parse_records(database):
        trimmed = _trim(record)
        if trimmed is None:
            continue
        records[trimmed["id"]] = trimmed
        for entry in trimmed["affected"]:
            ids = packages.setdefault(entry["package"]["name"], [])
            if trimmed["id"] not in ids:
                ids.append(trimmed["id"])
    return _assemble(database.digest, records, {k: tuple(v) for k, v in packages.items()})


def _assemble(
    digest: str,
    records: dict[str, dict[str, Any]],
    packages: dict[str, tuple[str, ...]],
    *,
    from_cache: bool = False,
) -> OsvIndex:
    aliases = {
        alias: record_id
        for record_id, record in records.items()
        for alias in record.get("aliases") or []
        if isinstance(alias, str)
    }
    return OsvIndex(digest, records, packages, aliases, from_cache)


def load_index(path: Path, cache_dir: Path | None) -> OsvIndex:
    """The index of the database at ``path``, from ``cache_dir`` when the data is unchanged.

    A warm run first looks up the content digest recorded for the files' names, sizes and
    modification times (``osv-stat-*.txt``), which spares reading every record; any change to
    them falls back to reading and hashing the content.
    """
    manifest = stat_manifest(path) if cache_dir is not None else None
    if cache_dir is not None and manifest is not None:
        try:
            known = (cache_dir / f"osv-stat-{manifest}.txt").read_text().strip()
        except OSError:
            known = ""
        if re.fullmatch(r"[0-9a-f]{64}", known):
            cached = _read_cache(cache_dir / f"osv-{known}.json", known)
            if cached is not None:
                return cached
    database = read_database(path)
    cache_file = cache_dir / f"osv-{database.digest}.json" if cache_dir else None
    index = _read_cache(cache_file, database.digest) if cache_file is not None else None
    if index is None:
        index = build_index(database)
        if cache_file is not None:
            _write_cache(cache_file, index)
    if cache_dir is not None and manifest is not None:
        with contextlib.suppress(OSError):
            atomic_write(cache_dir / f"osv-stat-{manifest}.txt", database.digest)
    return index


def _read_cache(cache_file: Path, digest: str) -> OsvIndex | None:
    try:
        data = json.loads(cache_file.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != INDEX_FORMAT:
        return None
    if data.get("digest") != digest:
        return None
    packages = {str(k): tuple(v) for k, v in data["packages"].items()}
    return _assemble(digest, data["records"], packages, from_cache=True)


def _write_cache(cache_file: Path, index: OsvIndex) -> None:
    payload = {
        "format": INDEX_FORMAT,
        "digest": index.digest,
        "records": index.records,
        "packages": {k: list(v) for k, v in index.packages.items()},
    }
    try:
        atomic_write(cache_file, json.dumps(payload, separators=(",", ":")))
        _prune(cache_file.parent)
    except OSError:
        return


def _prune(cache_dir: Path) -> None:
    for pattern in ("osv-*.json", "osv-stat-*.txt"):
        files = sorted(cache_dir.glob(pattern), key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in files[_KEEP_CACHES:]:
            stale.unlink(missing_ok=True)
