"""Environment state files: ``<state_dir>/<env>.yaml``, one entry per model.

::

    # Managed by mlops-ci: change it with `mlops-ci promote` and `mlops-ci rollback`.
    models:
      fraud-detector:
        version: 1.0.0
        artifact: models/fraud-detector/model.onnx
        digest: sha256:…                    # the OMS root digest of the model
        signature: models/fraud-detector/model.onnx.sig
        attestation: models/fraud-detector/model.onnx.attestation.sigstore.json
        promoted_from: {environment: dev, commit: 1a2b3c…}  # commit: holds artifact at digest
        promoted_at: "2026-11-22T10:00:00+00:00"
        promoted_by: ci-bot
        pinned: false

``promoted_from.commit`` is where the entry's exact bytes live: the commit whose tree holds
``artifact`` with ``digest`` (the release's own commit, carried unchanged up the ladder and into
rollbacks). ``artifact`` alone is only a path: on the default branch it may hold another model.
``git show COMMIT:ARTIFACT`` or ``mlops-ci fetch`` reads the bytes a deploy must ship.

Reading is strict (``promote/schema.py``): unknown keys, string booleans, anchors and entries of
unconfigured models are errors naming ``file:line``. Edits go through ruamel.yaml's round-trip
mode, so comments, key order and formatting survive.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import SingleQuotedScalarString

from mlops_ci.promote.schema import ambiguous, load_state_document, validate_document

HEADER = "# Managed by mlops-ci: change it with `mlops-ci promote` and `mlops-ci rollback`.\n"


@dataclass(frozen=True)
class StateEntry:
    """What one environment runs for one model."""

    version: str
    artifact: str
    digest: str
    signature: str | None = None
    attestation: str | None = None
    promoted_from: Mapping[str, str] = field(default_factory=dict)
    promoted_at: str | None = None
    promoted_by: str | None = None
    pinned: bool = False
    rollback_of: str | None = None

    def to_mapping(self) -> dict[str, Any]:
        """The entry as YAML data, in the documented key order, without empty keys."""
        values: dict[str, Any] = {
            "version": self.version,
            "artifact": self.artifact,
            "digest": self.digest,
            "signature": self.signature,
            "attestation": self.attestation,
            "promoted_from": dict(self.promoted_from) or None,
            "promoted_at": self.promoted_at,
            "promoted_by": self.promoted_by,
            "pinned": self.pinned,
            "rollback_of": self.rollback_of,
        }
        return {k: v for k, v in values.items() if v is not None}

    def same_release(self, other: StateEntry | None) -> bool:
        """Whether ``other`` runs the same bytes (digest) under the same version."""
        return other is not None and (other.digest, other.version) == (self.digest, self.version)

    def same_place(self, other: StateEntry | None) -> bool:
        """Whether ``other`` runs the same release from the same artifact (a repository path,
        or a registry reference): moving the same bytes into a registry is still a change."""
        return self.same_release(other) and other is not None and other.artifact == self.artifact


@dataclass(frozen=True)
class EnvironmentState:
    """A parsed state file."""

    environment: str
    path: str
    models: Mapping[str, StateEntry]

    def entry(self, model: str) -> StateEntry | None:
        """The entry of ``model``, if the environment runs it."""
        return self.models.get(model)


def state_path(state_dir: str, environment: str) -> str:
    """The repository-relative path of an environment's state file."""
    return f"{state_dir.rstrip('/')}/{environment}.yaml"


def parse_state(
    text: str | None, environment: str, path: str, *, models: Collection[str] | None
) -> EnvironmentState:
    """Parse a state file's text (None: the file does not exist yet) under the strict schema.

    ``models`` are the configured model names (an entry for any other name is an error); None
    skips that one check, for callers that read a file without its configuration.
    """
    if text is None or not text.strip():
        return EnvironmentState(environment, path, {})
    document = load_state_document(text, path)
    entries = validate_document(document, models)
    return EnvironmentState(environment, path, {name: _entry(raw) for name, raw in entries.items()})


def _entry(raw: dict[str, Any]) -> StateEntry:
    """A StateEntry from an entry the schema has accepted (so every type is known)."""
    return StateEntry(
        version=raw["version"],
        artifact=raw["artifact"],
        digest=raw["digest"],
        signature=raw.get("signature"),
        attestation=raw.get("attestation"),
        promoted_from=dict(raw.get("promoted_from") or {}),
        promoted_at=raw.get("promoted_at"),
        promoted_by=raw.get("promoted_by"),
        pinned=raw.get("pinned", False),
        rollback_of=raw.get("rollback_of"),
    )


def _round_trip() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    return yaml


def _quoted_if_ambiguous(value: Any) -> Any:
    """Strings that YAML 1.1 would read as another type are written quoted (see schema)."""
    if isinstance(value, dict):
        return {k: _quoted_if_ambiguous(v) for k, v in value.items()}
    if isinstance(value, str) and ambiguous(value):
        return SingleQuotedScalarString(value)
    return value


def set_entry(text: str | None, model: str, entry: StateEntry) -> str:
    """``text`` with ``model``'s entry replaced (or added), comments and order kept."""
    yaml = _round_trip()
    document = yaml.load(text) if text and text.strip() else None
    if document is None:
        document = CommentedMap()
        document.yaml_set_start_comment(HEADER.strip("# \n"))
    models = document.get("models")
    if models is None:
        models = CommentedMap()
        document["models"] = models
    new = {key: _quoted_if_ambiguous(value) for key, value in entry.to_mapping().items()}
    current = models.get(model)
    if isinstance(current, CommentedMap):
        for key in list(current):
            if key not in new:
                del current[key]
        for key, value in new.items():
            if key == "promoted_from" and isinstance(current.get(key), CommentedMap):
                current[key].clear()
                current[key].update(value)
            else:
                current[key] = value
    else:
        block = CommentedMap(new)
        if isinstance(block.get("promoted_from"), dict):
            flow = CommentedMap(block["promoted_from"])
            flow.fa.set_flow_style()
            block["promoted_from"] = flow
        models[model] = block
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()
