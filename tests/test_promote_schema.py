"""The strict schema of state files: one meaning per file, every refusal at ``file:line``."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_ci.errors import InputError
from mlops_ci.promote.state import StateEntry, parse_state, set_entry

DIGEST = "sha256:" + "ab" * 32
COMMIT = "c0ffee" + "0" * 34
GOOD = (
    "# Managed by mlops-ci\n"
    "models:\n"
    "  m:\n"
    "    version: 1.0.0\n"
    "    artifact: models/m/model.onnx\n"
    f"    digest: {DIGEST}\n"
    "    signature: models/m/model.onnx.sig\n"
    f"    promoted_from: {{environment: dev, commit: {COMMIT}}}\n"
    "    promoted_at: '2026-12-02T10:00:00+00:00'\n"
    "    promoted_by: ci-bot\n"
    "    pinned: false\n"
)


def parse(text: str, models: list[str] | None = None) -> StateEntry | None:
    return parse_state(text, "prod", "deploy/prod.yaml", models=models or ["m"]).entry("m")


def test_a_well_formed_file_parses() -> None:
    entry = parse(GOOD)
    assert entry is not None and entry.version == "1.0.0" and entry.pinned is False
    assert entry.promoted_from == {"environment": "dev", "commit": COMMIT}
    assert parse("models:\n  m:\n" + GOOD.split("  m:\n", 1)[1].replace("false", "true"))


def test_empty_and_comment_only_files_are_empty_states() -> None:
    for text in ("", "# nothing yet\n", "models: {}\n", "models:\n"):
        assert parse_state(text, "dev", "deploy/dev.yaml", models=["m"]).models == {}


# (replacement applied to GOOD, the message expected, the line it names)
REFUSED = [
    (("    pinned: false\n", '    pinned: "no"\n'), "pinned: expected the YAML boolean", 11),
    (("    pinned: false\n", "    pinned: 'false'\n"), "pinned: expected the YAML boolean", 11),
    (("    pinned: false\n", "    pinned: no\n"), "YAML 1.1 and YAML 1.2 readers take", 11),
    (("    pinned: false\n", "    pinned: yes\n"), "write true or false for a boolean", 11),
    (("version: 1.0.0", "version: on"), "YAML 1.1 and YAML 1.2 readers take differently", 4),
    (("version: 1.0.0", "version: 12:30"), "YAML 1.1 and YAML 1.2 readers take differently", 4),
    (("    pinned: false\n", "    pinned: 0\n"), "pinned: expected the YAML boolean", 11),
    (("    pinned: false\n", "    pinned: 1\n"), "pinned: expected the YAML boolean", 11),
    (("    pinned: false\n", "    pinned: ~\n"), "pinned: expected the YAML boolean", 11),
    (("models:\n", "colour: red\nmodels:\n"), "unknown top-level key 'colour'", 2),
    (("    pinned: false\n", "    pinned: false\n    colour: red\n"), "unknown key 'colour'", 12),
    (
        ("{environment: dev, commit:", "{environment: dev, branch: x, commit:"),
        "promoted_from: unknown key 'branch'",
        8,
    ),
    (("version: 1.0.0", "version: 1.0"), "version: expected a one-line string, got a number", 4),
    (("version: 1.0.0", "version: [1]"), "version: expected a one-line string", 4),
    ((DIGEST, "sha256:abc"), "digest: expected 'sha256:' and 64 lowercase hex", 6),
    ((DIGEST, DIGEST.upper().replace("SHA256", "sha256")), "digest: expected", 6),
    ((DIGEST, "md5:" + "a" * 32), "digest: expected", 6),
    (("artifact: models/m/model.onnx", "artifact: /etc/passwd"), "artifact: expected a path", 5),
    (
        ("artifact: models/m/model.onnx", "artifact: ../x/model.onnx"),
        "artifact: expected a path",
        5,
    ),
    (("artifact: models/m/model.onnx", "artifact: models//m"), "artifact: expected a path", 5),
    (("artifact: models/m/model.onnx", "artifact: 'a\\b'"), "artifact: expected a repository", 5),
    (
        ("promoted_by: ci-bot", 'promoted_by: "ci\\u202ebot"'),
        "promoted_by: expected a one-line",
        10,
    ),
    (("version: 1.0.0", 'version: "1.0\\n0"'), "version: expected a one-line", 4),
    (("artifact: models/m/model.onnx", "artifact: 12"), "artifact: expected a repository", 5),
    ((f"commit: {COMMIT}", "commit: c0ffee"), "promoted_from.commit: expected a full commit", 8),
    ((f"commit: {COMMIT}", "commit: 1234567"), "commit: expected a full commit id", 8),
    (("promoted_from: {", "promoted_from: ["), "invalid YAML", None),
    (
        ("    promoted_at: '2026-12-02T10:00:00+00:00'\n", "    promoted_at: 2026-12-02\n"),
        "promoted_at: expected a one-line string",
        9,
    ),
    (
        ("    promoted_by: ci-bot\n", "    promoted_by: ci-bot\n    version: 2.0.0\n"),
        "duplicate",
        None,
    ),
    (("    artifact: models/m/model.onnx\n", ""), "missing required key 'artifact'", 4),
    (("models:\n  m:\n", "m:\n"), "unknown top-level key 'm'; a model entry belongs under", 2),
    (("  m:\n", "  evil:\n"), "models.'evil': not a configured model", 3),
    (("models:\n", "models: &a\n"), "anchors are not allowed", 2),
    (("    pinned: false\n", "    pinned: !!bool false\n"), "explicit YAML tags", 11),
    (("    pinned: false\n", "    pinned: !custom false\n"), "explicit YAML tags", 11),
    (
        (
            "\n",
            "\n---\nmodels: {}\n",
        ),
        "invalid YAML",
        None,
    ),
]


@pytest.mark.parametrize(("change", "message", "line"), REFUSED, ids=[m for _, m, _ in REFUSED])
def test_schema_violations_are_errors_naming_file_and_line(
    change: tuple[str, str], message: str, line: int | None
) -> None:
    old, new = change
    assert old in GOOD
    text = GOOD.replace(old, new, 1) if old != "\n" else GOOD + new
    with pytest.raises(InputError, match=re.escape(message)) as err:
        parse(text)
    where = str(err.value).split(": ", 1)[0]
    assert where.startswith("deploy/prod.yaml:"), str(err.value)
    if line is not None:
        assert where.split(":")[1] == str(line), str(err.value)


def test_merge_keys_and_aliases_cannot_hide_a_value() -> None:
    text = (
        "base: &good {pinned: false}\n"
        "models:\n  m:\n    <<: *good\n    version: 1.0.0\n"
        f"    artifact: a\n    digest: {DIGEST}\n"
    )
    with pytest.raises(InputError, match="anchors are not allowed"):
        parse(text)
    aliased = GOOD + "other: *x\n"
    with pytest.raises(InputError, match="aliases are not allowed|invalid YAML"):
        parse(aliased)


def test_refusals_never_quote_the_value() -> None:
    planted = "hunter2-planted-value-of-a-token"  # key names over 24 characters are not shown
    for old, new in (
        ("version: 1.0.0", f"version: [{planted}]"),
        ("models:\n", f"{planted}: 1\nmodels:\n"),
    ):
        with pytest.raises(InputError) as err:
            parse(GOOD.replace(old, new, 1))
        assert planted not in str(err.value)


def test_without_a_configuration_names_are_not_checked() -> None:
    state = parse_state(GOOD.replace("  m:\n", "  other:\n"), "p", "p", models=None)
    assert set(state.models) == {"other"}


TRICKY = [
    *("yes", "no", "on", "off", "y", "n", "true", "False", "~", "null", "1.0", "1_000", "0o17"),
    *("017", "0x1F", "1e5", "1.0e+5", ".inf", "12:30", "2026-12-02", "1.0.0", "v2", "=", "-"),
]
PRINTABLE = st.text(min_size=1, max_size=20).filter(lambda v: v.isprintable())


@settings(max_examples=300, deadline=None)
@given(
    version=st.one_of(st.sampled_from(TRICKY), PRINTABLE),
    pinned=st.booleans(),
    digest=st.text("0123456789abcdef", min_size=64, max_size=64),
)
def test_what_the_tool_writes_it_reads_back(version: str, pinned: bool, digest: str) -> None:
    entry = StateEntry(
        version=version,
        artifact="models/m/model.onnx",
        digest=f"sha256:{digest}",
        promoted_from={"commit": COMMIT},
        pinned=pinned,
    )
    text = set_entry(None, "m", entry)
    assert parse(text) == entry


@settings(max_examples=500, deadline=None)
@given(
    version=st.sampled_from(TRICKY),
    by=st.sampled_from(TRICKY),
    pinned=st.sampled_from(TRICKY),
    quote=st.sampled_from(["", "'", '"']),
)
def test_what_the_schema_accepts_yaml_1_1_reads_the_same(
    version: str, by: str, pinned: str, quote: str
) -> None:
    """A differential check against PyYAML (YAML 1.1): an accepted file has one meaning."""
    import yaml as pyyaml

    text = (
        f"models:\n  m:\n    version: {quote}{version}{quote}\n    artifact: a/m.onnx\n"
        f"    digest: {DIGEST}\n    promoted_by: {quote}{by}{quote}\n    pinned: {pinned}\n"
    )
    try:
        entry = parse(text)
    except InputError:
        return
    assert entry is not None
    other = pyyaml.safe_load(text)["models"]["m"]
    assert (other["version"], other["promoted_by"], other["pinned"], other["digest"]) == (
        entry.version,
        entry.promoted_by,
        entry.pinned,
        entry.digest,
    )


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_parses_or_is_an_input_error(text: str) -> None:
    try:
        parse_state(text, "prod", "deploy/prod.yaml", models=["m"])
    except InputError as exc:
        assert str(exc).startswith("deploy/prod.yaml")
