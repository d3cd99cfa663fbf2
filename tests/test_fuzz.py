"""Property-based tests: random YAML, Markdown and CEL never escape as anything but MlopsCiError."""

from __future__ import annotations

import contextlib
import json
import math

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


def _flow_yaml(data: object, tagged: int, counter: list[int]) -> str:
    """``data`` as flow-style YAML, with the custom tag ``!custom`` on node number ``tagged``."""
    index = counter[0]
    counter[0] += 1
    tag = "!custom " if index == tagged else ""
    if isinstance(data, dict):
        items = ", ".join(
            f"{json.dumps(str(k))}: {_flow_yaml(v, tagged, counter)}" for k, v in data.items()
        )
        return f"{tag}{{{items}}}"
    if isinstance(data, list):
        return f"{tag}[{', '.join(_flow_yaml(v, tagged, counter) for v in data)}]"
    if isinstance(data, float) and math.isnan(data):
        return f"{tag}.nan"
    return f"{tag}{json.dumps(data, default=str)}"


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=json_data, pick=st.integers(min_value=0, max_value=10_000), lines=st.booleans())
def test_a_custom_tag_on_any_node_is_refused_with_its_line(
    data: object, pick: int, lines: bool
) -> None:
    total = [0]
    _flow_yaml(data, -1, total)
    text = _flow_yaml(data, pick % total[0], [0])
    if lines:  # the same document spread over lines: the reported line must follow
        text = text.replace(", ", ",\n  ")
    try:
        load_yaml(text, "f.yaml")
    except MlopsCiError as exc:
        assert "YAML tag !custom is not allowed" in str(exc), str(exc)
        line = exc.position.line if exc.position else None
        assert line is not None and 1 <= line <= text.count("\n") + 1
        assert "!custom" in text.splitlines()[line - 1]
        return
    raise AssertionError(f"accepted a tagged document: {text!r}")


comprehension = st.recursive(
    st.sampled_from(["true", "x > 0", "y != 2", "size([1, 2]) > 0"]),
    lambda inner: st.tuples(
        st.sampled_from(["all", "exists", "exists_one", "map", "filter"]),
        st.integers(min_value=0, max_value=6),
        inner,
    ),
    max_leaves=4,
)


def _render(node: object, depth: int = 0) -> tuple[str, int]:
    """CEL text of a generated comprehension nest, and the product of its range sizes."""
    if isinstance(node, str):
        return node, 1
    macro, size, body = node  # type: ignore[misc]
    inner, work = _render(body, depth + 1)
    variable = "x" if depth % 2 == 0 else "y"
    if macro in ("map", "filter"):
        inner = f"({inner}) == ({inner})" if macro == "map" else inner
    text = f"[{', '.join(str(i) for i in range(size))}].{macro}({variable}, {inner})"
    if macro in ("map", "filter"):
        text = f"size({text}) >= 0"
    return text, size * work


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(node=comprehension)
def test_cost_estimate_covers_every_iteration_of_a_comprehension_nest(node: object) -> None:
    from mlops_ci.policy.cel import compile_expression, evaluate, make_context
    from mlops_ci.policy.celcost import estimate

    text, iterations = _render(node)
    cost = estimate(text, empty_facts())
    assert cost is not None, text
    assert cost >= iterations, (text, cost, iterations)
    with contextlib.suppress(Exception):  # evaluation errors are fine; the estimate is the test
        evaluate(compile_expression(text), make_context(empty_facts()))
