"""Safe loading of user YAML with line and column positions.

Every YAML file a user writes (``mlops-ci.yaml``, model card front matter, policy packs, waivers,
policy tests, state files) goes through :func:`load_yaml` (and, for files, :func:`read_yaml_file`).
It uses ruamel.yaml (YAML 1.2, so ``on:`` stays a string) and returns plain Python data plus the
position of every key and value, so validation errors can name ``file:line:column``.

The document is first *composed* (a node graph, nothing constructed) and every node is checked
before anything is built, so one rule covers scalars, lists and mappings alike. Refused with a
one-line ``file:line:column`` error: oversized input, NUL bytes, alias expansion bombs ("billion
laughs"), nesting deeper than :data:`MAX_DEPTH`, duplicate keys, keys that are not strings,
merge keys (``<<``: they pull keys in from elsewhere, out of a reviewer's sight), ``%YAML``
directives other than 1.2, and every tag outside YAML 1.2's core schema (``!custom``,
``!!python/object``, ``!!binary``, ``!!set``, ``!!omap``, ``!!pairs``, ...).
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.error import MarkedYAMLError, ReusedAnchorWarning, YAMLError

from mlops_ci.errors import InputError, SourcePosition
from mlops_ci.scrub import excerpt
from mlops_ci.yamlguard import (
    CORE,
    MAX_DEPTH,
    NodeCheck,
    bound_composition,
    check_text,
    tag_text,
)

PathKey = tuple[str | int, ...]
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# A re-used anchor name is legal YAML; ruamel's warning would only clutter CI logs.
warnings.filterwarnings("ignore", category=ReusedAnchorWarning)

MAX_YAML_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class YamlDocument:
    """Plain data read from YAML, with 1-based positions of its keys and values."""

    path: str
    data: Any
    value_positions: Mapping[PathKey, tuple[int, int]] = field(default_factory=dict)
    key_positions: Mapping[PathKey, tuple[int, int]] = field(default_factory=dict)

    def position(self, loc: PathKey, *, prefer_key: bool = False) -> SourcePosition:
        """The position of ``loc``, or of the key of its nearest enclosing node that exists.

        For ``loc`` itself the value is preferred (the key with ``prefer_key``); for an enclosing
        node, its key ("governance:") is where a reader looks for a missing field.
        """
        for end in range(len(loc), -1, -1):
            prefix = loc[:end]
            key_first = prefer_key or end < len(loc)
            first, second = (
                (self.key_positions, self.value_positions)
                if key_first
                else (self.value_positions, self.key_positions)
            )
            found = first.get(prefix) or second.get(prefix)
            if found is not None:
                return SourcePosition(self.path, found[0], found[1])
        return SourcePosition(self.path, 1, 1)


def format_path(loc: PathKey) -> str:
    """Render a key path the way users read it: ``models[0].bench.dims``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(document)"


def read_yaml_file(path: Path, shown: str, *, max_bytes: int = MAX_YAML_BYTES) -> str:
    """The text of a YAML file, read safely: at most ``max_bytes`` (an oversized file is refused
    before it is read whole), UTF-8 (a byte-order mark is dropped), no NUL bytes, regular files
    only (a FIFO or device would block or never end). Raises :class:`InputError` naming ``shown``.
    """
    from mlops_ci.safepath import read_bytes  # regular files only, FIFO-safe, /proc refused

    try:
        data = read_bytes(path, what="file", position=SourcePosition(shown), max_bytes=max_bytes)
    except FileNotFoundError:
        raise InputError("file not found; check the path", SourcePosition(shown)) from None
    except OSError as exc:
        raise InputError(
            f"cannot read the file ({exc.__class__.__name__})", SourcePosition(shown)
        ) from None
    return decode_yaml_bytes(data, shown)


def decode_yaml_bytes(data: bytes, shown: str) -> str:
    """``data`` as text: UTF-8 with an optional byte-order mark; the line of a bad byte is named."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            "the file is not UTF-8 text; save it as UTF-8", SourcePosition(shown, line)
        ) from None
    return text.removeprefix("\ufeff")


def load_yaml(
    text: str, path: str, *, line_offset: int = 0, max_bytes: int = MAX_YAML_BYTES
) -> YamlDocument:
    """Parse ``text`` (the contents of ``path``) into a :class:`YamlDocument`.

    ``line_offset`` is added to every line number, for YAML embedded in a larger file such as a
    model card's front matter.
    """
    size = len(text.encode("utf-8", errors="replace"))
    if size > max_bytes:
        raise InputError(
            f"YAML is {size / 1048576:.1f} MiB, over the {max_bytes // 1048576} MiB limit;"
            " keep large data out of configuration and front matter",
            SourcePosition(path, line_offset + 1),
        )
    text = text.removeprefix("\ufeff")
    check_text(text, path, line_offset)
    yaml = YAML(typ="rt")
    try:
        constructor, _parser = yaml.get_constructor_parser(text)
        bound_composition(constructor.composer, path, line_offset)
        node = constructor.composer.get_single_node()
        if node is None:
            raw = None
        else:
            NodeCheck(path, line_offset).check(node, 0)
            raw = constructor.construct_document(node)
    except InputError:
        raise
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        pos = (
            SourcePosition(path, mark.line + 1 + line_offset, mark.column + 1)
            if mark is not None
            else SourcePosition(path, line_offset + 1)
        )
        # ``problem`` is the kind of error; ruamel's str(exc) would quote the line with a caret.
        raise InputError(f"invalid YAML: {excerpt(str(problem))}", pos) from None
    except YAMLError as exc:
        reason = excerpt(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        raise InputError(f"invalid YAML: {reason}", SourcePosition(path, line_offset + 1)) from None
    except RecursionError:
        raise InputError(
            f"YAML is nested more than {MAX_DEPTH} levels deep",
            SourcePosition(path, line_offset + 1),
        ) from None
    except (ValueError, TypeError, OverflowError, AttributeError, KeyError, IndexError) as exc:
        # ruamel's constructors raise plain exceptions for values like 2026-13-45 or !!int x.
        reason = excerpt(str(exc).splitlines()[0]) if str(exc) else type(exc).__name__
        raise InputError(
            f"invalid YAML value: {reason}", SourcePosition(path, line_offset + 1)
        ) from None
    converter = _Converter(path, line_offset)
    data = converter.convert(raw, ())
    return YamlDocument(path, data, converter.values, converter.keys)


class _Converter:
    """Turns ruamel's round-trip nodes into plain data, recording positions."""

    def __init__(self, path: str, line_offset: int) -> None:
        self.path = path
        self.line_offset = line_offset
        self.values: dict[PathKey, tuple[int, int]] = {}
        self.keys: dict[PathKey, tuple[int, int]] = {}

    def _pos(self, line: int, col: int) -> tuple[int, int]:
        return (line + 1 + self.line_offset, col + 1)

    def _refuse(self, message: str, loc: PathKey) -> InputError:
        line, col = self.values.get(loc) or self.keys.get(loc) or (self.line_offset + 1, 1)
        return InputError(message, SourcePosition(self.path, line, col))

    def _text(self, text: str, loc: PathKey) -> None:
        """Refuse control characters written as escapes ("\\0", "\\e"): a NUL ends a path early
        in C, an escape sequence rewrites a CI log line."""
        if _CONTROL.search(text):
            raise self._refuse("a value contains a control character; remove it", loc)

    def convert(self, node: Any, loc: PathKey) -> Any:
        # No budget here: NodeCheck counted every node and level of the composed graph (aliases
        # expanded) before construction, and the constructed data has no more of either.
        if isinstance(node, CommentedMap):
            if loc not in self.values:
                self.values[loc] = self._pos(node.lc.line, node.lc.col)
            out: dict[str, Any] = {}
            for key, value in node.items():
                if not isinstance(key, str | int | float | bool) or isinstance(key, TaggedScalar):
                    raise self._refuse("mapping keys must be plain scalars", loc)
                skey = str(key) if not isinstance(key, str) else key
                child = (*loc, skey)
                kline, kcol = node.lc.key(key)
                self.keys[child] = self._pos(kline, kcol)
                self._text(skey, child)
                vpos = node.lc.value(key)
                if vpos is not None and vpos[0] is not None:
                    self.values[child] = self._pos(vpos[0], vpos[1])
                out[skey] = self.convert(value, child)
            return out
        if isinstance(node, CommentedSeq):
            if loc not in self.values:
                self.values[loc] = self._pos(node.lc.line, node.lc.col)
            items = []
            for index, value in enumerate(node):
                child = (*loc, index)
                iline, icol = node.lc.item(index)
                self.values[child] = self._pos(iline, icol)
                items.append(self.convert(value, child))
            return items
        if isinstance(node, str):
            self._text(node, loc)
        if isinstance(node, TaggedScalar):
            # Only an explicit core tag gets here (others are refused before construction).
            if tag_text(node) != CORE + "str":
                raise self._refuse(f"YAML tag {tag_text(node)[:60]} is not allowed", loc)
            return str(node.value)
        return _plain_scalar(node)


def _plain_scalar(node: Any) -> Any:
    if node is None or isinstance(node, bool):
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, dt.datetime):
        return dt.datetime(
            node.year,
            node.month,
            node.day,
            node.hour,
            node.minute,
            node.second,
            node.microsecond,
            tzinfo=node.tzinfo,
        )
    if isinstance(node, dt.date):
        return dt.date(node.year, node.month, node.day)
    if isinstance(node, set | frozenset):
        return sorted(str(item) for item in node)
    return str(node)
