"""The whole CycloneDX 1.6 document: metadata, ordering, serial number, validation and writing.

Reproducible by construction: components keep a stable order, the timestamp is
``SOURCE_DATE_EPOCH`` when it is set, else the time of the newest commit that changed the SBOM's
inputs (never the clock; none at all outside a repository), the serial number is a UUIDv5 of the content, and nothing that varies
from run to run (latencies, durations) is in it. So two runs over the same inputs give the same
bytes, and a signed SBOM stays valid until its inputs change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from mlops_ci.errors import UsageError
from mlops_ci.findings import GitInfo
from mlops_ci.sbom.licenses import iter_components

SCHEMA_URL = "http://cyclonedx.org/schema/bom-1.6.schema.json"
SERIAL_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/mlops-ci/mlops-ci/sbom")


class InvalidSbomError(RuntimeError):
    """The generated document does not validate: a bug in mlops-ci (exit 3), never written."""


def sbom_timestamp(
    committed_at: int | None, environ: Mapping[str, str] | None = None
) -> str | None:
    """``SOURCE_DATE_EPOCH`` (reproducible builds) when set, else ``committed_at`` (the time of
    the commit of the inputs, seconds since the epoch), as UTC ISO 8601; None when neither is known."""
    environ = os.environ if environ is None else environ
    raw = environ.get("SOURCE_DATE_EPOCH")
    if raw is None or not raw.strip():
        if committed_at is None:
            return None
        now = dt.datetime.fromtimestamp(committed_at, dt.UTC)
    else:
        try:
            now = dt.datetime.fromtimestamp(int(raw.strip()), dt.UTC)
        except (ValueError, OverflowError, OSError):
            raise UsageError(
                f"SOURCE_DATE_EPOCH={raw.strip()[:40]!r} is not a whole number of seconds since"
                " 1970-01-01; set it to e.g. $(git log -1 --format=%ct)"
            ) from None
    return now.astimezone(dt.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def assemble(
    *,
    timestamp: str | None,
    tool_version: str,
    tools: Sequence[Mapping[str, Any]],
    git: GitInfo,
    source: str,
    model: Mapping[str, Any],
    data: Sequence[Mapping[str, Any]],
    software: Sequence[Mapping[str, Any]],
    dependencies: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """The document (without serial number): model first, then datasets, then software."""
    properties = [{"name": "mlops-ci:sbom:software-source", "value": source}]
    if git.commit:
        properties.append({"name": "mlops-ci:git:commit", "value": git.commit})
    if git.remote_url:
        properties.append({"name": "mlops-ci:git:repository", "value": git.remote_url})
    mlops_ci_tool = {"type": "application", "name": "mlops-ci", "version": tool_version}
    graph = [dict(d) for d in dependencies]
    if data:
        graph.append({"ref": model["bom-ref"], "dependsOn": [d["bom-ref"] for d in data]})
    return {
        "$schema": SCHEMA_URL,
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {
            **({"timestamp": timestamp} if timestamp is not None else {}),
            "tools": {"components": [mlops_ci_tool, *tools]},
            "properties": properties,
        },
        "components": [dict(model), *data, *software],
        "dependencies": sorted(graph, key=lambda d: str(d["ref"])),
    }


def render(document: Mapping[str, Any]) -> str:
    """The document as JSON text, with a serial number derived from its content."""
    body = {k: v for k, v in document.items() if k != "serialNumber"}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    serial = uuid.uuid5(SERIAL_NAMESPACE, hashlib.sha256(canonical.encode()).hexdigest())
    ordered: dict[str, Any] = {}
    for key, value in body.items():
        ordered[key] = value
        if key == "specVersion":
            ordered["serialNumber"] = f"urn:uuid:{serial}"
    return json.dumps(ordered, indent=2, ensure_ascii=False) + "\n"


def prepare_validator() -> None:
    """Build the strict validator ahead of :func:`validate` (~20 ms; kept so callers may warm it
    while other work runs)."""
    from mlops_ci.sbom.schema import bom_validator

    bom_validator()


def validate(text: str) -> None:
    """Validate against the CycloneDX 1.6 JSON schema (strict); raise InvalidSbomError if not."""
    from mlops_ci.sbom.schema import SchemaError, check_bom

    try:
        check_bom(json.loads(text))
    except SchemaError as error:
        raise InvalidSbomError(
            f"the generated SBOM is not valid CycloneDX 1.6 at {error.path}: {error.message}"
        ) from None


def component_count(document: Mapping[str, Any]) -> int:
    """How many components the document holds, nested ones (model files) included."""
    return sum(1 for _ in iter_components(document.get("components", [])))


def digest(text: str) -> str:
    """``sha256:<hex>`` of the document's bytes as written."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
