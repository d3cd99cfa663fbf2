"""The CNCF ModelPack layout of a model, and the OCI documents mlops-ci writes and reads.

Media types and annotation keys are those of the ModelPack specification
(``modelpack/model-spec``, ``docs/spec.md``, ``docs/config.md``, ``docs/annotations.md``):

- the model manifest has ``artifactType`` ``application/vnd.cncf.model.manifest.v1+json`` and a
  config blob ``application/vnd.cncf.model.config.v1+json`` (``descriptor``, ``config``,
  ``modelfs`` with one DiffID per layer: for raw layers, the layer digest);
- every file the OMS signature covers is one raw layer (``...weight.v1.raw``, not archived, so a
  layer digest is the file's SHA-256), the model card one ``...doc.v1.raw`` layer;
- each layer's ``org.cncf.model.filepath`` is the file's path relative to the directory that holds
  the model (``m/weights.bin`` for a directory model ``m``, ``model.onnx`` for a file): a pulled
  artifact is written as the repository held it, so ``m.sig`` beside it verifies it.

Documents are canonical JSON (sorted keys, no spaces, no clock): the same model pushes the same
manifest digest. Evidence (signature, SBOM, attestation) are referrer manifests whose ``subject``
is the model manifest (OCI image-spec 1.1).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from mlops_ci.oci.errors import ArtifactError

MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
MODEL_ARTIFACT_TYPE = "application/vnd.cncf.model.manifest.v1+json"
MODEL_CONFIG_MEDIA_TYPE = "application/vnd.cncf.model.config.v1+json"
WEIGHT_MEDIA_TYPE = "application/vnd.cncf.model.weight.v1.raw"
DOC_MEDIA_TYPE = "application/vnd.cncf.model.doc.v1.raw"
FILEPATH_ANNOTATION = "org.cncf.model.filepath"
TITLE_ANNOTATION = "org.opencontainers.image.title"
EMPTY_MEDIA_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY_JSON = b"{}"

# mlops-ci's own annotations on the model manifest and its referrers.
MODEL_PATH_ANNOTATION = "dev.mlops-ci.model.path"
MODEL_DIGEST_ANNOTATION = "dev.mlops-ci.model.digest"
EVIDENCE_ANNOTATION = "dev.mlops-ci.evidence"
# Evidence roles, and the artifact type of the referrer manifest that carries each.
SIGSTORE_BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
CYCLONEDX_MEDIA_TYPE = "application/vnd.cyclonedx+json"
EVIDENCE_ARTIFACT_TYPES = {
    "signature": SIGSTORE_BUNDLE_MEDIA_TYPE,
    "attestation": SIGSTORE_BUNDLE_MEDIA_TYPE,
    "sbom": CYCLONEDX_MEDIA_TYPE,
}
ACCEPTED_MANIFESTS = (MANIFEST_MEDIA_TYPE, INDEX_MEDIA_TYPE)
# Manifests are small documents; a registry answering more is refused before it is parsed.
MAX_MANIFEST_BYTES = 4 << 20
MAX_LAYERS = 10_000


def canonical_json(document: Mapping[str, Any]) -> bytes:
    """The bytes mlops-ci pushes for a JSON document: sorted keys, compact, UTF-8."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_digest(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Descriptor:
    """An OCI content descriptor: what a blob or manifest is, its digest and size."""

    media_type: str
    digest: str
    size: int
    annotations: tuple[tuple[str, str], ...] = ()
    artifact_type: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The descriptor as the OCI JSON object."""
        found: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.annotations:
            found["annotations"] = dict(self.annotations)
        if self.artifact_type:
            found["artifactType"] = self.artifact_type
        return found

    def annotation(self, key: str) -> str | None:
        """The value of annotation ``key``, or None."""
        return dict(self.annotations).get(key)


EMPTY_DESCRIPTOR = Descriptor(EMPTY_MEDIA_TYPE, sha256_digest(EMPTY_JSON), len(EMPTY_JSON))


def model_config(name: str, layers: Sequence[Descriptor], model_format: str | None) -> bytes:
    """The ModelPack config blob: the model's name and format, one DiffID per (raw) layer."""
    config: dict[str, Any] = {"format": model_format} if model_format else {}
    return canonical_json(
        {
            "descriptor": {"name": name},
            "config": config,
            "modelfs": {"type": "layers", "diff_ids": [layer.digest for layer in layers]},
        }
    )


def model_manifest(
    config: Descriptor, layers: Sequence[Descriptor], annotations: Mapping[str, str]
) -> bytes:
    """The ModelPack model manifest for ``config`` and ``layers``."""
    return canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "artifactType": MODEL_ARTIFACT_TYPE,
            "config": config.to_json(),
            "layers": [layer.to_json() for layer in layers],
            "annotations": dict(annotations),
        }
    )


def referrer_manifest(
    subject: Descriptor, artifact_type: str, layers: Sequence[Descriptor], role: str
) -> bytes:
    """A referrer (OCI 1.1 artifact manifest with ``subject``) carrying one piece of evidence."""
    return canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "artifactType": artifact_type,
            "config": EMPTY_DESCRIPTOR.to_json(),
            "layers": [layer.to_json() for layer in layers],
            "subject": subject.to_json(),
            "annotations": {EVIDENCE_ANNOTATION: role},
        }
    )


def referrers_index(entries: Sequence[Mapping[str, Any]]) -> bytes:
    """An image index listing referrer manifests (the fallback tag's content); ``entries`` are
    descriptor objects, kept as given (other tools' fields included)."""
    return canonical_json(
        {"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": list(entries)}
    )


def fallback_tag(digest: str) -> str:
    """The referrers tag schema's tag for ``digest``: ``sha256-<hex>``."""
    algorithm, _, hex_digest = digest.partition(":")
    return f"{algorithm}-{hex_digest}"


def parse_json(data: bytes, what: str) -> dict[str, Any]:
    """A JSON object from the registry; anything else fails closed."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise ArtifactError(f"{what} is over {MAX_MANIFEST_BYTES >> 20} MiB: not a manifest")
    try:
        found = json.loads(data)
    except (ValueError, RecursionError):
        raise ArtifactError(f"{what} is not JSON") from None
    if not isinstance(found, dict):
        raise ArtifactError(f"{what} is not a JSON object")
    return found


def descriptor_from(value: Any, what: str) -> Descriptor:
    """A descriptor read from a registry document; malformed ones fail closed."""
    if not isinstance(value, dict):
        raise ArtifactError(f"{what}: a descriptor is not a JSON object")
    digest, size, media_type = value.get("digest"), value.get("size"), value.get("mediaType")
    valid_digest = isinstance(digest, str) and digest.startswith("sha256:") and len(digest) == 71
    if not valid_digest or not all(c in "0123456789abcdef" for c in str(digest)[7:]):
        raise ArtifactError(f"{what}: a descriptor's digest is not sha256:<64 hex>")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ArtifactError(f"{what}: a descriptor's size is not a non-negative integer")
    if not isinstance(media_type, str):
        raise ArtifactError(f"{what}: a descriptor has no media type")
    annotations = value.get("annotations") or {}
    if not isinstance(annotations, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in annotations.items()
    ):
        raise ArtifactError(f"{what}: a descriptor's annotations are not strings")
    artifact_type = value.get("artifactType")
    return Descriptor(
        media_type,
        str(digest),
        size,
        tuple(sorted(annotations.items())),
        artifact_type if isinstance(artifact_type, str) else None,
    )


def safe_relative_path(text: str, what: str) -> PurePosixPath:
    """A layer's file path, refused unless it stays inside the destination: relative, no ``..``,
    no empty or ``.`` part, no backslash, NUL or control character."""
    path = PurePosixPath(text)
    bad = (
        not text
        or text.startswith("/")
        or "\\" in text
        or any(ord(c) < 32 for c in text)
        or any(part in ("", ".", "..") for part in text.split("/"))
        or len(text) > 1024
    )
    if bad:
        raise ArtifactError(f"{what}: file path {text[:120]!r} would leave the destination")
    return path


@dataclass(frozen=True)
class ModelManifest:
    """A ModelPack model manifest as read from a registry: its layers and mlops-ci's notes."""

    config: Descriptor
    layers: tuple[Descriptor, ...]
    model_path: PurePosixPath
    model_digest: str | None
    name: str | None

    def layer_paths(self) -> list[tuple[PurePosixPath, Descriptor]]:
        """Each layer's (checked) file path and descriptor."""
        found = []
        for layer in self.layers:
            found.append(
                (safe_relative_path(layer.annotation(FILEPATH_ANNOTATION) or "", "a layer"), layer)
            )
        return found


def read_model_manifest(data: bytes, what: str) -> ModelManifest:
    """Check that ``data`` is a ModelPack model manifest mlops-ci can write out safely."""
    manifest = parse_json(data, what)
    if manifest.get("artifactType") != MODEL_ARTIFACT_TYPE:
        raise ArtifactError(
            f"{what} is not a ModelPack model (artifactType {str(manifest.get('artifactType'))[:80]!r})"
        )
    config = descriptor_from(manifest.get("config"), what)
    layers_value = manifest.get("layers")
    if not isinstance(layers_value, list) or not layers_value or len(layers_value) > MAX_LAYERS:
        raise ArtifactError(f"{what} has no layers, or more than {MAX_LAYERS}")
    layers = tuple(descriptor_from(layer, what) for layer in layers_value)
    annotations = manifest.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise ArtifactError(f"{what}: annotations are not a JSON object")
    model_path = safe_relative_path(str(annotations.get(MODEL_PATH_ANNOTATION) or ""), what)
    if len(model_path.parts) != 1:
        raise ArtifactError(f"{what}: the model path must be a single name")
    result = ModelManifest(
        config,
        layers,
        model_path,
        str(annotations[MODEL_DIGEST_ANNOTATION])
        if MODEL_DIGEST_ANNOTATION in annotations
        else None,
        str(annotations[TITLE_ANNOTATION]) if TITLE_ANNOTATION in annotations else None,
    )
    files: set[str] = set()
    directories: set[str] = set()
    for path, _ in result.layer_paths():
        key = path.as_posix()
        parents = {parent.as_posix() for parent in path.parents} - {"."}
        if key in files or key in directories or parents & files:
            raise ArtifactError(f"{what}: file path {key[:120]!r} is given twice")
        files.add(key)
        directories |= parents
    return result
