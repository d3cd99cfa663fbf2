"""The checks :mod:`mlops_ci.yamlio` makes before any YAML is constructed.

The text is checked for NUL bytes and schema-changing directives; composition is stopped as soon
as the document has too many or too deeply nested nodes; the composed node graph (aliases
expanded) is walked and every tag outside YAML 1.2's core schema, every merge key and every key
that is not a string is refused at its ``file:line:column``.
"""

from __future__ import annotations

import re
from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from mlops_ci.errors import InputError, SourcePosition

MAX_NODES = 50_000
MAX_DEPTH = 64

CORE = "tag:yaml.org,2002:"
# The tags of YAML 1.2's core schema, plus timestamps (waiver expiry dates): nothing else is data.
ALLOWED_TAGS = frozenset(
    CORE + name for name in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")
)
_VERSION_DIRECTIVE = re.compile(r"^%YAML[ \t]+(?!1\.2\b)(\S+)", re.MULTILINE)
_TAG_DIRECTIVE = re.compile(r"^%TAG[ \t]", re.MULTILINE)


def bound_composition(composer: Any, path: str, line_offset: int) -> None:
    """Stop composing as soon as the document has too many or too deeply nested nodes.

    Checking only the finished node graph would let a 2 MiB flat list take ~20 s to compose.
    """
    compose_node = composer.compose_node
    state = {"nodes": 0, "depth": 0}

    def bounded(parent: Any, index: Any) -> Any:
        state["nodes"] += 1
        state["depth"] += 1
        try:
            if state["nodes"] > MAX_NODES or state["depth"] > MAX_DEPTH + 1:
                mark = composer.parser.peek_event().start_mark
                what = (
                    f"more than {MAX_NODES:,} nodes"
                    if state["nodes"] > MAX_NODES
                    else f"nested more than {MAX_DEPTH} levels deep"
                )
                raise InputError(
                    f"YAML is {what}; keep configuration small and flat",
                    SourcePosition(path, mark.line + 1 + line_offset, mark.column + 1),
                )
            return compose_node(parent, index)
        finally:
            state["depth"] -= 1

    composer.compose_node = bounded


def check_text(text: str, path: str, line_offset: int) -> None:
    """Refuse what is wrong before parsing: NUL bytes, directives that change the schema."""
    nul = text.find("\0")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1 + line_offset
        raise InputError(
            "the YAML contains a NUL byte; save it as text", SourcePosition(path, line)
        )
    for pattern, what in (
        (_VERSION_DIRECTIVE, "a %YAML directive other than 1.2"),
        (_TAG_DIRECTIVE, "a %TAG directive"),
    ):
        match = pattern.search(text)
        if match:
            line = text.count("\n", 0, match.start()) + 1 + line_offset
            raise InputError(
                f"{what} is not allowed (mlops-ci reads YAML 1.2 with its core tags only);"
                " remove it",
                SourcePosition(path, line, 1),
            )


class NodeCheck:
    """Walks the composed node graph (aliases expanded) before anything is constructed."""

    def __init__(self, path: str, line_offset: int) -> None:
        self.path = path
        self.line_offset = line_offset
        self.nodes = 0

    def _refuse(self, message: str, node: Node) -> InputError:
        mark = node.start_mark
        return InputError(
            message,
            SourcePosition(self.path, mark.line + 1 + self.line_offset, mark.column + 1),
        )

    def check(self, node: Node, depth: int) -> None:
        """Refuse ``node`` (and what is under it) unless it is plain, bounded YAML 1.2 data."""
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self._refuse(
                f"YAML expands to more than {MAX_NODES:,} nodes (an alias bomb?);"
                " remove the repeated aliases",
                node,
            )
        if depth > MAX_DEPTH:
            raise self._refuse(f"YAML is nested more than {MAX_DEPTH} levels deep", node)
        tag = tag_text(node)
        if tag not in ALLOWED_TAGS:
            shown = tag.replace(CORE, "!!")[:60]
            raise self._refuse(
                f"YAML tag {shown} is not allowed: custom and language-specific tags are"
                " refused; remove the tag",
                node,
            )
        if isinstance(node, SequenceNode):
            for item in node.value:
                self.check(item, depth + 1)
        elif isinstance(node, MappingNode):
            for key, value in node.value:
                self._check_key(key)
                self.check(value, depth + 1)
        elif not isinstance(node, ScalarNode):  # pragma: no cover - ruamel has no other kinds
            raise self._refuse("unsupported YAML node", node)

    def _check_key(self, key: Node) -> None:
        tag = tag_text(key)
        if tag == CORE + "merge":
            raise self._refuse(
                "YAML merge keys (<<) are not allowed: they pull keys in from elsewhere;"
                " write the keys out",
                key,
            )
        if tag not in ALLOWED_TAGS:
            self.check(key, MAX_DEPTH)  # refuses the tag, at the key's position
        if not isinstance(key, ScalarNode) or tag != CORE + "str":
            raise self._refuse(
                "mapping keys must be strings; quote the key (e.g. '1': or 'true':)", key
            )
        self.check(key, MAX_DEPTH)


def tag_text(node: Any) -> str:
    """The resolved tag of a node (or tagged scalar) as text, e.g. ``tag:yaml.org,2002:str``."""
    tag = node.tag
    value = getattr(tag, "value", tag)  # ruamel >= 0.18 wraps tags in a Tag object
    return str(value) if value is not None else ""
