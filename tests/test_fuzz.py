"""Property-based tests: random YAML, Markdown and CEL never escape as anything but MlopsCiError."""

from __future__ import annotations

import contextlib
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_ci.card.validate import validate_card
from mlops_ci.errors import MlopsCiError
from mlops_ci.policy.engine import evaluate_packs
from mlops_ci.policy.facts import empty_facts
from mlops_ci.policy.pack import load_pack_text
from mlops_ci.yamlio import load_yaml

FUZZ = settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.sampled_from(["2026-01-01", "yes", "on", "~", "!!binary x", "&a", "*a", "0x1F", ".inf"]),
)
json_data = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
yaml_fragments = st.sampled_from(
    [
        "",
        "---",
        "...",
        ":",
        "- ",
        "  ",
        "\t",
        "{",
        "}",
        "[",
        "]",
        "&x ",
        "*x",
        "!!python/object:os.system ",
        "? ",
        "|",
        ">",
        "'",
        '"',
        "#",
        "%YAML 1.2",
        "governance:",
        "  owners:",
        "    - name: a",
        "model-index:",
        "license: mit",
        "\n",
        "risk_level: high",
        "approvals: [{date: x}]",
        "a: 2026-13-45",
        "b: !!int x",
        "c: !!float y",
        "d: !!timestamp 2026-02-30",
        "!!set {a}",
        "e: !!binary x",
        "f: !!omap [x]",
        "date: 9999-99-99T99:99:99",
        "? [a]\n: 1",
    ]
)
yaml_texts = st.one_of(
    st.text(max_size=200),
    st.lists(yaml_fragments, max_size=30).map("".join),
    json_data.map(lambda d: json.dumps(d, default=str)),
    st.lists(st.tuples(yaml_fragments, st.text(max_size=10)), max_size=15).map(
        lambda parts: "\n".join(a + b for a, b in parts)
    ),
)
markdown = st.lists(
    st.one_of(
        st.text(max_size=40), st.sampled_from(["# Title", "## Limitations", "```", "---", "~~~"])
    ),
    max_size=10,
).map("\n".join)
cel_tokens = st.sampled_from(
    [
        "card",
        ".",
        "governance",
        "owners",
        "size(",
        ")",
        "(",
        "&&",
        "||",
        "!",
        "==",
        "<=",
        "1",
        "2.5",
        '"x"',
        "'",
        "[",
        "]",
        "{",
        "}",
        ":",
        ",",
        "has(",
        "lookup(",
        "in",
        "?",
        "true",
        "null",
        "all(",
        "x",
        "bench.p90_ms",
        "1u",
        "-",
        "/",
        "0",
        "\\",
        "b'",
        'r"',
        "map(",
        "int(",
        "double(",
        " ",
    ]
)
cel_texts = st.one_of(st.text(max_size=40), st.lists(cel_tokens, max_size=25).map("".join))


@FUZZ
@given(front=yaml_texts, body=markdown, closed=st.booleans())
def test_card_parser_only_raises_mlops_ci_error(front: str, body: str, closed: bool) -> None:
    text = f"---\n{front}\n" + ("---\n" if closed else "") + body
    try:
        card = validate_card(text, "card.md")
    except MlopsCiError:
        return
    card.facts()  # building facts from whatever was accepted must not raise either


@FUZZ
@given(text=yaml_texts)
def test_yaml_loader_only_raises_mlops_ci_error(text: str) -> None:
    with contextlib.suppress(MlopsCiError):
        load_yaml(text, "f.yaml")


@FUZZ
@given(expr=cel_texts, when=st.one_of(st.none(), cel_texts), message=cel_texts, facts=json_data)
def test_policy_parser_and_engine_only_raise_mlops_ci_error(
    expr: str, when: str | None, message: str, facts: object
) -> None:
    rule = {
        "id": "FUZZ-1",
        "description": "d",
        "severity": "high",
        "expr": expr,
        "message": "{{ " + message + " }}",
        "remediation": "r",
    }
    if when is not None:
        rule["when"] = when
    pack_text = json.dumps({"name": "f", "version": "1", "description": "d", "rules": [rule]})
    try:
        pack = load_pack_text(pack_text, "fuzz.yaml")
    except MlopsCiError:
        return
    document = empty_facts()
    if isinstance(facts, dict):
        document.update({str(k): v for k, v in facts.items()})
    (outcome,) = evaluate_packs([pack], document)  # evaluation never raises: it fails closed
    assert outcome.outcome in ("pass", "fail", "skip", "error")
