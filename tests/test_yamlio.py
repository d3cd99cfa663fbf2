"""User YAML is parsed safely, with positions, and hostile input is refused quickly."""

from __future__ import annotations

import time

import pytest

from mlops_ci.errors import InputError
from mlops_ci.yamlio import format_path, load_yaml

BILLION_LAUGHS = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *[
            f"{c}: &{c} [{', '.join(['*' + p] * 9)}]"
            for p, c in zip("abcdefgh", "bcdefghi", strict=True)
        ],
    ]
)


def test_positions_are_one_based_and_offset() -> None:
    doc = load_yaml("a:\n  b: [1, 2]\n", "f.yaml", line_offset=10)
    assert doc.data == {"a": {"b": [1, 2]}}
    assert doc.key_positions[("a", "b")] == (12, 3)
    assert doc.value_positions[("a", "b", 1)] == (12, 10)
    assert str(doc.position(("a", "b", 7))) == "f.yaml:12:3"  # the enclosing key


def test_yaml_12_keeps_on_as_a_string() -> None:
    assert load_yaml("on: push\n", "f").data == {"on": "push"}


def test_alias_bomb_is_refused_quickly() -> None:
    start = time.perf_counter()
    with pytest.raises(InputError, match="alias bomb"):
        load_yaml(BILLION_LAUGHS, "bomb.yaml")
    assert time.perf_counter() - start < 1.0


def test_oversized_yaml_is_refused_quickly() -> None:
    text = "x: " + "a" * (20 * 1024 * 1024) + "\n"
    start = time.perf_counter()
    with pytest.raises(InputError, match="over the 2 MiB limit"):
        load_yaml(text, "big.yaml")
    assert time.perf_counter() - start < 1.0


def test_duplicate_keys_and_tags_are_refused() -> None:
    with pytest.raises(InputError, match=r"f:2:1: invalid YAML: found duplicate key"):
        load_yaml("a: 1\na: 2\n", "f")
    with pytest.raises(InputError, match="custom YAML tag"):
        load_yaml("a: !!python/object:os.system x\n", "f")


@pytest.mark.parametrize(
    "text", ["a: 2026-13-45", "a: !!int x", "a: !!float y", "a: !!timestamp 2026-02-30"]
)
def test_bad_typed_values_are_input_errors(text: str) -> None:
    with pytest.raises(InputError, match=r"^f:1: invalid YAML value"):
        load_yaml(text, "f")


def test_format_path() -> None:
    assert format_path(("models", 0, "bench", "dims")) == "models[0].bench.dims"
    assert format_path(()) == "(document)"
