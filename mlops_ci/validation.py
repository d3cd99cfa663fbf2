"""Turning pydantic validation errors into one-line messages with ``file:line:column``.

Shared by the configuration and the model card: both are pydantic models validated from YAML
read by :mod:`mlops_ci.yamlio`, so every error can point at the key or value it is about.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from mlops_ci.errors import SourcePosition
from mlops_ci.scrub import excerpt
from mlops_ci.yamlio import PathKey, YamlDocument, format_path

_EXPECTED = {
    "dict_type": "a mapping",
    "list_type": "a list",
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "date_type": "a date (YYYY-MM-DD)",
    "date_parsing": "a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "a date (YYYY-MM-DD)",
}


@dataclass(frozen=True)
class FieldProblem:
    """One validation error: what kind, where in the data, where in the file, and the message."""

    kind: str  # pydantic's error type: "extra_forbidden", "missing", "string_type", ...
    loc: PathKey
    position: SourcePosition
    message: str


def did_you_mean(word: str, choices: list[str]) -> str:
    """A ``; did you mean 'x'?`` suffix when ``word`` is close to one of ``choices``."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def describe_errors(
    exc: ValidationError, document: YamlDocument, root: type[BaseModel], *, prefix: PathKey = ()
) -> list[FieldProblem]:
    """Every error of ``exc``, unknown keys first (a typo often also causes a "missing" error).

    ``prefix`` is prepended to locations when the validated data sits below the document's root.
    """
    problems = []
    errors = sorted(exc.errors(include_url=False), key=lambda e: e["type"] != "extra_forbidden")
    for error in errors:
        loc: PathKey = (*prefix, *error["loc"])
        inner: PathKey = tuple(error["loc"])
        problems.append(_describe(error, loc, inner, document, root))
    return problems


def _describe(
    error: Any, loc: PathKey, inner: PathKey, document: YamlDocument, root: type[BaseModel]
) -> FieldProblem:
    kind = error["type"]
    field = format_path(loc)
    if kind == "extra_forbidden":
        key = str(loc[-1])
        hint = did_you_mean(key, known_keys(root, inner[:-1]))
        where = format_path(loc[:-1]) if loc[:-1] else "top level"
        position = document.position(loc, prefer_key=True)
        return FieldProblem(kind, loc, position, f"{where}: unknown key {excerpt(key, 40)!r}{hint}")
    if kind == "missing":
        where = format_path(loc[:-1]) or "top level"
        position = document.position(loc[:-1])
        return FieldProblem(kind, loc, position, f"{where}: missing required key {loc[-1]!r}")
    if kind in _EXPECTED:
        description = field_description(root, inner) or _EXPECTED[kind]
        got = error.get("input")
        message = f"{field}: expected {description}, got {_kind_of_value(got)}"
    elif kind in ("value_error", "assertion_error") and "ctx" in error:
        message = f"{field}: {excerpt(str(error['ctx'].get('error', error['msg'])), 200)}"
    else:
        message = f"{field}: {excerpt(error['msg'][:1].lower() + error['msg'][1:], 200)}"
    return FieldProblem(kind, loc, document.position(loc), message)


def _kind_of_value(value: Any) -> str:
    """What a wrong value is, without quoting text: the file may hold anything (a path may
    have pointed at a credential file), and file:line:column already shows where it is."""
    if isinstance(value, bool) or value is None or isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return f"text ({len(value)} characters)" if value else "empty text"
    return type(value).__name__


def model_at(root: type[BaseModel], loc: PathKey) -> Any:
    """The model class or annotation reached by walking ``loc`` down from ``root``."""
    current: Any = root
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = _field_by_name_or_alias(current, str(part))
            if field is None:
                return None
            current = field.annotation
        elif get_origin(current) in (list, dict):
            current = get_args(current)[-1]
        else:
            return None
    return _unwrap(current)


def _field_by_name_or_alias(model: type[BaseModel], key: str) -> Any:
    for name, field in model.model_fields.items():
        if key in (name, field.alias):
            return field
    return None


def _unwrap(annotation: Any) -> Any:
    origin = get_origin(annotation)
    if origin in (list, dict):
        return annotation
    args = [a for a in get_args(annotation) if a is not type(None)]
    if origin is Annotated:
        return args[0]
    models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
    if len(models) == 1:
        return models[0]
    lists = [a for a in args if get_origin(a) is list]
    if len(args) == 1 or (lists and len(lists) == 1 and not models):
        return lists[0] if lists else args[0]
    return annotation


def known_keys(root: type[BaseModel], loc: PathKey) -> list[str]:
    """The keys allowed at ``loc`` (field names and aliases)."""
    model = model_at(root, loc)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [f.alias or n for n, f in model.model_fields.items()]
    return []


def field_description(root: type[BaseModel], loc: PathKey) -> str | None:
    """A field's description when it reads as "expected <description>"."""
    if not loc or not isinstance(loc[-1], str):
        return None
    parent = model_at(root, loc[:-1])
    if isinstance(parent, type) and issubclass(parent, BaseModel):
        field = _field_by_name_or_alias(parent, loc[-1])
        text = field.description if field is not None else None
        if text and text.startswith(("a ", "an ", "one of")):
            return str(text)
    return None
