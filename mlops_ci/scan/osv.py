"""OSV records: reading a database (a directory of YAML/JSON records, or the OSV zip export) and
deciding whether a record affects a package version.

Matching follows the OSV schema (https://ossf.github.io/osv-schema/): a version is affected when
an ``affected`` entry for the PyPI package lists it in ``versions``, or when one of its
``ECOSYSTEM`` ranges covers it. A range's events are walked in version order (PEP 440, with
``packaging``): ``introduced`` opens the range, ``fixed`` closes it at that version, and
``last_affected`` closes it after that version. Records with ``withdrawn`` set never match.

YAML records are read with PyYAML's ``BaseLoader`` (every scalar a string): OSV fields are
strings, and YAML 1.1 would otherwise turn an unquoted ``fixed: 1.10`` into the float ``1.1``.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from mlops_ci.errors import InputError, SourcePosition
from mlops_ci.safepath import refuse_escaping_links

RECORD_SUFFIXES = (".json", ".yaml", ".yml")
ECOSYSTEM = "PyPI"


@dataclass(frozen=True)
class RawDatabase:
    """The bytes of every record file of a database, and a digest of all of them."""

    path: Path
    files: tuple[tuple[str, bytes], ...]
    digest: str


def read_database(path: Path) -> RawDatabase:
    """Read every record file of ``path`` (a directory or a zip); raise InputError if none."""
    if not path.exists():
        raise InputError(
            "the vulnerability database does not exist; give --vuln-db or 'scan.vuln_db' a"
            " directory of OSV records or an OSV zip export",
            SourcePosition(str(path)),
        )
    try:
        files = _zip_files(path) if path.is_file() else _directory_files(path)
    except OSError as exc:
        raise InputError(
            f"cannot read the vulnerability database ({exc.strerror or exc.__class__.__name__})",
            SourcePosition(str(path)),
        ) from None
    if not files:
        raise InputError(
            "no OSV records (*.json, *.yaml) found in the vulnerability database; point"
            " --vuln-db at the advisory directory or the OSV zip export",
            SourcePosition(str(path)),
        )
    digest = hashlib.sha256()
    for name, data in files:
        digest.update(name.encode() + b"\0" + len(data).to_bytes(8, "big") + data)
    return RawDatabase(path, tuple(files), digest.hexdigest())


def _record_files(path: Path) -> Iterator[tuple[str, Path]]:
    for file in sorted(path.rglob("*")):
        relative = file.relative_to(path)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if file.suffix in RECORD_SUFFIXES and file.is_file():
            yield relative.as_posix(), file


def _directory_files(path: Path) -> list[tuple[str, bytes]]:
    # Records are read whole: no link in the database may lead out of it (to a secret, /proc).
    refuse_escaping_links(path, path, what="OSV record")
    return [(name, file.read_bytes()) for name, file in _record_files(path)]


def stat_manifest(path: Path) -> str | None:
    """A digest of the names, sizes and modification times of the database's files (no
    content read): a cheap way to recognise a database already indexed. None if unreadable."""
    digest = hashlib.sha256()
    try:
        files = [(path.name, path)] if path.is_file() else list(_record_files(path))
        for name, file in files:
            info = file.stat()
            digest.update(f"{name}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    except OSError:
        return None
    return digest.hexdigest() if files else None


def _zip_files(path: Path) -> list[tuple[str, bytes]]:
    if not zipfile.is_zipfile(path):
        raise InputError(
            "the vulnerability database is a file but not a zip; give a directory of OSV records"
            " or the OSV zip export",
            SourcePosition(str(path)),
        )
    with zipfile.ZipFile(path) as archive:
        return [
            (info.filename, archive.read(info))
            for info in sorted(archive.infolist(), key=lambda i: i.filename)
            if not info.is_dir() and info.filename.endswith(RECORD_SUFFIXES)
        ]


def parse_records(database: RawDatabase) -> Iterator[dict[str, Any]]:
    """Each record of ``database`` as plain data; a malformed file is an InputError."""
    import yaml

    loader: Any = getattr(yaml, "CBaseLoader", yaml.BaseLoader)
    for name, data in database.files:
        position = SourcePosition(
            f"{database.path}/{name}" if database.path.is_dir() else f"{database.path}!{name}"
        )
        try:
            # BaseLoader builds plain strings, lists and dicts only: nothing to execute.
            record = json.loads(data) if name.endswith(".json") else yaml.load(data, loader)  # noqa: S506
        except (ValueError, yaml.YAMLError) as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else getattr(exc, "lineno", None)
            raise InputError(
                "not a readable OSV record (invalid JSON/YAML); fix or remove the file",
                SourcePosition(position.path, line),
            ) from None
        if not isinstance(record, dict) or not isinstance(record.get("id"), str):
            raise InputError(
                "not an OSV record (a mapping with an 'id'); fix or remove the file", position
            )
        yield record


def parse_version(text: object) -> Version | None:
    """A PEP 440 version, or None when ``text`` is not one (non-strings are read as text)."""
    return _parse_version(str(text))


@lru_cache(maxsize=65536)
def _parse_version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def package_entries(record: Mapping[str, Any], canonical: str) -> list[Mapping[str, Any]]:
    """The ``affected`` entries of ``record`` about PyPI package ``canonical``."""
    found = []
    for affected in record.get("affected") or []:
        package = (affected.get("package") or {}) if isinstance(affected, Mapping) else {}
        if (
            package.get("ecosystem") == ECOSYSTEM
            and canonicalize_name(str(package.get("name", ""))) == canonical
        ):
            found.append(affected)
    return found


def range_affects(events: list[Mapping[str, str]], version: Version) -> bool:
    """Whether an ECOSYSTEM range's ``events`` cover ``version`` (the OSV evaluation)."""
    ordered: list[tuple[Version, str]] = []
    for event in events:
        for kind in ("introduced", "fixed", "last_affected"):
            if kind in event:
                parsed = parse_version(str(event[kind]))
                if parsed is None:
                    return False  # a range we cannot order is judged by the versions list
                ordered.append((parsed, kind))
    # At one version, 'introduced' is applied before the events that close the range.
    ordered.sort(key=lambda item: (item[0], item[1] != "introduced"))
    affected = False
    for boundary, kind in ordered:
        if kind == "introduced" and version >= boundary:
            affected = True
        elif (kind == "fixed" and version >= boundary) or (
            kind == "last_affected" and version > boundary
        ):
            affected = False
    return affected


def affects(record: Mapping[str, Any], canonical: str, version: str) -> bool:
    """Whether ``record`` affects ``canonical`` at ``version`` (withdrawn records never do)."""
    if record.get("withdrawn"):
        return False
    parsed = parse_version(version)
    for entry in package_entries(record, canonical):
        for listed in entry.get("versions") or []:
            if listed == version or (parsed is not None and parse_version(listed) == parsed):
                return True
        if parsed is None:
            continue
        for affected_range in entry.get("ranges") or []:
            if affected_range.get("type") == "ECOSYSTEM" and range_affects(
                list(affected_range.get("events") or []), parsed
            ):
                return True
    return False


def fix_versions(record: Mapping[str, Any], canonical: str) -> list[str]:
    """Every ``fixed`` version of ``record``'s ECOSYSTEM ranges for ``canonical``, ascending."""
    fixed = {
        str(event["fixed"])
        for entry in package_entries(record, canonical)
        for affected_range in entry.get("ranges") or []
        if affected_range.get("type") == "ECOSYSTEM"
        for event in affected_range.get("events") or []
        if "fixed" in event
    }
    return sorted(fixed, key=lambda v: (parse_version(v) or Version("0"), v))
