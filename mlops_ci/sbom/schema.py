"""The strict CycloneDX 1.6 JSON schema check, on jsonschema-rs.

The schema files are the ones cyclonedx-python-lib ships (its ``JsonStrictValidator`` uses the
same; for 1.6 the strict schema is the published one); their ``$ref`` s to the SPDX, JSF and
cryptography-definition schemas resolve from those files, never from the network. Formats are
checked (``date-time``, ``iri-reference``, ``idn-email``, ``uri``), as the strict validator does.

Why not python-jsonschema: importing it costs ~2.3 s (rfc3987-syntax builds an IRI grammar) and
its IRI check takes ~20 ms a URL, ~13 s for a 300-package SBOM; jsonschema-rs takes milliseconds.
Where the two disagree, jsonschema-rs is the stricter one on e-mail addresses (python-jsonschema
only asks for an ``@``) and follows RFC 3987 on IPv6 hosts (``http://[::1]/``), which
rfc3987-syntax refuses; tests/test_sbom_schema.py pins both.
"""

from __future__ import annotations

import json
import threading
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jsonschema_rs

_PREFIX = "http://cyclonedx.org/schema/"
_BOM_SCHEMA = "bom-1.6.SNAPSHOT.schema.json"
# Every file a 1.6 document's $refs may name, under the URI the main schema refers to it by.
_REFERENCED = (
    "spdx.SNAPSHOT.schema.json",
    "jsf-0.82.SNAPSHOT.schema.json",
    "cryptography-defs.SNAPSHOT.schema.json",
)

_lock = threading.Lock()
_built: dict[str, jsonschema_rs.Validator] = {}


class SchemaError(Exception):
    """A document does not validate: ``path`` is a JSON pointer, ``message`` one line."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def _load(name: str) -> Any:
    # cyclonedx-python-lib keeps its schemas in schema/_res (data files, not an import).
    source = resources.files("cyclonedx").joinpath("schema", "_res", name)
    return json.loads(source.read_text(encoding="utf-8"))


def _no_network(uri: str) -> Any:
    # Every $ref of the schema is in the registry; anything else must not be fetched.
    raise ValueError(f"the CycloneDX schema refers to {uri}, which is not bundled")


def bom_validator() -> jsonschema_rs.Validator:
    """The strict CycloneDX 1.6 validator, built once (~20 ms) and shared by every thread."""
    with _lock:
        if "bom" not in _built:
            import jsonschema_rs

            registry = jsonschema_rs.Registry(
                [(_PREFIX + name, _load(name)) for name in _REFERENCED], retriever=_no_network
            )
            _built["bom"] = jsonschema_rs.Draft7Validator(
                _load(_BOM_SCHEMA),
                validate_formats=True,
                registry=registry,
                retriever=_no_network,
            )
        return _built["bom"]


def check_bom(document: Any) -> None:
    """Raise :class:`SchemaError` for the first place where ``document`` (parsed JSON) breaks
    the strict CycloneDX 1.6 schema."""
    import jsonschema_rs

    try:
        bom_validator().validate(document)
    except jsonschema_rs.ValidationError as error:
        where = "/".join(str(part) for part in error.instance_path)
        message = (error.message.splitlines() or [""])[0][:300]
        raise SchemaError(f"/{where}", message) from None


def conforms(value: str, format_name: str) -> bool:
    """Whether ``value`` is a valid string of JSON Schema format ``format_name`` (``iri``,
    ``iri-reference``, ``idn-email``, ...) by the checker that validates the SBOM."""
    with _lock:
        validator = _built.get(format_name)
        if validator is None:
            import jsonschema_rs

            validator = jsonschema_rs.Draft7Validator(
                {"type": "string", "format": format_name},
                validate_formats=True,
                ignore_unknown_formats=False,
            )
            _built[format_name] = validator
    return bool(validator.is_valid(value))
