"""The jsonschema-rs SBOM validator agrees with cyclonedx-python-lib's ``JsonStrictValidator``.

The old validator (python-jsonschema) is the oracle: same documents, same verdicts, except the
two documented places where jsonschema-rs is the one that follows the RFCs. The oracle is slow
(~3 s to import and build, ~20 ms a URL), so the documents stay small.
"""

from __future__ import annotations

import copy
import functools
import json
from typing import Any

import pytest

from mlops_ci.sbom import document, schema
from mlops_ci.sbom.document import InvalidSbomError

GOOD: dict[str, Any] = {
    "$schema": document.SCHEMA_URL,
    "bomFormat": "CycloneDX",
    "specVersion": "1.6",
    "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
    "version": 1,
    "metadata": {
        "timestamp": "2026-12-03T06:00:00Z",
        "tools": {"components": [{"type": "application", "name": "mlops-ci", "version": "1"}]},
        "properties": [{"name": "mlops-ci:git:commit", "value": "abc"}],
    },
    "components": [
        {
            "type": "library",
            "bom-ref": "pkg:pypi/numpy@2.1.0",
            "name": "numpy",
            "version": "2.1.0",
            "purl": "pkg:pypi/numpy@2.1.0",
            "licenses": [{"license": {"id": "BSD-3-Clause"}}],
            "hashes": [{"alg": "SHA-256", "content": "0" * 64}],
            "externalReferences": [{"type": "website", "url": "https://numpy.org/"}],
        },
        {
            "type": "machine-learning-model",
            "bom-ref": "model",
            "name": "m",
            "supplier": {"name": "Acme", "contact": [{"email": "ml@example.com"}]},
        },
    ],
    "dependencies": [{"ref": "model", "dependsOn": ["pkg:pypi/numpy@2.1.0"]}],
}


def _with(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(GOOD)
    target: Any = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


URL = ("components", 0, "externalReferences", 0, "url")
BAD = {
    "invalid IRI": _with(URL, "http://exa mple.com/%zz"),
    "unknown property": _with(("components", 0, "colour"), "blue"),
    "wrong enum": _with(("components", 0, "type"), "lib"),
    "bad date-time": _with(("metadata", "timestamp"), "yesterday"),
    "wrong type": _with(("version",), "1"),
    "bad hash": _with(("components", 0, "hashes", 0, "content"), "xyz"),
    "unknown license id": _with(("components", 0, "licenses", 0, "license", "id"), "NOPE-1.0"),
    "wrong format name": _with(("bomFormat",), "SPDX"),
    "bad e-mail": _with(("components", 1, "supplier", "contact", 0, "email"), "no-at-sign"),
}

# URLs where python-jsonschema (rfc3987-syntax) and jsonschema-rs must agree.
IRIS = [
    "https://numpy.org/",
    "http://example.com/%2F?q=1#top",
    "http://例え.jp/パス",
    "http://example.com/?q=ü",
    "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
    "mailto:ml@example.com",
    "file:///tmp/x",
    "git+https://github.com/a/b.git",
    "pkg:pypi/numpy@1.0",
    "relative/path",
    "../x",
    "#fragment",
    "//host/path",
    "",
    "http://exa mple.com/%zz",
    "http://example.com/%zz",
    "http://example.com/%",
    "http://example.com/<>",
    "http://example.com/{x}",
    "http://example.com/|",
    "http://example.com/\\",
    "http://example.com/^",
    "http://example.com/`",
    'http://example.com/"q"',
    "http://example.com/#a#b",
    "http://host:port/",
    "http://[::1",
    "ht tp://x",
    "1http://x",
    "http://ex\u00a0ample.com",
    "ssh://git@github.com:org/repo.git",
    "git@github.com:org/repo.git",
]
# RFC 3987 allows IPv6 literal hosts; rfc3987-syntax refuses them, jsonschema-rs accepts them.
IRI_DIVERGENCES = {"http://[::1]/": True}
# python-jsonschema accepts any text with an "@" as an idn-email; jsonschema-rs checks RFC 6531.
EMAIL_DIVERGENCES = {"a b@c.d": False, "@x": False, "a@": False, "mailto:a@b.c": False}


@functools.cache
def _oracle() -> Any:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    return JsonStrictValidator(SchemaVersion.V1_6)


def _old_accepts(doc: dict[str, Any]) -> bool:
    return _oracle().validate_str(json.dumps(doc)) is None


def _new_accepts(doc: dict[str, Any]) -> bool:
    try:
        document.validate(json.dumps(doc))
    except InvalidSbomError:
        return False
    return True


def test_good_document_passes_both() -> None:
    assert _old_accepts(GOOD)
    assert _new_accepts(GOOD)


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_documents_are_refused_by_both(case: str) -> None:
    assert not _old_accepts(BAD[case])
    assert not _new_accepts(BAD[case])


def test_iris_in_a_document_get_the_same_verdict() -> None:
    disagree = [
        url for url in IRIS if _old_accepts(_with(URL, url)) != _new_accepts(_with(URL, url))
    ]
    assert disagree == []


def test_format_checks_agree_except_the_documented_divergences() -> None:
    from jsonschema import Draft7Validator

    checker = Draft7Validator.FORMAT_CHECKER
    for fmt in ("iri", "iri-reference"):
        assert [v for v in IRIS if checker.conforms(v, fmt) != schema.conforms(v, fmt)] == []
        for value, verdict in IRI_DIVERGENCES.items():
            assert schema.conforms(value, fmt) is verdict
            assert checker.conforms(value, fmt) is not verdict
    emails = ["ml@example.com", "ü@例え.jp", "a@b", "a@[1.2.3.4]", '"a b"@c.d']
    assert [v for v in emails if not schema.conforms(v, "idn-email")] == []
    assert all(checker.conforms(v, "idn-email") for v in emails)
    for value, verdict in EMAIL_DIVERGENCES.items():
        assert schema.conforms(value, "idn-email") is verdict
        assert checker.conforms(value, "idn-email") is not verdict


def test_error_message_names_the_path_and_the_problem() -> None:
    with pytest.raises(InvalidSbomError) as caught:
        document.validate(json.dumps(BAD["invalid IRI"]))
    message = str(caught.value)
    assert message.startswith(
        "the generated SBOM is not valid CycloneDX 1.6 at /components/0/externalReferences/0/url: "
    )
    assert "\n" not in message
    with pytest.raises(InvalidSbomError, match=r"at /components/0: .*'colour'"):
        document.validate(json.dumps(BAD["unknown property"]))


def test_no_ref_is_fetched_from_the_network() -> None:
    # Every $ref resolves from the bundled files: building never calls the retriever.
    assert schema.bom_validator().is_valid(GOOD)
