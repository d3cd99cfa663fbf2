"""``mlops-ci sbom diff``: components added, removed and changed (version, licence, hash) between
two CycloneDX documents, as Markdown for a PR comment or as JSON.

A component is identified across documents by its package URL without version and qualifiers
(``pkg:pypi/numpy``), else by type, group and name; nested components (a model's files) by their
parent's identity and their own. bom-refs are not identities: they may change between runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_ci.errors import InputError, SourcePosition
from mlops_ci.safepath import read_text
from mlops_ci.sbom.licenses import license_names

MARKER = "<!-- mlops-ci:sbom-diff -->"


@dataclass(frozen=True)
class ComponentView:
    """What the diff compares of one component."""

    key: str
    name: str
    type: str
    version: str | None
    licenses: tuple[str, ...]
    hashes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "name": self.name,
            "type": self.type,
            "version": self.version,
            "licenses": list(self.licenses),
            "hashes": list(self.hashes),
        }


@dataclass(frozen=True)
class FieldChange:
    """One field of a component that differs."""

    field: str  # "version", "licenses" or "hashes"
    before: str | list[str] | None
    after: str | list[str] | None


@dataclass(frozen=True)
class ComponentChange:
    """A component present in both documents, with what changed."""

    name: str
    type: str
    changes: tuple[FieldChange, ...]


@dataclass(frozen=True)
class SbomDiff:
    """The difference between two SBOMs."""

    old: str
    new: str
    old_components: int
    new_components: int
    added: tuple[ComponentView, ...]
    removed: tuple[ComponentView, ...]
    changed: tuple[ComponentChange, ...]


def load_sbom(path: Path, shown: str) -> dict[str, Any]:
    """Read a CycloneDX JSON document, or raise InputError naming the file (and line)."""
    try:
        text = read_text(path, what="SBOM", position=SourcePosition(shown))
    except FileNotFoundError:
        raise InputError("SBOM file not found; check the path", SourcePosition(shown)) from None
    except OSError as exc:
        raise InputError(
            f"cannot read the SBOM ({exc.__class__.__name__}); give a CycloneDX JSON file",
            SourcePosition(shown),
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"not valid JSON ({exc.msg}); give a CycloneDX JSON file",
            SourcePosition(shown, exc.lineno, exc.colno),
        ) from None
    if not isinstance(data, dict) or data.get("bomFormat") != "CycloneDX":
        raise InputError(
            'not a CycloneDX document (no "bomFormat": "CycloneDX"); give a .cdx.json SBOM',
            SourcePosition(shown, 1),
        )
    if not isinstance(data.get("components", []), list):
        raise InputError("'components' is not a list", SourcePosition(shown))
    return data


def component_views(
    bom: Mapping[str, Any], versioned: Set[str] = frozenset()
) -> dict[str, ComponentView]:
    """Every component (nested ones too) by identity; identities in ``versioned`` (those listed
    more than once in either document) get ``@version`` appended."""
    keyed: dict[str, ComponentView] = {}
    for view in _walk(bom.get("components", []), parent=None):
        key = f"{view.key}@{view.version}" if view.key in versioned else view.key
        while key in keyed:
            key += "'"
        keyed[key] = view
    return keyed


def _repeated(bom: Mapping[str, Any]) -> set[str]:
    seen: set[str] = set()
    repeated: set[str] = set()
    for view in _walk(bom.get("components", []), parent=None):
        (repeated if view.key in seen else seen).add(view.key)
    return repeated


def _walk(components: Iterable[Any], parent: ComponentView | None) -> Iterable[ComponentView]:
    for component in components:
        if not isinstance(component, dict):
            continue
        view = _view(component, parent)
        yield view
        yield from _walk(component.get("components", []), view)


def _view(component: Mapping[str, Any], parent: ComponentView | None) -> ComponentView:
    kind = str(component.get("type", ""))
    group = component.get("group")
    name = f"{group}/{component.get('name')}" if group else str(component.get("name", ""))
    purl = component.get("purl")
    if isinstance(purl, str) and purl:
        key = purl.split("?", 1)[0].split("#", 1)[0]
        key = key.rsplit("@", 1)[0] if "@" in key else key
    else:
        key = f"{kind}:{name}"
    if parent is not None:
        key, name = f"{parent.key}/{key}", f"{parent.name} / {name}"
    hashes = [h for h in component.get("hashes", []) if isinstance(h, dict)]
    for reference in component.get("externalReferences", []):
        hashes += [h for h in reference.get("hashes", []) if isinstance(h, dict)]
    version = component.get("version")
    return ComponentView(
        key=key,
        name=name,
        type=kind,
        version=None if version is None else str(version),
        licenses=tuple(sorted(set(license_names(component.get("licenses", []))))),
        hashes=tuple(sorted({f"{h.get('alg')}:{h.get('content')}" for h in hashes})),
    )


def diff_sboms(
    old: Mapping[str, Any], new: Mapping[str, Any], old_name: str, new_name: str
) -> SbomDiff:
    """Compare two loaded SBOMs."""
    versioned = _repeated(old) | _repeated(new)
    before, after = component_views(old, versioned), component_views(new, versioned)
    added = tuple(after[k] for k in sorted(after.keys() - before.keys()))
    removed = tuple(before[k] for k in sorted(before.keys() - after.keys()))
    changed = []
    for key in sorted(before.keys() & after.keys()):
        a, b = before[key], after[key]
        changes = []
        if a.version != b.version:
            changes.append(FieldChange("version", a.version, b.version))
        if a.licenses != b.licenses:
            changes.append(FieldChange("licenses", list(a.licenses), list(b.licenses)))
        if a.hashes != b.hashes:
            changes.append(FieldChange("hashes", list(a.hashes), list(b.hashes)))
        if changes:
            changed.append(ComponentChange(b.name, b.type, tuple(changes)))
    return SbomDiff(
        old=old_name,
        new=new_name,
        old_components=len(before),
        new_components=len(after),
        added=added,
        removed=removed,
        changed=tuple(changed),
    )


def render_json(diff: SbomDiff) -> str:
    """The diff as JSON."""
    data = {
        "old": diff.old,
        "new": diff.new,
        "summary": {
            "added": len(diff.added),
            "removed": len(diff.removed),
            "changed": len(diff.changed),
            "old_components": diff.old_components,
            "new_components": diff.new_components,
        },
        "added": [c.to_dict() for c in diff.added],
        "removed": [c.to_dict() for c in diff.removed],
        "changed": [
            {
                "name": c.name,
                "type": c.type,
                "changes": [
                    {"field": f.field, "before": f.before, "after": f.after} for f in c.changes
                ],
            }
            for c in diff.changed
        ],
    }
    return json.dumps(data, indent=2) + "\n"


def render_markdown(diff: SbomDiff) -> str:
    """The diff as Markdown for a PR/MR comment (the hidden marker lets it be updated in place)."""
    lines = [
        MARKER,
        "### SBOM changes",
        "",
        f"`{_cell(diff.old)}` → `{_cell(diff.new)}`: {len(diff.added)} added,"
        f" {len(diff.removed)} removed, {len(diff.changed)} changed"
        f" ({diff.old_components} → {diff.new_components} components).",
    ]
    if not (diff.added or diff.removed or diff.changed):
        return "\n".join([*lines, "", "No component was added, removed or changed.", ""])
    for title, views in (("Added", diff.added), ("Removed", diff.removed)):
        if views:
            lines += ["", f"**{title}**", "", "| Component | Type | Version | Licences |"]
            lines.append("| --- | --- | --- | --- |")
            lines += [
                f"| {_cell(v.name)} | {v.type} | {_cell(v.version or '-')} |"
                f" {_cell(', '.join(v.licenses) or '-')} |"
                for v in views
            ]
    if diff.changed:
        lines += ["", "**Changed**", "", "| Component | Field | Before | After |"]
        lines.append("| --- | --- | --- | --- |")
        for change in diff.changed:
            for field in change.changes:
                lines.append(
                    f"| {_cell(change.name)} | {field.field} | {_value(field.before)} |"
                    f" {_value(field.after)} |"
                )
    return "\n".join([*lines, ""])


def _value(value: str | Sequence[str] | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return _cell(value)
    shown = [_short_hash(v) for v in value]
    return _cell(", ".join(shown)) if shown else "-"


def _short_hash(value: str) -> str:
    algorithm, _, content = value.partition(":")
    if content and len(content) > 16:
        return f"{algorithm}:{content[:12]}…"
    return value


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
