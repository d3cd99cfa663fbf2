"""A small parser of CEL expressions into a tuple tree, for the cost estimate of :mod:`celcost`.

The ``cel`` package compiles expressions but exposes no syntax tree, and a rule's cost must be
known before it runs (the Rust evaluator holds the GIL: nothing can interrupt it from Python).
This parser follows CEL's grammar (conditional, ``||``, ``&&``, relations, ``+ -``, ``* / %``,
unary ``! -``, member access, calls, indexing, list/map/message literals, the macros). It only
has to be right about *structure*; any text it cannot parse is reported as ``None`` and the rule
is then evaluated under the hard runtime guard instead.

Nodes: ``("lit",)`` (``("lit", raw_token)`` for strings), ``("list", items)``, ``("map", entries)``, ``("ident", name)``,
``("select", obj, field)``, ``("index", obj, key)``, ``("call", name, receiver, args)``,
``("comp", macro, range, var, bodies)``, ``("unary", op, x)``, ``("binary", op, a, b)``,
``("cond", test, a, b)``, ``("struct", fields)``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

Node = tuple[Any, ...]

MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
_TOKEN = re.compile(
    r"""(?P<skip>\s+|//[^\n]*)
    |(?P<str>(?:[rR][bB]?|[bB][rR]?)?(?:'''(?:\\.|[^\\])*?'''|\"\"\"(?:\\.|[^\\])*?\"\"\"
        |'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"))
    |(?P<num>0[xX][0-9a-fA-F]+[uU]?|\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?
        |\d+[eE][+-]?\d+|\d+[uU]?)
    |(?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<op>\|\||&&|==|!=|<=|>=|[<>!+\-*/%?:.,()\[\]{}])""",
    re.VERBOSE | re.DOTALL,
)
_RELATIONS = frozenset({"<", "<=", ">", ">=", "==", "!=", "in"})
_LITERAL_WORDS = frozenset({"true", "false", "null"})
MAX_SOURCE = 100_000  # characters; longer expressions are not estimated (the guard runs them)


class _Unparsable(Exception):
    pass


def tokenize(source: str) -> list[tuple[str, str]]:
    """``(kind, text)`` pairs; raises on a character CEL does not allow."""
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(source):
        match = _TOKEN.match(source, position)
        if match is None:
            raise _Unparsable(f"unexpected character at {position}")
        kind = match.lastgroup or ""
        if kind != "skip":
            tokens.append((kind, match.group()))
        position = match.end()
    return tokens


_NESTING_OPERATORS = frozenset(
    {
        "||",
        "&&",
        "==",
        "!=",
        "<=",
        ">=",
        "<",
        ">",
        "!",
        "+",
        "-",
        "*",
        "/",
        "%",
        "?",
        ".",
        "(",
        "[",
        "{",
        "in",
    }
)
_NESTING_CHARACTERS = frozenset("()[]{}!-+*/%<>=&|?.")


@lru_cache(maxsize=4096)
def nesting(source: str) -> int:
    """An upper bound on the depth of ``source``'s syntax tree: its operators and opening
    brackets (commas and literals do not nest). Counts characters when it does not tokenize."""
    try:
        tokens = tokenize(source)
    except _Unparsable:
        return sum(1 for char in source if char in _NESTING_CHARACTERS)
    return sum(1 for kind, text in tokens if kind in ("op", "ident") and text in _NESTING_OPERATORS)


@lru_cache(maxsize=4096)
def parse(source: str) -> Node | None:
    """The syntax tree of ``source``, or None when it cannot be parsed here (cached by text)."""
    if len(source) > MAX_SOURCE:
        return None
    try:
        parser = _Parser(tokenize(source))
        node = parser.expr()
        if parser.peek() != ("end", ""):
            return None
        return node
    except (_Unparsable, RecursionError, IndexError):
        return None


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.at = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.at] if self.at < len(self.tokens) else ("end", "")

    def take(self, text: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token[0] == "end" or (text is not None and token[1] != text):
            raise _Unparsable(f"expected {text!r}")
        self.at += 1
        return token

    def accept(self, text: str) -> bool:
        if self.peek()[1] == text and self.peek()[0] in ("op", "ident"):
            self.at += 1
            return True
        return False

    def expr(self) -> Node:
        test = self.binary(0)
        if self.accept("?"):
            then = self.binary(0)
            self.take(":")
            return ("cond", test, then, self.expr())
        return test

    _LEVELS: tuple[frozenset[str], ...] = (
        frozenset({"||"}),
        frozenset({"&&"}),
        _RELATIONS,
        frozenset({"+", "-"}),
        frozenset({"*", "/", "%"}),
    )

    def binary(self, level: int) -> Node:
        if level == len(self._LEVELS):
            return self.unary()
        node = self.binary(level + 1)
        while self.peek()[1] in self._LEVELS[level] and self.peek()[0] in ("op", "ident"):
            op = self.take()[1]
            node = ("binary", op, node, self.binary(level + 1))
        return node

    def unary(self) -> Node:
        if self.peek() in (("op", "!"), ("op", "-")):
            op = self.take()[1]
            return ("unary", op, self.unary())
        return self.member()

    def member(self) -> Node:
        node = self.primary()
        while True:
            if self.accept("."):
                kind, name = self.take()
                if kind != "ident":
                    raise _Unparsable("expected a field name")
                node = self.call(name, node) if self.accept("(") else ("select", node, name)
            elif self.accept("["):
                key = self.expr()
                self.take("]")
                node = ("index", node, key)
            elif self.peek() == ("op", "{") and node[0] in ("ident", "select"):
                self.take("{")
                node = ("struct", self.entries("}", fields=True))
            else:
                return node

    def call(self, name: str, receiver: Node | None) -> Node:
        args = self.items(")")
        if receiver is not None and name in MACROS and args and args[0][0] == "ident":
            return ("comp", name, receiver, args[0][1], tuple(args[1:]))
        return ("call", name, receiver, tuple(args))

    def items(self, close: str) -> list[Node]:
        found: list[Node] = []
        while not self.accept(close):
            found.append(self.expr())
            if not self.accept(","):
                self.take(close)
                break
        return found

    def entries(self, close: str, *, fields: bool = False) -> tuple[Node, ...]:
        found: list[Node] = []
        while not self.accept(close):
            if fields:
                if self.take()[0] != "ident":
                    raise _Unparsable("expected a field name")
            else:
                found.append(self.expr())
            self.take(":")
            found.append(self.expr())
            if not self.accept(","):
                self.take(close)
                break
        return tuple(found)

    def primary(self) -> Node:
        kind, text = self.take()
        if kind == "str":
            return ("lit", text)  # the raw token: lookup("a.b") paths are read from it
        if kind == "num":
            return ("lit",)
        if kind == "ident":
            if text in _LITERAL_WORDS:
                return ("lit",)
            if self.accept("("):
                return self.call(text, None)
            return ("ident", text)
        if text == ".":  # a leading dot: the root namespace
            return self.primary()
        if text == "(":
            node = self.expr()
            self.take(")")
            return node
        if text == "[":
            return ("list", tuple(self.items("]")))
        if text == "{":
            entries = self.entries("}")
            return ("map", entries)
        raise _Unparsable(f"unexpected {text!r}")
