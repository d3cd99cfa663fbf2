"""What ``push`` sends for a configured model: the files its OMS signature covers, its card and
its evidence, hashed (in parallel) before anything leaves the machine.

The file set is the signature's scope (:mod:`mlops_ci.signing.scope`): a directory's files less
mlops-ci's evidence and ``signing.ignore``; a single file; an ONNX file and its external data. It
must be exactly the set the signature names, with the same SHA-256 digests: a model changed since
it was signed is refused (exit 2, "sign it again") rather than published with a stale signature.
"""

from __future__ import annotations

import hashlib
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from mlops_ci.config import LoadedConfig
from mlops_ci.oci.errors import OciError
from mlops_ci.oci.modelpack import (
    CYCLONEDX_MEDIA_TYPE,
    DOC_MEDIA_TYPE,
    SIGSTORE_BUNDLE_MEDIA_TYPE,
    WEIGHT_MEDIA_TYPE,
)

HASH_CHUNK = 4 << 20


@dataclass(frozen=True)
class PackedFile:
    """One file of the artifact: where it is, the path it gets, its media type and digest."""

    source: Path
    name: str
    media_type: str
    digest: str
    size: int


@dataclass(frozen=True)
class PackedEvidence:
    """One referrer to attach: its role and its files (title, media type, path)."""

    role: str
    files: tuple[tuple[str, str, Path], ...]


@dataclass(frozen=True)
class PackedModel:
    """A configured model ready to push: its files, OMS root digest and evidence."""

    name: str
    model_path: str
    model_digest: str | None
    model_format: str | None
    files: tuple[PackedFile, ...]
    evidence: tuple[PackedEvidence, ...]


def file_sha256(path: Path) -> tuple[str, int]:
    """``sha256:<hex>`` and size of a file, read in chunks (bounded memory)."""
    hasher, size = hashlib.sha256(), 0
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(HASH_CHUNK):
                hasher.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise OciError(f"{path} cannot be read ({exc.strerror or 'I/O error'})") from None
    return "sha256:" + hasher.hexdigest(), size


def _regular(path: Path, shown: str) -> None:
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        raise OciError(f"{shown} cannot be read; check the model path") from None
    if not stat.S_ISREG(mode):
        raise OciError(f"{shown} is not a regular file (a link or device); it cannot be pushed")


def _directory_files(root: Path, ignore: tuple[Path, ...]) -> list[tuple[str, Path]]:
    """Every file under ``root`` but the ignored paths (and anything under an ignored folder)."""
    ignored = {PurePosixPath(p.as_posix()) for p in ignore}
    found = []
    for parent, dirnames, filenames in os.walk(root, followlinks=False):
        base = PurePosixPath(Path(parent).relative_to(root).as_posix())
        for dirname in dirnames:  # os.walk lists a linked folder and would silently skip it
            if Path(parent, dirname).is_symlink():
                raise OciError(f"{base / dirname} in the model is a symlink; it cannot be pushed")
        dirnames[:] = sorted(d for d in dirnames if (base / d) not in ignored)
        for name in sorted(filenames):
            relative = base / name if base != PurePosixPath(".") else PurePosixPath(name)
            if relative not in ignored:
                found.append((relative.as_posix(), Path(parent, name)))
    return found


def signed_files(loaded: LoadedConfig, name: str) -> tuple[Any, list[tuple[str, str, Path]]]:
    """The target (signature paths) of model ``name`` and its signed files as
    (manifest identifier, layer path, file) triples."""
    from mlops_ci.signing.scope import model_scope
    from mlops_ci.signing.targets import hashing_ignores, release_targets

    target = release_targets(loaded, model=name)[0]
    if not target.path.exists():
        raise OciError(f"model {name}: {target.shown} does not exist")
    scope = model_scope(target.path, hashing_ignores(loaded, target))
    base = target.path.name
    if scope.files is not None:  # an ONNX file and its external data, beside each other
        triples = [(f.relative_to(scope.root).as_posix(),) * 2 + (f,) for f in scope.files]
    elif target.path.is_dir():
        triples = [
            (identifier, f"{base}/{identifier}", file)
            for identifier, file in _directory_files(target.path, scope.ignore)
        ]
    else:
        triples = [(".", base, target.path)]
    for _, layer_name, file in triples:
        _regular(file, f"model {name}: {layer_name}")
    return target, triples


def _statement(signature: Path, shown: str) -> dict[str, Any]:
    from mlops_ci.signing.errors import VerificationError
    from mlops_ci.signing.oms import signed_statement
    from mlops_ci.signing.verify import inspect_bundle

    try:
        info = inspect_bundle(signature, shown)
    except VerificationError as exc:
        raise OciError(
            f"{exc.reason}; sign the model first (mlops-ci sign --model NAME)", None
        ) from None
    return signed_statement(info.data) or {}


def _check_against_signature(
    name: str, statement: dict[str, Any], hashed: dict[str, str]
) -> str | None:
    """Refuse files that differ from the signed manifest; returns the signed root digest."""
    predicate = statement.get("predicate") or {}
    resources = predicate.get("resources") or []
    method = (predicate.get("serialization") or {}).get("method")
    if method == "files" and all(isinstance(r, dict) for r in resources):
        signed = {str(r.get("name")): f"{r.get('algorithm')}:{r.get('digest')}" for r in resources}
        changed = sorted(k for k in hashed.keys() & signed.keys() if signed[k] != hashed[k])
        added, removed = (
            sorted(hashed.keys() - signed.keys()),
            sorted(signed.keys() - hashed.keys()),
        )
        if changed or added or removed:
            parts = [
                f"{label}: {', '.join(names)[:120]}"
                for label, names in (("changed", changed), ("added", added), ("removed", removed))
                if names
            ]
            raise OciError(
                f"model {name} differs from what its signature covers ({'; '.join(parts)});"
                " run the gates and mlops-ci sign again before pushing"
            )
    subjects = statement.get("subject") or []
    if len(subjects) == 1 and isinstance(subjects[0], dict):
        digest = (subjects[0].get("digest") or {}).get("sha256")
        return f"sha256:{digest}" if isinstance(digest, str) else None
    return None


def pack_model(loaded: LoadedConfig, name: str, *, workers: int = 4) -> PackedModel:
    """The artifact of configured model ``name``: signed files (hashed), card and evidence.

    Exit-2 errors: an unknown model, a model without a signature, files that differ from it.
    """
    target, triples = signed_files(loaded, name)
    if not os.path.lexists(target.signature):
        raise OciError(
            f"model {name} has no signature ({loaded.display(target.signature)}); run"
            f" 'mlops-ci sign --model {name}' first: push publishes signed models only"
        )
    statement = _statement(target.signature, target.shown)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        digests = list(pool.map(lambda triple: file_sha256(triple[2]), triples))
    hashed = {
        identifier: digest for (identifier, _, _), (digest, _) in zip(triples, digests, strict=True)
    }
    model_digest = _check_against_signature(name, statement, hashed)
    model = loaded.config.model(name)
    card = loaded.resolve(model.card) if model.card else None
    files = [
        PackedFile(
            file,
            layer_name,
            DOC_MEDIA_TYPE if card is not None and file == card else WEIGHT_MEDIA_TYPE,
            digest,
            size,
        )
        for (_, layer_name, file), (digest, size) in zip(triples, digests, strict=True)
    ]
    if card is not None and card.is_file() and all(f.source != card for f in files):
        _regular(card, f"model {name}: card {card.name}")
        if any(f.name.split("/")[0] == card.name for f in files):
            raise OciError(f"model {name}: the card's file name {card.name!r} is a model file's")
        digest, size = file_sha256(card)
        files.append(PackedFile(card, card.name, DOC_MEDIA_TYPE, digest, size))
    evidence = [
        PackedEvidence(
            "signature",
            ((target.signature.name, SIGSTORE_BUNDLE_MEDIA_TYPE, target.signature),),
        )
    ]
    if target.attestation.is_file():
        title = target.attestation.name
        evidence.append(
            PackedEvidence(
                "attestation", ((title, SIGSTORE_BUNDLE_MEDIA_TYPE, target.attestation),)
            )
        )
    if target.sbom is not None and target.sbom.is_file():
        from mlops_ci.signing.paths import bundle_path

        sbom_files = [(target.sbom.name, CYCLONEDX_MEDIA_TYPE, target.sbom)]
        bundle = bundle_path(target.sbom)
        if bundle.is_file():
            sbom_files.append((bundle.name, SIGSTORE_BUNDLE_MEDIA_TYPE, bundle))
        evidence.append(PackedEvidence("sbom", tuple(sbom_files)))
    onnx = any(f.name.endswith(".onnx") for f in files)
    return PackedModel(
        name,
        target.path.name,
        model_digest,
        "onnx" if onnx else None,
        tuple(files),
        tuple(evidence),
    )
