"""Licences: card licence strings as CycloneDX ``licenses`` entries, and the licences of a BOM.

Hugging Face cards write SPDX identifiers in lower case (``apache-2.0``); CycloneDX accepts only
the exact SPDX spelling as an ``id``, so identifiers are fixed up with cyclonedx-python-lib's SPDX
table. Compound expressions become ``expression``; anything else (``other``, ``openrail``) a
``name``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any


def license_entries(
    values: Sequence[str], name: str | None = None, url: str | None = None
) -> list[dict[str, Any]]:
    """The ``licenses`` array for licence strings; ``name``/``url`` describe an ``other`` licence.

    CycloneDX 1.6 allows either ``license`` objects or a single ``expression``, so a compound
    expression that comes with other licences is kept as a named licence.
    """
    from cyclonedx import spdx

    entries: list[dict[str, Any]] = []
    for raw in values:
        value = raw.strip()
        if not value:
            continue
        spdx_id = spdx.fixup_id(value)
        if spdx_id is not None:
            entries.append({"license": {"id": spdx_id}})
        elif value.lower() == "other" and name:
            license_: dict[str, Any] = {"name": name}
            if url:
                license_["url"] = url
            entries.append({"license": license_})
        elif len(values) == 1 and " " in value and spdx.is_expression(value):
            return [{"expression": value}]
        else:
            entries.append({"license": {"name": value}})
    return entries


def iter_components(components: Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """Every component, nested ones included, depth first."""
    for component in components:
        yield component
        yield from iter_components(component.get("components", []))


def license_names(entries: Iterable[Mapping[str, Any]]) -> list[str]:
    """The licence ids, names and expressions of one ``licenses`` array."""
    names = []
    for entry in entries:
        if "expression" in entry:
            names.append(str(entry["expression"]))
            continue
        license_ = entry.get("license", {})
        name = license_.get("id") or license_.get("name")
        if name:
            names.append(str(name))
    return names


def bom_licenses(bom: Mapping[str, Any]) -> list[str]:
    """The sorted set of licences any component of ``bom`` declares."""
    found: set[str] = set()
    for component in iter_components(bom.get("components", [])):
        found.update(license_names(component.get("licenses", [])))
    return sorted(found)
