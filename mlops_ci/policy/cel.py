"""The thin layer over the ``cel`` package: compile with positions, evaluate without crashes."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

_POSITION = re.compile(r"<input>:(\d+):(\d+): (.*)")


class CelSyntaxError(Exception):
    """An expression that does not compile; ``line``/``column`` are 1-based within it."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


class CelEvaluationError(Exception):
    """An expression that failed at evaluation time (missing fact, wrong type, ...)."""


def compile_expression(source: str) -> Any:
    """A compiled ``cel.Program``; raises :class:`CelSyntaxError` with the position."""
    import cel

    if not isinstance(source, str) or not source.strip():
        raise CelSyntaxError("the expression is empty", 1, 1)
    _check_shape(source)
    try:
        return cel.compile(source)
    except ValueError as exc:
        text = str(exc)
        match = _POSITION.search(text)
        if match:
            return_msg = match.group(3).strip()
            raise CelSyntaxError(return_msg, int(match.group(1)), int(match.group(2))) from None
        raise CelSyntaxError(text.splitlines()[0] if text else "invalid expression", 1, 1) from None
    except BaseException as exc:  # the Rust core may panic (PanicException is a BaseException)
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise CelSyntaxError(
            f"the expression cannot be compiled ({type(exc).__name__})", 1, 1
        ) from None


MAX_EXPRESSION = 20_000  # characters
MAX_NESTING = 2_000  # operators and open brackets: a bound on the depth of the syntax tree


def _check_shape(source: str) -> None:
    """Refuse expressions deep enough to overflow the Rust parser's or evaluator's stack.

    The ``cel`` crate recurses over the syntax tree: 100,000 nested ``(``, or 20,000 chained
    ``+``, kill the whole process with a segmentation fault (measured), which no ``except``
    catches. Legitimate rules have tens of operators.
    """
    from mlops_ci.policy.celparse import nesting

    if len(source) > MAX_EXPRESSION:
        raise CelSyntaxError(
            f"the expression is {len(source):,} characters long, over {MAX_EXPRESSION:,};"
            " split the rule",
            1,
            1,
        )
    if nesting(source) > MAX_NESTING:
        raise CelSyntaxError(
            f"the expression has more than {MAX_NESTING:,} operators and brackets; split the rule",
            1,
            1,
        )


def make_context(facts: Mapping[str, Any]) -> Any:
    """A ``cel.Context`` over ``facts`` with the helper ``lookup("a.b.c", default)``."""
    import cel

    def lookup(path: str, default: Any = None) -> Any:
        current: Any = facts
        for part in str(path).split("."):
            if isinstance(current, Mapping) and part in current:
                current = current[part]
            elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
                current = current[int(part)]
            else:
                return default
        return current

    functions: dict[str, Callable[..., Any]] = {"lookup": lookup}
    return cel.Context(dict(facts), functions=functions)


def evaluate(program: Any, context: Any) -> Any:
    """Run a compiled program; any failure becomes :class:`CelEvaluationError` with a reason."""
    try:
        return program.execute(context)
    except KeyError as exc:
        raise CelEvaluationError(f"no such fact {exc.args[0]!r}") from None
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        reason = str(exc).split(". ")[0].splitlines()[0] if str(exc) else type(exc).__name__
        raise CelEvaluationError(reason[:200]) from None
