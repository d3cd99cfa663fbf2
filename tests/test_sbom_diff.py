"""``sbom diff`` and licence mapping, on small hand-written CycloneDX documents."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops_ci.sbom.diff import diff_sboms, render_json, render_markdown
from mlops_ci.sbom.licenses import bom_licenses, license_entries


def lib(name: str, version: str, licence: str = "MIT", **extra: Any) -> dict[str, Any]:
    return {
        "type": "library",
        "name": name,
        "version": version,
        "purl": f"pkg:pypi/{name}@{version}",
        "licenses": [{"license": {"id": licence}}],
        **extra,
    }


def model(file_hash: str) -> dict[str, Any]:
    return {
        "type": "machine-learning-model",
        "name": "m",
        "version": "1.0.0",
        "components": [
            {
                "type": "file",
                "name": "model.onnx",
                "hashes": [{"alg": "SHA-256", "content": file_hash}],
            }
        ],
    }


def torch(digit: str) -> dict[str, Any]:
    """A package whose only hash is on its distribution reference (as requirements give it)."""
    hashes = [{"alg": "SHA-256", "content": digit * 64}]
    reference = {"type": "distribution", "url": "https://x", "hashes": hashes}
    return lib("torch", "2.4.0", externalReferences=[reference])


def bom(*components: dict[str, Any]) -> dict[str, Any]:
    return {"bomFormat": "CycloneDX", "specVersion": "1.6", "components": list(components)}


def test_added_removed_and_each_kind_of_change() -> None:
    old = bom(
        model("a" * 64),
        lib("numpy", "2.1.3"),
        lib("six", "1.16.0"),
        lib("requests", "2.32.3", "Apache-2.0"),
        torch("1"),
    )
    new = bom(
        model("b" * 64),
        lib("numpy", "2.1.3"),
        lib("requests", "2.32.3", "GPL-3.0-only"),
        torch("2"),
        lib("pyyaml", "6.0.2"),
    )
    diff = diff_sboms(old, new, "old.json", "new.json")
    assert [c.name for c in diff.added] == ["pyyaml"]
    assert [c.name for c in diff.removed] == ["six"]
    changes = {c.name: [(f.field, f.before, f.after) for f in c.changes] for c in diff.changed}
    assert changes == {
        "m / model.onnx": [("hashes", [f"SHA-256:{'a' * 64}"], [f"SHA-256:{'b' * 64}"])],
        "requests": [("licenses", ["Apache-2.0"], ["GPL-3.0-only"])],
        "torch": [("hashes", [f"SHA-256:{'1' * 64}"], [f"SHA-256:{'2' * 64}"])],
    }
    markdown = render_markdown(diff)
    assert "1 added, 1 removed, 3 changed (6 → 6 components)" in markdown
    assert "| pyyaml | library | 6.0.2 | MIT |" in markdown
    assert "| requests | licenses | Apache-2.0 | GPL-3.0-only |" in markdown
    assert "| m / model.onnx | hashes | SHA-256:aaaaaaaaaaaa… | SHA-256:bbbbbbbbbbbb… |" in markdown
    data = json.loads(render_json(diff))
    assert data["summary"] == {
        "added": 1,
        "removed": 1,
        "changed": 3,
        "old_components": 6,
        "new_components": 6,
    }


def test_duplicate_names_are_told_apart_by_version() -> None:
    old = bom(lib("numpy", "1.26.4"), lib("numpy", "2.1.3"))
    new = bom(lib("numpy", "2.1.3"))
    diff = diff_sboms(old, new, "a", "b")
    assert [(c.name, c.version) for c in diff.removed] == [("numpy", "1.26.4")]
    assert diff.changed == ()


def test_components_without_purl_are_keyed_by_type_group_and_name() -> None:
    old = bom({"type": "data", "name": "tx", "version": "1"})
    new = bom(
        {"type": "data", "name": "tx", "version": "2"}, {"type": "data", "group": "g", "name": "tx"}
    )
    diff = diff_sboms(old, new, "a", "b")
    assert [c.name for c in diff.added] == ["g/tx"]
    assert [(c.name, c.changes[0].before, c.changes[0].after) for c in diff.changed] == [
        ("tx", "1", "2")
    ]


def test_pipes_in_names_do_not_break_the_table() -> None:
    diff = diff_sboms(bom(), bom({"type": "data", "name": "a|b"}), "a", "b")
    assert "| a\\|b | data | - | - |" in render_markdown(diff)


@pytest.mark.parametrize(
    ("values", "name", "url", "expected"),
    [
        (["apache-2.0"], None, None, [{"license": {"id": "Apache-2.0"}}]),
        (["MIT OR Apache-2.0"], None, None, [{"expression": "MIT OR Apache-2.0"}]),
        (
            ["other"],
            "Acme licence",
            "https://acme.example/l",
            [{"license": {"name": "Acme licence", "url": "https://acme.example/l"}}],
        ),
        (
            ["openrail", "mit"],
            None,
            None,
            [{"license": {"name": "openrail"}}, {"license": {"id": "MIT"}}],
        ),
        (
            ["MIT OR Apache-2.0", "bsd-3-clause"],
            None,
            None,
            [{"license": {"name": "MIT OR Apache-2.0"}}, {"license": {"id": "BSD-3-Clause"}}],
        ),
        ([" "], None, None, []),
    ],
)
def test_card_licences_become_spdx_ids_expressions_or_names(
    values: list[str], name: str | None, url: str | None, expected: list[dict[str, Any]]
) -> None:
    assert license_entries(values, name, url) == expected


def test_bom_licences_include_nested_components_and_expressions() -> None:
    document = bom(
        {**model("a" * 64), "licenses": [{"expression": "MIT OR Apache-2.0"}]},
        lib("numpy", "2.1.3", "BSD-3-Clause"),
        {"type": "data", "name": "tx", "licenses": [{"license": {"name": "proprietary"}}]},
    )
    assert bom_licenses(document) == ["BSD-3-Clause", "MIT OR Apache-2.0", "proprietary"]
