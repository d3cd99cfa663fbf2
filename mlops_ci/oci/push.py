"""``push``: a packed model to a registry as a ModelPack artifact, its evidence as referrers.

Order: blobs (in parallel, each skipped when the registry has it), the config, the model manifest
(under the tag, or by digest), then one referrer manifest per piece of evidence. A registry with
the OCI 1.1 referrers API indexes a referrer itself (it answers ``OCI-Subject``); otherwise the
referrer is added to the ``sha256-<hex>`` tag's index, as the image spec's fallback says.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from mlops_ci.config import LoadedConfig
from mlops_ci.oci.client import Progress, RegistryClient, RegistryOptions
from mlops_ci.oci.modelpack import (
    EMPTY_DESCRIPTOR,
    EMPTY_JSON,
    EVIDENCE_ANNOTATION,
    EVIDENCE_ARTIFACT_TYPES,
    FILEPATH_ANNOTATION,
    MANIFEST_MEDIA_TYPE,
    MODEL_CONFIG_MEDIA_TYPE,
    MODEL_DIGEST_ANNOTATION,
    MODEL_PATH_ANNOTATION,
    TITLE_ANNOTATION,
    Descriptor,
    model_config,
    model_manifest,
    referrer_manifest,
    sha256_digest,
)
from mlops_ci.oci.pack import PackedModel, file_sha256, pack_model
from mlops_ci.oci.reference import OciReference
from mlops_ci.oci.referrers import add_to_fallback_index


@dataclass(frozen=True)
class PushedReferrer:
    """One piece of evidence attached: its role, manifest digest and how it was indexed."""

    role: str
    digest: str
    indexed_by: str


@dataclass(frozen=True)
class PushedArtifact:
    """What ``push`` did: the pinned reference, the manifest digest, what moved and what not."""

    reference: OciReference
    digest: str
    model_digest: str | None
    uploaded_blobs: int
    skipped_blobs: int
    uploaded_bytes: int
    referrers: tuple[PushedReferrer, ...]


def push_model(
    loaded: LoadedConfig,
    name: str,
    destination: OciReference,
    options: RegistryOptions | None = None,
    progress: Progress | None = None,
) -> PushedArtifact:
    """Pack configured model ``name`` (:func:`~mlops_ci.oci.pack.pack_model`) and push it."""
    options = options or RegistryOptions()
    return push_packed(
        pack_model(loaded, name, workers=options.workers), destination, options, progress
    )


def total_bytes(packed: PackedModel) -> int:
    """The bytes ``push`` may send for ``packed`` (for a progress bar)."""
    return sum(f.size for f in packed.files)


def push_packed(
    packed: PackedModel,
    destination: OciReference,
    options: RegistryOptions | None = None,
    progress: Progress | None = None,
) -> PushedArtifact:
    """Push ``packed`` to ``destination`` (its tag, if any, is moved to the new manifest)."""
    options = options or RegistryOptions()
    if destination.digest is not None:
        from mlops_ci.oci.errors import OciError

        raise OciError(
            f"push --to {destination}: a digest names existing bytes; give a tag or no tag"
        )
    client = RegistryClient(destination, options)
    layers = [
        Descriptor(f.media_type, f.digest, f.size, ((FILEPATH_ANNOTATION, f.name),))
        for f in packed.files
    ]

    def send(index: int) -> tuple[bool, int]:
        """Upload file ``index`` unless the registry has it: (sent, bytes sent)."""
        file = packed.files[index]
        sent = client.upload_blob(
            file.source, file.digest, file.size, what=f"uploading {file.name}", progress=progress
        )
        return sent, file.size if sent else 0

    with ThreadPoolExecutor(max_workers=max(1, options.workers)) as pool:
        outcomes = list(pool.map(send, range(len(packed.files))))
    config = model_config(packed.name, layers, packed.model_format)
    config_descriptor = Descriptor(MODEL_CONFIG_MEDIA_TYPE, sha256_digest(config), len(config))
    client.upload_blob(config, config_descriptor.digest, len(config), what="uploading the config")
    annotations = {TITLE_ANNOTATION: packed.name, MODEL_PATH_ANNOTATION: packed.model_path}
    if packed.model_digest:
        annotations[MODEL_DIGEST_ANNOTATION] = packed.model_digest
    manifest = model_manifest(config_descriptor, layers, annotations)
    digest = sha256_digest(manifest)
    client.put_manifest(
        manifest,
        MANIFEST_MEDIA_TYPE,
        destination.tag or digest,
        what=f"storing the manifest of {packed.name}",
    )
    subject = Descriptor(MANIFEST_MEDIA_TYPE, digest, len(manifest))
    referrers = tuple(attach_evidence(client, subject, packed))
    sent = [outcome for outcome in outcomes if outcome[0]]
    return PushedArtifact(
        destination.pinned(digest),
        digest,
        packed.model_digest,
        len(sent),
        len(outcomes) - len(sent),
        sum(size for _, size in sent),
        referrers,
    )


def attach_evidence(
    client: RegistryClient, subject: Descriptor, packed: PackedModel
) -> list[PushedReferrer]:
    """Push one referrer manifest per piece of ``packed.evidence``, indexed either way."""
    client.upload_blob(
        EMPTY_JSON, EMPTY_DESCRIPTOR.digest, EMPTY_DESCRIPTOR.size, what="uploading an empty config"
    )
    attached = []
    for evidence in packed.evidence:
        layers = []
        for title, media_type, path in evidence.files:
            digest, size = file_sha256(path)
            client.upload_blob(path, digest, size, what=f"uploading {title}")
            layers.append(Descriptor(media_type, digest, size, ((TITLE_ANNOTATION, title),)))
        artifact_type = EVIDENCE_ARTIFACT_TYPES[evidence.role]
        manifest = referrer_manifest(subject, artifact_type, layers, evidence.role)
        digest = sha256_digest(manifest)
        what = f"attaching the {evidence.role}"
        indexed = client.put_manifest(manifest, MANIFEST_MEDIA_TYPE, digest, what=what)
        descriptor = Descriptor(
            MANIFEST_MEDIA_TYPE,
            digest,
            len(manifest),
            ((EVIDENCE_ANNOTATION, evidence.role),),
            artifact_type,
        )
        if not indexed:
            add_to_fallback_index(client, subject.digest, descriptor, what=what)
        attached.append(PushedReferrer(evidence.role, digest, "api" if indexed else "tag"))
    return attached
