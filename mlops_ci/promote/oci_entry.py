"""State entries whose artifact is in an OCI registry: ``oci://HOST[:PORT]/REPO@sha256:HEX``.

Such an entry names its bytes by the manifest digest (content-addressed, so no commit is needed
to say which bytes it means) and carries no ``signature``/``attestation`` paths: its evidence is
the artifact's referrers. Everything that reads the bytes or the evidence of an entry
(``promote``, ``promote verify``, ``rollback``, ``fetch``) pulls the artifact into a scratch
directory, every blob checked against its digest as it arrives, and then requires, failing
closed on any doubt:

- a signature referrer that verifies under the configured identity policy, vouching for exactly
  the entry's ``digest`` (the OMS root of the files the registry served);
- a gate-report attestation referrer that verifies and is about that digest, and names this
  model (the configuration cannot pin a registry path the way it pins a repository path, so the
  signed predicate is what binds the artifact to the model);
- an SBOM bundle, when one is attached, that verifies.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_ci.config import LoadedConfig
from mlops_ci.errors import MlopsCiError
from mlops_ci.oci.reference import OciReference, is_oci_reference, parse_reference
from mlops_ci.promote.state import StateEntry

_DIGEST_FORM = "oci://HOST[:PORT]/REPOSITORY@sha256:HEX (the digest `mlops-ci push` prints)"


def is_oci_entry(entry: StateEntry) -> bool:
    """Whether ``entry``'s artifact is in an OCI registry rather than in the repository."""
    return is_oci_reference(entry.artifact)


def artifact_reference(text: str, *, what: str = "--artifact") -> OciReference:
    """``text`` as a digest-pinned OCI reference; a tag (which can move) is bad input, exit 2."""
    from mlops_ci.oci.errors import OciError

    reference = parse_reference(text, what=what)
    if reference.tag is not None or reference.digest is None:
        raise OciError(
            f"{what}: a promotion names an artifact by digest only (a tag can move);"
            f" write {_DIGEST_FORM}"
        )
    return reference


@dataclass(frozen=True)
class OciEvidence:
    """What the registry's referrers proved about an entry's artifact."""

    signature: Any  # signing.verify.Verified of the model signature
    predicate: dict[str, Any]
    model_path: Path  # the pulled model (file or directory), under the scratch directory
    files: tuple[Path, ...]  # every file of the model's layers (card excluded)


def pull_verified(
    loaded: LoadedConfig, model: str, entry: StateEntry, scratch: Path, refuse: type[MlopsCiError]
) -> OciEvidence:
    """Pull ``entry``'s artifact into ``scratch`` and verify it; raise ``refuse`` (exit 1) on any
    registry fault, digest mismatch or evidence that does not verify."""
    from mlops_ci.oci.client import RegistryOptions
    from mlops_ci.oci.errors import OciError
    from mlops_ci.oci.pull import pull_artifact
    from mlops_ci.oci.verify import verify_pulled
    from mlops_ci.signing import policy_from_config

    reference = artifact_reference(entry.artifact, what=f"{model}: artifact")
    try:
        pulled = pull_artifact(reference, scratch / "artifact", RegistryOptions())
    except OciError as exc:  # registry faults and blobs that do not match their digests
        raise refuse(f"{model}: {exc.message}") from None
    policy = policy_from_config(loaded)
    checked = verify_pulled(pulled, policy)
    failed = next((line for line in checked.lines if not line.ok), None)
    if failed is not None:
        raise refuse(f"{model}: {entry.artifact}: {failed.role}: {failed.reason}")
    signature = checked.lines[0].verified
    if signature is None or signature.digest != entry.digest:
        found = signature.digest if signature is not None else "nothing"
        raise refuse(
            f"{model}: the registry serves {entry.artifact} with OMS digest {found}, not the"
            f" entry's {entry.digest}"
        )
    if pulled.attestation is None or checked.predicate is None:
        raise refuse(
            f"{model}: {entry.artifact} has no gate-report attestation referrer; sign the model"
            " with its report and push it again"
        )
    # verify_pulled verified it against the signature's digest, which is the entry's.
    predicate = dict(checked.predicate)
    named = (predicate.get("model") or {}).get("name")
    if named != model:
        raise refuse(
            f"{model}: the attestation of {entry.artifact} is about model {str(named)[:80]!r},"
            f" not {model!r}; promote the artifact pushed for {model}"
        )
    model_files = _model_files(pulled.model_path, pulled.files)
    return OciEvidence(signature, predicate, pulled.model_path, model_files)


def _model_files(model_path: Path, files: tuple[Path, ...]) -> tuple[Path, ...]:
    """The model's own files among the pulled layers: under a directory model, or a single
    file and the (external data) files beside it; the card, a documentation layer, is not."""
    if model_path.is_dir():
        return tuple(f for f in files if model_path in f.parents)
    from mlops_ci.signing.scope import declared_data_paths

    data = {(model_path.parent / p).resolve() for p in declared_data_paths(model_path)}
    return tuple(f for f in files if f == model_path or f.resolve() in data)


def claimed_digest(reference: OciReference, refuse: type[MlopsCiError]) -> str:
    """The OMS root digest the artifact's manifest claims (verified later, against the
    signature, before anything is promoted); ``refuse`` when the registry cannot say."""
    from mlops_ci.oci.client import RegistryClient, RegistryOptions
    from mlops_ci.oci.errors import OciError
    from mlops_ci.oci.modelpack import read_model_manifest

    try:
        client = RegistryClient(reference, RegistryOptions())
        data, _ = client.manifest(reference.manifest_reference, what=f"reading {reference}")
        claimed = read_model_manifest(data, f"the manifest of {reference}").model_digest
    except OciError as exc:
        raise refuse(exc.message) from None
    if not claimed:
        raise refuse(f"{reference}: the manifest names no model digest; push it with mlops-ci")
    return claimed
