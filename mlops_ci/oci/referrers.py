"""OCI 1.1 referrers: listed through the registry's API when it has one, else through the image
spec's fallback, the ``sha256-<hex>`` tag holding an image index of the referrer manifests.

The referrers API answers ``GET /v2/<name>/referrers/<digest>`` with 200 and an index; a registry
without it answers 404, and the fallback tag is read instead. Writing: a registry with the API
answers the ``PUT`` of a manifest with a ``subject`` with an ``OCI-Subject`` header and indexes it
itself; without that header the client adds the referrer to the fallback index.
"""

from __future__ import annotations

from typing import Any

from mlops_ci.oci.client import RegistryClient
from mlops_ci.oci.errors import ArtifactError, RegistryError
from mlops_ci.oci.modelpack import (
    INDEX_MEDIA_TYPE,
    MAX_MANIFEST_BYTES,
    Descriptor,
    descriptor_from,
    fallback_tag,
    parse_json,
    referrers_index,
)

# Read-modify-write of the fallback index races with other writers: redone this many times.
INDEX_WRITE_TRIES = 3


def list_referrers(
    client: RegistryClient, subject: str, *, what: str
) -> tuple[list[Descriptor], str]:
    """The referrers of manifest ``subject`` and where they came from: ``api`` (the referrers
    endpoint) or ``tag`` (the fallback index; none at all when the tag does not exist)."""
    response = client.request(
        "GET",
        f"/referrers/{subject}",
        what=what,
        headers={"Accept": INDEX_MEDIA_TYPE},
        stream=True,
        ok=(200, 404),
    )
    with response:
        api = response.status_code == 200
        data = bytes(response.raw.read(MAX_MANIFEST_BYTES + 1, decode_content=True))
    if not api:
        found = client.get_manifest(
            fallback_tag(subject), what=what, accept=(INDEX_MEDIA_TYPE,), missing_ok=True
        )
        if found is None:
            return [], "tag"
        data = found[0]
    manifests = parse_json(data, f"{what}: the referrers index").get("manifests") or []
    if not isinstance(manifests, list):
        raise ArtifactError(f"{what}: the referrers index lists no manifests")
    return [descriptor_from(m, what) for m in manifests], "api" if api else "tag"


def _fallback_entries(client: RegistryClient, tag: str, what: str) -> list[dict[str, Any]]:
    found = client.get_manifest(tag, what=what, accept=(INDEX_MEDIA_TYPE,), missing_ok=True)
    if found is None:
        return []
    listed = parse_json(found[0], f"{what}: the referrers index").get("manifests")
    entries = [m for m in listed or [] if isinstance(m, dict)]
    for entry in entries:
        descriptor_from(entry, what)  # a malformed index is refused, not rewritten blindly
    return entries


def add_to_fallback_index(
    client: RegistryClient, subject: str, referrer: Descriptor, *, what: str
) -> None:
    """Add ``referrer`` to ``subject``'s fallback index (read, modify, write), keeping the
    entries other tools put there as they are; the write is read back and redone when a
    concurrent writer's index replaced it."""
    tag = fallback_tag(subject)
    for _ in range(INDEX_WRITE_TRIES):
        entries = _fallback_entries(client, tag, what)
        if any(entry.get("digest") == referrer.digest for entry in entries):
            return
        index = referrers_index([*entries, referrer.to_json()])
        client.put_manifest(index, INDEX_MEDIA_TYPE, tag, what=what)
    if any(
        entry.get("digest") == referrer.digest for entry in _fallback_entries(client, tag, what)
    ):
        return
    raise RegistryError(
        f"{what}: the referrers index {tag} kept changing under concurrent writers; push again"
    )
