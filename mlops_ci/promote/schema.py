"""The strict schema of environment state files (``<state_dir>/<env>.yaml``).

A state file decides what runs in production, and ``promote verify`` judges a pull request by
what it parses to, so the file may mean exactly one thing and a reviewer must be able to read
that meaning off the text. Hence:

- only ``models:`` at the top level, only the documented keys in an entry and in
  ``promoted_from``; a model entry anywhere else is an error, never ignored;
- values have one type each: ``pinned`` is a YAML boolean (``true``/``false``; the strings
  ``"no"``, ``'false'``, ``yes`` under YAML 1.2, and ``0``/``1`` are refused), versions and
  commits are strings, a digest is ``sha256:`` and 64 lowercase hex digits, paths are
  repository-relative POSIX paths without ``..``;
- no anchors, aliases, merge keys (``<<``) or explicit tags: mlops-ci never writes them, and each
  lets the text a reviewer reads differ from the value the tool uses;
- model names must be configured models (when the caller knows the configuration).

Every refusal is an :class:`InputError` naming ``file:line``; no value from the file is quoted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from functools import cache
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceStartEvent,
)

from mlops_ci.errors import InputError, SourcePosition
from mlops_ci.yamlio import YamlDocument, load_yaml

TOP_LEVEL_KEYS = ("models",)
ENTRY_KEYS = (
    "version",
    "artifact",
    "digest",
    "signature",
    "attestation",
    "promoted_from",
    "promoted_at",
    "promoted_by",
    "pinned",
    "rollback_of",
)
SOURCE_KEYS = ("environment", "commit")
REQUIRED_KEYS = ("version", "artifact", "digest")
OCI_SCHEME = "oci://"
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
COMMIT = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")  # SHA-1 or SHA-256 object names
MAX_TEXT = 256
MAX_PATH = 1024
_MERGE_KEY = "<<"


def check_syntax(text: str, path: str) -> None:
    """Refuse directives, anchors, aliases, merge keys and explicit tags before parsing values."""
    try:
        for event in YAML(typ="rt").parse(text):
            line = event.start_mark.line + 1 if event.start_mark is not None else 1
            where = SourcePosition(path, line)
            if isinstance(event, DocumentStartEvent) and (event.version or event.tags):
                raise InputError(
                    "%YAML and %TAG directives are not allowed in a state file (they change"
                    " what the values mean)",
                    where,
                )
            if isinstance(event, AliasEvent):
                raise InputError("YAML aliases are not allowed in a state file", where)
            if isinstance(event, ScalarEvent | MappingStartEvent | SequenceStartEvent):
                if event.anchor is not None:
                    raise InputError("YAML anchors are not allowed in a state file", where)
                if event.tag is not None:
                    raise InputError("explicit YAML tags are not allowed in a state file", where)
            if isinstance(event, ScalarEvent) and event.style is None:
                if event.value == _MERGE_KEY:
                    raise InputError("YAML merge keys (<<) are not allowed in a state file", where)
                if ambiguous(event.value):
                    raise InputError(
                        "a plain value that YAML 1.1 and YAML 1.2 readers take differently"
                        " (yes/no/on/off, 12:30, 0o17, 1e5...): write true or false for a"
                        " boolean, quote a string",
                        where,
                    )
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise InputError(
            f"invalid YAML: {exc.problem or exc.context or 'syntax error'}",
            SourcePosition(path, line, (mark.column + 1) if mark is not None else None),
        ) from None
    except YAMLError:
        raise InputError("invalid YAML", SourcePosition(path, 1)) from None


def ambiguous(value: str) -> bool:
    """Whether a plain scalar means different things to YAML 1.1 and YAML 1.2 readers.

    State files are read by other tools too (deployment scripts, PyYAML is YAML 1.1); a value
    must mean the same to all of them, so a plain ``on`` or ``12:30`` must be quoted.
    """
    yaml12, yaml11 = _resolvers()
    return bool(yaml12(value) != yaml11(value))


@cache
def _resolvers() -> tuple[Callable[[str], Any], Callable[[str], Any]]:
    import yaml as pyyaml  # PyYAML: the YAML 1.1 reading
    from ruamel.yaml.nodes import ScalarNode
    from ruamel.yaml.resolver import VersionedResolver

    resolver12 = VersionedResolver(version=(1, 2))
    resolver11 = pyyaml.resolver.Resolver()
    return (
        lambda v: resolver12.resolve(ScalarNode, v, (True, False)),
        lambda v: resolver11.resolve(pyyaml.ScalarNode, v, (True, False)),
    )


def validate_document(
    document: YamlDocument, models: Collection[str] | None
) -> dict[str, dict[str, Any]]:
    """The ``models`` mapping of a parsed state file, every entry checked against the schema."""
    data = document.data
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(
            "a state file must be a mapping with one key, 'models:', of model name to entry",
            document.position(()),
        )
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            hint = (
                "; a model entry belongs under 'models:'"
                if isinstance(data[key], dict)
                else "; the only top-level key is 'models:'"
            )
            raise InputError(
                f"unknown top-level key {_shown(key)}{hint}",
                document.position((key,), prefer_key=True),
            )
    raw_models = data.get("models")
    if raw_models is None:
        return {}
    if not isinstance(raw_models, dict):
        raise InputError(
            "'models:' must be a mapping of model name to entry", document.position(("models",))
        )
    for name, raw in raw_models.items():
        _check_entry(document, name, raw, models)
    return raw_models


def _check_entry(
    document: YamlDocument, name: str, raw: Any, models: Collection[str] | None
) -> None:
    here = ("models", name)
    if models is not None and name not in models:
        raise InputError(
            f"models.{_shown(name)}: not a configured model (mlops-ci.yaml 'models:');"
            " a state file holds only configured models",
            document.position(here, prefer_key=True),
        )
    if not isinstance(raw, dict):
        raise InputError(
            f"models.{name}: expected a mapping of entry fields", document.position(here)
        )
    for key in raw:
        if key not in ENTRY_KEYS:
            raise InputError(
                f"models.{name}: unknown key {_shown(key)}; allowed: {', '.join(ENTRY_KEYS)}",
                document.position((*here, key), prefer_key=True),
            )
    for key in REQUIRED_KEYS:
        if key not in raw:
            raise InputError(
                f"models.{name}: missing required key {key!r}", document.position(here)
            )
    for key in ("version", "promoted_at", "promoted_by", "rollback_of"):
        if key in raw:
            _text(document, (*here, key), raw[key], f"models.{name}.{key}")
    if is_oci_artifact(raw["artifact"]):
        _check_oci_entry(document, name, raw)
    for key in ("artifact", "signature", "attestation"):
        if key in raw and not (key == "artifact" and is_oci_artifact(raw[key])):
            check_relative_path(raw[key], f"models.{name}.{key}", document.position((*here, key)))
    digest = raw["digest"]
    if not isinstance(digest, str) or not DIGEST.fullmatch(digest):
        raise InputError(
            f"models.{name}.digest: expected 'sha256:' and 64 lowercase hex digits{_got(digest)}",
            document.position((*here, "digest")),
        )
    if "pinned" in raw and not isinstance(raw["pinned"], bool):
        raise InputError(
            f"models.{name}.pinned: expected the YAML boolean true or false{_got(raw['pinned'])}"
            " (quoted or yes/no words are strings in YAML 1.2)",
            document.position((*here, "pinned")),
        )
    if "promoted_from" in raw:
        _check_source(document, name, raw["promoted_from"])


def is_oci_artifact(value: Any) -> bool:
    """Whether a state entry's ``artifact`` names an artifact in an OCI registry."""
    return isinstance(value, str) and value.startswith(OCI_SCHEME)


def _check_oci_entry(document: YamlDocument, name: str, raw: dict[str, Any]) -> None:
    """An artifact in a registry: named by manifest digest, its evidence the referrers."""
    from mlops_ci.oci.errors import OciError
    from mlops_ci.oci.reference import parse_reference

    where = document.position(("models", name, "artifact"))
    try:
        text = raw["artifact"]
        reference = parse_reference(text) if _printable(text, MAX_PATH) else None
    except OciError:  # its message quotes the value: a state file's values are never quoted
        reference = None
    if reference is None or reference.tag is not None or reference.digest is None:
        raise InputError(
            f"models.{name}.artifact: a state entry names an artifact in a registry by digest"
            " only (a tag can move); write oci://HOST[:PORT]/REPOSITORY@sha256:HEX, the digest"
            " `mlops-ci push` prints",
            where,
        )
    for key in ("signature", "attestation"):
        if key in raw:
            raise InputError(
                f"models.{name}.{key}: an artifact in a registry carries its evidence as OCI"
                f" referrers; remove '{key}'",
                document.position(("models", name, key), prefer_key=True),
            )


def _check_source(document: YamlDocument, name: str, source: Any) -> None:
    here = ("models", name, "promoted_from")
    if not isinstance(source, dict):
        raise InputError(
            f"models.{name}.promoted_from: expected a mapping with 'environment' and/or 'commit'",
            document.position(here),
        )
    for key in source:
        if key not in SOURCE_KEYS:
            raise InputError(
                f"models.{name}.promoted_from: unknown key {_shown(key)};"
                f" allowed: {', '.join(SOURCE_KEYS)}",
                document.position((*here, key), prefer_key=True),
            )
    if "environment" in source:
        _text(document, (*here, "environment"), source["environment"], f"{here[-1]}.environment")
    if "commit" in source:
        commit = source["commit"]
        if not isinstance(commit, str) or not COMMIT.fullmatch(commit):
            raise InputError(
                f"models.{name}.promoted_from.commit: expected a full commit id (40 or 64"
                f" lowercase hex digits){_got(commit)}",
                document.position((*here, "commit")),
            )


def check_relative_path(value: Any, field: str, where: SourcePosition) -> str:
    """``value`` if it is a repository-relative POSIX path (no ``..``, no absolute, no ``\\``)."""
    if not isinstance(value, str) or not _printable(value, MAX_PATH) or "\\" in value:
        raise InputError(
            f"{field}: expected a repository-relative path (printable, '/'-separated, at most"
            f" {MAX_PATH} characters){_got(value)}",
            where,
        )
    parts = value.rstrip("/").split("/")
    if value.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise InputError(
            f"{field}: expected a path inside the repository, without '.', '..' or '//'", where
        )
    return value


def _text(document: YamlDocument, loc: tuple[str, ...], value: Any, field: str) -> None:
    if not _printable(value, MAX_TEXT):
        raise InputError(
            f"{field}: expected a one-line string{_got(value)} (quote it)",
            document.position(loc),
        )


def _printable(value: Any, limit: int) -> bool:
    """A non-empty one-line string of printable characters (no controls, no bidi overrides)."""
    return isinstance(value, str) and 0 < len(value) <= limit and value.isprintable()


def _got(value: Any) -> str:
    """The type of a refused value, never the value itself (it may be anything)."""
    if isinstance(value, bool):
        return ", got a boolean"
    if isinstance(value, int | float):
        return ", got a number"
    if isinstance(value, str):
        return ", got a string"
    if value is None:
        return ", got nothing"
    return f", got a {'mapping' if isinstance(value, dict) else 'list' if isinstance(value, list) else 'value'}"


def _shown(key: Any) -> str:
    """A key for a message: a short plain name, else just 'this key' (a key may be anything)."""
    text = str(key)
    return repr(text) if re.fullmatch(r"[A-Za-z0-9_.-]{1,24}", text) else "(this key)"


def load_state_document(text: str, path: str) -> YamlDocument:
    """Parse a state file's text (syntax rules first, then YAML with positions)."""
    check_syntax(text, path)
    return load_yaml(text, path)
