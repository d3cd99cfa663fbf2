"""OMS manifests: the per-file digests a model signature names, and the in-toto statement over them.

model-signing 1.1 builds both, but importing any part of it loads its whole signing stack
(sigstore, requests, rekor and sigstore pydantic models: ~0.3 s) that key and certificate signing
never use (issue 16). A model made of plain files (:meth:`ModelScope.plain_files`: one regular
file, or an ONNX file with its data files) is therefore hashed here, by model-signing's "files"
serialization rules:

- one SHA-256 per file, read through :mod:`mlops_ci.digests` (shared with the run's other users);
- identifiers relative to the hashed root, as POSIX paths (a single file is ``.``), in path order;
- the model name is the root's last component; the root digest is the SHA-256 of the file
  digests in identifier order;
- ``serialization`` is ``{method: files, hash_type: sha256, allow_symlinks: false}`` plus
  ``ignore_paths`` when paths were ignored.

A directory is still hashed by model-signing (its walk, its refusals) and converted. The statement
is written as model-signing writes it (protobuf JSON, two-space indent, ASCII). Tests hold every
layout to model-signing's own manifests and statements.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_ci import digests

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://model_signing/signature/v1.0"


@dataclass(frozen=True)
class Resource:
    """One file of a manifest: its identifier and digest (hex)."""

    name: str
    digest: str
    algorithm: str = "sha256"


@dataclass(frozen=True)
class OmsManifest:
    """A model's manifest: its name, its files' digests in identifier order, how it was hashed."""

    model_name: str
    resources: tuple[Resource, ...]
    serialization: dict[str, Any] = field(compare=False)

    @property
    def root_digest(self) -> str:
        """``sha256:<hex>``: the SHA-256 of the file digests in order (the OMS subject)."""
        hasher = hashlib.sha256()
        for resource in self.resources:
            hasher.update(bytes.fromhex(resource.digest))
        return "sha256:" + hasher.hexdigest()

    def statement(self) -> bytes:
        """The in-toto statement model-signing signs for this manifest (its exact JSON layout)."""
        subject: dict[str, Any] = {"digest": {"sha256": self.root_digest.partition(":")[2]}}
        if self.model_name:  # protobuf JSON leaves out an empty string field
            subject = {"name": self.model_name, **subject}
        statement = {
            "_type": STATEMENT_TYPE,
            "subject": [subject],
            "predicateType": PREDICATE_TYPE,
            "predicate": {
                "serialization": self.serialization,
                "resources": [
                    {"name": r.name, "algorithm": r.algorithm, "digest": r.digest}
                    for r in self.resources
                ],
            },
        }
        # protobuf's MessageToJson: json.dumps with indent 2 and ensure_ascii.
        return json.dumps(statement, indent=2).encode("utf-8")


def plain_manifest(root: Path, files: Sequence[Path] | None, ignore: Sequence[Path]) -> OmsManifest:
    """The manifest model-signing makes of ``root`` (a file, or a directory restricted to
    ``files``: regular files in identifier order) with ``ignore`` relative to the directory."""
    ignored, recorded = _ignored(root, ignore)
    listed = [root] if files is None else list(files)
    hashed = [f for f in listed if not any(f.is_relative_to(path) for path in ignored)]
    resources = tuple(
        Resource(file.relative_to(root).as_posix(), digest)
        for file, digest in zip(hashed, _sha256_all(hashed), strict=True)
    )
    serialization: dict[str, Any] = {"method": "files", "hash_type": "sha256"}
    serialization["allow_symlinks"] = False
    if recorded:
        # model-signing lists a set (in hash order, different in each process): sorted here.
        serialization["ignore_paths"] = sorted(recorded)
    return OmsManifest(_model_name(root), resources, serialization)


def from_model_signing(manifest: Any) -> OmsManifest:
    """An :class:`OmsManifest` of a manifest model-signing computed (a directory model)."""
    resources = tuple(
        Resource(d.identifier, d.digest.digest_hex, d.digest.algorithm)
        for d in manifest.resource_descriptors()
    )
    serialization = dict(manifest.serialization_type)
    if isinstance(serialization.get("ignore_paths"), list):
        serialization["ignore_paths"] = sorted(serialization["ignore_paths"])
    return OmsManifest(manifest.model_name, resources, serialization)


def _sha256_all(files: Sequence[Path]) -> list[str]:
    """The files' SHA-256 digests; several files in parallel threads, as model-signing hashes
    them (hashlib releases the GIL), so a model with many large data files uses every core."""
    if len(files) < 2:
        return [digests.sha256_hex(file) for file in files]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor() as pool:
        return list(pool.map(digests.sha256_hex, files))


def _ignored(root: Path, ignore: Sequence[Path]) -> tuple[list[Path], set[str]]:
    """model-signing's ignore list (``hashing.Config.hash``, ``file.Serializer.serialize``): the
    full paths it leaves out, and the relative ones its manifest records (those under ``root``)."""
    ignored: list[Path] = []
    for relative in dict.fromkeys(Path(p) for p in ignore):
        full = root / relative
        if full.is_relative_to(root):  # an absolute path elsewhere is dropped
            ignored.append(full)
    recorded = {os.path.relpath(full, root) for full in ignored}
    return ignored, {shown for shown in recorded if not shown.startswith("../")}


def _model_name(root: Path) -> str:
    name = root.name
    return name if name and name != ".." else root.resolve().name
