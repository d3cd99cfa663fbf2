"""``pull``: a ModelPack artifact and its evidence into a new directory, all or nothing.

Everything goes into a temporary directory beside the destination; each blob is streamed to disk
and its digest and size checked as it arrives; only when every file is in and verified is the
temporary directory renamed to the destination. A failure removes the temporary directory, so
``--to DIR`` never holds a half-written or unverified file.

Layout (as the repository held the model, so ``mlops-ci verify`` and upstream
``model_signing verify`` work on it): the model's files at their ``org.cncf.model.filepath``
(``DIR/m/...`` or ``DIR/model.onnx``), the card beside them, the OMS signature at ``DIR/m.sig``,
the gate-report attestation at ``DIR/m.attestation.sigstore.json``, the SBOM and its bundle under
their own names.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mlops_ci.oci.client import Progress, RegistryClient, RegistryOptions
from mlops_ci.oci.errors import ArtifactError, OciError
from mlops_ci.oci.modelpack import (
    EVIDENCE_ANNOTATION,
    EVIDENCE_ARTIFACT_TYPES,
    TITLE_ANNOTATION,
    Descriptor,
    ModelManifest,
    descriptor_from,
    parse_json,
    read_model_manifest,
    safe_relative_path,
)
from mlops_ci.oci.reference import OciReference
from mlops_ci.oci.referrers import list_referrers

# A sigstore bundle holds a manifest of per-file digests; an SBOM lists packages: both small.
MAX_EVIDENCE_BYTES = 32 << 20
MAX_REFERRERS = 256


@dataclass(frozen=True)
class PulledEvidence:
    """A referrer found for the model: role, manifest digest and the files written for it."""

    role: str
    digest: str
    files: tuple[Path, ...]


@dataclass(frozen=True)
class PulledArtifact:
    """A pulled model: where its files and evidence are, and the manifest digest they came from.

    ``model_digest`` is the OMS root digest the manifest *claims* (unverified until the
    signature is checked).
    """

    reference: OciReference
    digest: str
    directory: Path
    model_path: Path
    model_digest: str | None
    signature: Path | None
    attestation: Path | None
    sbom: Path | None
    sbom_bundle: Path | None
    evidence: tuple[PulledEvidence, ...]
    referrers_from: str
    files: tuple[Path, ...]


def _check_destination(destination: Path) -> None:
    if destination.is_symlink() or (destination.exists() and not destination.is_dir()):
        raise OciError(f"--to {destination}: not a directory; give a new directory")
    if destination.is_dir() and any(destination.iterdir()):
        raise OciError(f"--to {destination} already holds files; give a new or empty directory")


def _evidence_names(model: ModelManifest) -> dict[str, str]:
    base = model.model_path.as_posix()
    return {"signature": f"{base}.sig", "attestation": f"{base}.attestation.sigstore.json"}


def pull_artifact(
    reference: OciReference,
    destination: Path,
    options: RegistryOptions | None = None,
    progress: Progress | None = None,
) -> PulledArtifact:
    """Pull ``reference`` (by digest or tag) and its evidence into ``destination``, atomically.

    ``destination`` must not exist or be an empty directory (exit 2 otherwise). Registry faults
    are :class:`RegistryError`, content that does not match its digests :class:`ArtifactError`
    (both exit 1), and leave nothing in ``destination``.
    """
    options = options or RegistryOptions()
    destination = destination.absolute()
    _check_destination(destination)
    client = RegistryClient(reference, options)
    what = f"reading {reference}"
    data, digest = client.manifest(reference.manifest_reference, what=what)
    model = read_model_manifest(data, f"the manifest of {reference}")
    destination.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
    try:
        written = _fetch_layers(client, model, scratch, options, progress)
        evidence, source = _fetch_evidence(client, model, digest, scratch)
        # mkdtemp made the directory 0700; DIR gets the mode mkdir would have given it. The
        # umask can only be read by setting it: the download threads have all finished here.
        umask = os.umask(0o077)
        os.umask(umask)
        scratch.chmod(0o777 & ~umask)
        if destination.is_dir():
            _check_destination(destination)  # still empty: nobody wrote there meanwhile
            destination.rmdir()
        scratch.rename(destination)
    except OSError as exc:
        shutil.rmtree(scratch, ignore_errors=True)
        raise OciError(
            f"cannot write the artifact into {destination} ({exc.strerror or 'I/O error'});"
            " free space or choose another --to"
        ) from None
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise

    def placed(role: str, index: int = 0) -> Path | None:
        """Where file ``index`` of the first referrer of ``role`` now lies in ``destination``."""
        for item in evidence:
            if item.role == role and len(item.files) > index:
                return destination / item.files[index].relative_to(scratch)
        return None

    return PulledArtifact(
        reference.pinned(digest),
        digest,
        destination,
        destination / model.model_path,
        model.model_digest,
        placed("signature"),
        placed("attestation"),
        placed("sbom"),
        placed("sbom", 1),
        tuple(
            PulledEvidence(
                e.role, e.digest, tuple(destination / f.relative_to(scratch) for f in e.files)
            )
            for e in evidence
        ),
        source,
        tuple(destination / path for path in written),
    )


def _fetch_layers(
    client: RegistryClient,
    model: ModelManifest,
    scratch: Path,
    options: RegistryOptions,
    progress: Progress | None,
) -> list[PurePosixPath]:
    layers = model.layer_paths()
    for path, _ in layers:
        (scratch / path).parent.mkdir(parents=True, exist_ok=True)

    def fetch(item: tuple[PurePosixPath, Descriptor]) -> PurePosixPath:
        """Download one layer to its path in the scratch directory."""
        path, layer = item
        client.download_blob(
            layer, scratch / path, what=f"downloading {path.as_posix()}", progress=progress
        )
        return path

    with ThreadPoolExecutor(max_workers=max(1, options.workers)) as pool:
        return list(pool.map(fetch, layers))


def _fetch_evidence(
    client: RegistryClient, model: ModelManifest, digest: str, scratch: Path
) -> tuple[list[PulledEvidence], str]:
    """Write each mlops-ci referrer's files; with several of one role, the first listed is
    placed at the conventional path and the others under ``.referrers/<digest>/``."""
    what = "reading the referrers"
    listed, source = list_referrers(client, digest, what=what)
    if len(listed) > MAX_REFERRERS:
        raise ArtifactError(f"{what}: over {MAX_REFERRERS} referrers are attached")
    names = _evidence_names(model)
    taken = {path.parts[0] for path, _ in model.layer_paths()}
    found: list[PulledEvidence] = []
    for descriptor in listed:
        if descriptor.artifact_type not in set(EVIDENCE_ARTIFACT_TYPES.values()):
            continue  # another tool's referrer (a cosign signature, a scan report)
        manifest_data, _ = client.manifest(descriptor.digest, what=what)
        manifest = parse_json(manifest_data, f"referrer {descriptor.digest[:19]}…")
        role = (manifest.get("annotations") or {}).get(EVIDENCE_ANNOTATION)
        subject = manifest.get("subject") or {}
        if role not in EVIDENCE_ARTIFACT_TYPES or subject.get("digest") != digest:
            continue  # not mlops-ci's, or listed for another manifest: never trusted as ours
        layers = [descriptor_from(layer, what) for layer in manifest.get("layers") or []]
        if not layers:
            continue
        first = all(item.role != role for item in found)
        folder = scratch if first else scratch / ".referrers" / descriptor.digest[7:19]
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for index, layer in enumerate(layers[:2]):
            title = layer.annotation(TITLE_ANNOTATION) or ""
            name = names.get(str(role)) if index == 0 and role in names else title
            safe = safe_relative_path(name or "", f"the {role} referrer")
            if len(safe.parts) != 1 or (first and safe.parts[0] in taken):
                raise ArtifactError(f"the {role} referrer's file {name!r} clashes with the model")
            target = folder / safe
            if target.exists():
                raise ArtifactError(f"the {role} referrer's file {name!r} is given twice")
            target.write_bytes(
                client.read_small_blob(layer, MAX_EVIDENCE_BYTES, what=f"reading the {role}")
            )
            if first:
                taken.add(safe.parts[0])
            written.append(target)
        found.append(PulledEvidence(str(role), descriptor.digest, tuple(written)))
    return found, source
