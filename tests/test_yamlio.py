"""User YAML is parsed safely, with positions, and hostile input is refused quickly."""

from __future__ import annotations

import time
from pathlib import Path

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
    start = time.process_time()
    with pytest.raises(InputError, match="alias bomb"):
        load_yaml(BILLION_LAUGHS, "bomb.yaml")
    assert time.process_time() - start < 1.0


def test_oversized_yaml_is_refused_quickly() -> None:
    text = "x: " + "a" * (20 * 1024 * 1024) + "\n"
    start = time.process_time()
    with pytest.raises(InputError, match="over the 2 MiB limit"):
        load_yaml(text, "big.yaml")
    assert time.process_time() - start < 1.0


def test_duplicate_keys_and_tags_are_refused() -> None:
    with pytest.raises(InputError, match=r"f:2:1: invalid YAML: found duplicate key"):
        load_yaml("a: 1\na: 2\n", "f")
    with pytest.raises(InputError, match="f:1:4: YAML tag !!python/object:os.system is not"):
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


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("models: !foo [a]\n", "f:1:9"),  # on a list (this crashed with exit 3)
        ("models: !foo {a: 1}\n", "f:1:9"),  # on a mapping (this was silently accepted)
        ("version: !foo 1\n", "f:1:10"),  # on a scalar
        ("a:\n  - b: !x\n      c: 1\n", "f:2:8"),  # deep inside
        ("a: !!binary aGk=\n", "f:1:4"),
        ("a: !!set {x}\n", "f:1:4"),
        ("a: !!omap [{a: 1}]\n", "f:1:4"),
        ("a: !!pairs [{a: 1}]\n", "f:1:4"),
        ("a: !!python/object/apply:os.system [id]\n", "f:1:4"),
        ("? !x k\n: v\n", "f:1:3"),  # on a key
        ("a: &x !t [1]\nb: *x\n", "f:1:4"),  # behind an anchor
    ],
)
def test_every_non_core_tag_is_refused_with_its_position(text: str, where: str) -> None:
    with pytest.raises(InputError, match=rf"^{where}: YAML tag .* is not allowed"):
        load_yaml(text, "f")


def test_explicit_core_tags_are_plain_data() -> None:
    text = "a: !!str 5\nb: !!int 7\nc: !!bool true\nd: !!map {e: !!seq [1]}\nf: ! x\n"
    assert load_yaml(text, "f").data == {"a": "5", "b": 7, "c": True, "d": {"e": [1]}, "f": "x"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("base: &b {x: 1}\nother:\n  <<: *b\n", "merge keys"),
        ("1: a\n", "keys must be strings"),
        ("true: a\n", "keys must be strings"),
        ("~: a\n", "keys must be strings"),
        ("? [a]\n: b\n", "keys must be strings"),
        ("%YAML 1.1\n---\na: yes\n", "%YAML directive"),
        ("%TAG !! tag:example.com,2000:\n---\na: !!str x\n", "%TAG directive"),
        ("a: b\0c\n", "NUL byte"),
        ("a: 1\n---\nb: 2\n", "invalid YAML"),
        ("&a [*a]\n", "nested more than"),
    ],
)
def test_constructs_that_hide_or_change_data_are_refused(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        load_yaml(text, "f")


@pytest.mark.parametrize(
    "text",
    [
        "[" * 400_000,  # deep flow nesting: no RecursionError, no exit 3
        "a:\n" + "".join(" " * (i + 1) + "a:\n" for i in range(2000)),
        "- " * 5000 + "x",
        "a: [" + "1, " * 600_000 + "]",  # a flat 1.8 MB list: stopped while composing
    ],
)
def test_deep_or_wide_documents_are_refused_quickly(text: str) -> None:
    # CPU time of this process, not wall time: the suite runs tests in parallel workers, and
    # another worker's load must not decide whether the parser stops early enough.
    start = time.process_time()
    with pytest.raises(InputError, match="nested more than|more than 50,000 nodes"):
        load_yaml(text, "f")
    assert time.process_time() - start < 5.0


def test_yaml_11_booleans_stay_strings() -> None:
    assert load_yaml("a: yes\nb: off\nc: true\n", "f").data == {"a": "yes", "b": "off", "c": True}


def test_byte_order_mark_is_dropped() -> None:
    assert load_yaml("\ufeffa: 1\n", "f").data == {"a": 1}


def test_read_yaml_file_refuses_bad_files(tmp_path: Path) -> None:
    from mlops_ci.yamlio import read_yaml_file

    good = tmp_path / "good.yaml"
    good.write_bytes(b"\xef\xbb\xbfa: 1\n")
    assert read_yaml_file(good, "good.yaml") == "a: 1\n"
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"a: 1\nb: \xff\n")
    with pytest.raises(InputError, match=r"^bad.yaml:2: the file is not UTF-8"):
        read_yaml_file(bad, "bad.yaml")
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: " + b"x" * (3 * 1024 * 1024))
    with pytest.raises(InputError, match="over the 2 MiB limit"):
        read_yaml_file(big, "big.yaml")
    with pytest.raises(InputError, match="not a regular file"):
        read_yaml_file(tmp_path, "dir")
    with pytest.raises(InputError, match="file not found"):
        read_yaml_file(tmp_path / "missing.yaml", "missing.yaml")


@pytest.mark.parametrize(
    "text", ['a: "\\0"', '"k\\x00": 1', 'a: "\\e[31mred"', "b: ['\\x07']", 'c: ["\\x7f"]']
)
def test_escaped_control_characters_are_refused(text: str) -> None:
    text = text.replace("'", '"')
    with pytest.raises(InputError, match="control character"):
        load_yaml(text, "f")


def test_tabs_and_newlines_stay_allowed() -> None:
    assert load_yaml('a: "x\\ty"\nb: |\n  1\n  2\n', "f").data == {"a": "x\ty", "b": "1\n2\n"}
