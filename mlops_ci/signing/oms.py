"""OpenSSF Model Signing ("OMS", the ``model-signing`` package): model digests and manifests, and
verification of model signatures in every mode.

A model (a file or a directory) is hashed into a manifest of per-file SHA-256 digests; its **root
digest** is the SHA-256 of those digests in path order (the in-toto subject model-signing signs).
That root digest, as ``sha256:<hex>``, is *the* model digest everywhere in mlops-ci. What the
manifest covers (every file of a directory, an ONNX file's external data) is
:mod:`mlops_ci.signing.scope`.

Public model-signing API is used for verification of model signatures and for hashing a directory
model. A model of plain files is hashed, and key and certificate bundles are written, without
importing model-signing (:mod:`mlops_ci.signing.manifest`, :mod:`mlops_ci.signing.keysign`): any
import of it loads its whole sigstore stack. Verifying a key- or certificate-mode DSSE envelope
that carries *another* in-toto statement (the gate-report attestation) uses model-signing's
internal verifiers, which this project pins (``model-signing>=1.1,<1.2``) and covers with tests.
"""

from __future__ import annotations

import base64
import hashlib
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_ci import digests
from mlops_ci.signing import paths
from mlops_ci.signing.errors import (
    SigningError,
    StaleEvidence,
    VerificationError,
    describe_exception,
)
from mlops_ci.signing.keysign import IN_TOTO_PAYLOAD_TYPE
from mlops_ci.signing.manifest import (
    PREDICATE_TYPE,
    OmsManifest,
    from_model_signing,
    plain_manifest,
)
from mlops_ci.signing.material import key_fingerprint, subject_of
from mlops_ci.signing.policy import (
    Mode,
    VerificationPolicy,
    load_trust_config,
    sigstore_policy,
    trust_config_json,
)
from mlops_ci.signing.scope import ExternalDataError, ModelScope, model_scope, scope_problem

if TYPE_CHECKING:
    from cryptography import x509

# The predicate type model-signing signs, and the compatibility one it also accepts.
OMS_PREDICATE_TYPES = (PREDICATE_TYPE, "https://model_signing/Digests/v0.1")


def hashing_config(ignore: Sequence[Path] = ()) -> Any:
    """model-signing's file hashing (SHA-256 per file) of every file but ``ignore``.

    ``ignore`` holds paths relative to the model directory. Git files are *not* left out (the
    upstream default): a ``.gitattributes`` or ``.github/`` inside a model is part of it.
    """
    from model_signing import hashing

    config: Any = hashing.Config()  # type: ignore[no-untyped-call]
    return config.set_ignored_paths(paths=[str(p) for p in ignore], ignore_git_paths=False)


def hash_scope(scope: ModelScope) -> Any:
    """The OMS manifest of a :class:`ModelScope` (files are hashed in parallel threads)."""
    config = hashing_config(scope.ignore)
    if scope.files is None:
        return config.hash(scope.root)
    return config.hash(scope.root, files_to_hash=list(scope.files))


def manifest_of(path: Path, ignore: Sequence[Path] = ()) -> OmsManifest:
    """The OMS manifest of a model file (with its external data) or directory.

    Plain files are hashed by mlops-ci (:mod:`mlops_ci.signing.manifest`), a directory or
    anything model-signing must judge (a symlink, a special file) by model-signing.
    Raises :class:`~mlops_ci.signing.scope.ExternalDataError` (exit 2) for refused external data.
    """
    try:
        scope = model_scope(path, ignore)
        files = scope.plain_files()
        if files is not None:
            return plain_manifest(scope.root, None if scope.files is None else files, scope.ignore)
        return from_model_signing(hash_scope(scope))
    except (OSError, ValueError) as exc:
        from mlops_ci.errors import InputError, SourcePosition

        raise InputError(
            f"cannot hash the model ({describe_exception(exc)})", SourcePosition(str(path))
        ) from None


def root_digest(manifest: Any) -> str:
    """``sha256:<hex>``: SHA-256 of the manifest's file digests in path order (the OMS subject)."""
    hasher = hashlib.sha256()
    for descriptor in manifest.resource_descriptors():
        hasher.update(descriptor.digest.digest_value)
    return "sha256:" + hasher.hexdigest()


def model_digest(path: Path, ignore: Sequence[Path] = ()) -> str:
    """The model digest of ``path``: the OMS root digest, ``sha256:<hex>``.

    A file (with its ONNX data files) is hashed once per run through :mod:`mlops_ci.digests`,
    shared with the SBOM; the root is computed as model-signing does. Directories: model-signing.
    """
    return manifest_of(path, ignore).root_digest


def check_key_material(
    bundle: dict[str, Any], policy: VerificationPolicy, mode: Mode, subject: str, now: Any
) -> tuple[str, str | None]:
    """Check who made a key or certificate signature, before any hashing.

    Returns the signer's identity (key fingerprint, or certificate subject) and issuer.

    Key mode: the key hint in the bundle must be the configured public key. Certificate mode: the
    chain must lead to a configured CA root and every certificate must be valid now.
    """
    from mlops_ci.signing.material import chain_problem, load_certificates, load_public_key

    material = bundle.get("verificationMaterial") or {}
    if mode == "key":
        if policy.public_key is None:
            raise SigningError(
                f"{subject} is signed with a key; give the public key with --public-key PATH"
                " or set signing.public_key"
            )
        expected = key_fingerprint(load_public_key(policy.public_key))
        hint = (material.get("publicKey") or {}).get("hint")
        if hint and f"sha256:{hint}" != expected:
            raise VerificationError(
                subject,
                f"signed by key sha256:{hint[:16]}…, not by the public key {policy.public_key}"
                f" ({expected[:23]}…)",
            )
        return expected, None
    if not policy.ca:
        raise SigningError(
            f"{subject} is signed with a certificate; give the trusted CA roots with --ca PATH"
            " or set signing.ca"
        )
    chain = _bundle_chain(material, subject)
    problem = chain_problem(chain, load_certificates(policy.ca), now)
    if problem is not None:
        raise VerificationError(subject, problem)
    return subject_of(chain[0]), chain[0].issuer.rfc4514_string()


def _bundle_chain(material: dict[str, Any], subject: str) -> list[x509.Certificate]:
    from cryptography import x509

    entries = (material.get("x509CertificateChain") or {}).get("certificates") or []
    try:
        return [x509.load_der_x509_certificate(base64.b64decode(e["rawBytes"])) for e in entries]
    except (KeyError, TypeError, ValueError):
        raise VerificationError(subject, "malformed certificate chain") from None


def verify_model_signature(
    model_path: Path,
    signature: Path,
    policy: VerificationPolicy,
    mode: Mode,
    *,
    ignore: Sequence[Path] = (),
    allow: Sequence[Path] = (),
    subject: str,
) -> None:
    """Verify an OMS signature of a model file or directory under ``policy``; fail closed.

    Uses model-signing's public verification API; raises :class:`VerificationError` naming the
    file that differs (changed, added, missing) or the signer that does not match. ``ignore``:
    paths not to hash (given explicitly by the verifier); ``allow``: paths the signature may leave
    out (evidence files, ``signing.ignore``), relative to the model directory. The signature must
    cover the model's whole scope (its external data files; every other file of a directory).
    """
    from model_signing import verifying

    try:
        scope = model_scope(model_path, ignore)
    except ExternalDataError as refused:
        raise VerificationError(subject, refused.reason) from None
    config: Any = verifying.Config()  # type: ignore[no-untyped-call]
    with tempfile.TemporaryDirectory(prefix="mlops-ci-trust-") as scratch:
        if mode == "key":
            config.use_elliptic_key_verifier(public_key=_public_key(policy))
        elif mode == "certificate":
            config.use_certificate_verifier(certificate_chain=list(policy.ca))
        else:
            trust = load_trust_config(policy.trust_config, staging=policy.staging, offline=True)
            trust_file = Path(scratch) / "trust_config.json"
            trust_file.write_text(trust_config_json(trust), encoding="utf-8")
            sigstore_policy(policy, subject)  # refuses a policy without identity and issuer
            config.use_sigstore_verifier(
                identity=str(policy.identity),
                oidc_issuer=str(policy.issuer),
                trust_config=trust_file,
            )
        config.set_hashing_config(hashing_config(scope.ignore))
        # A file and its data files: hash what the signature names; scope_problem then checks
        # that these are exactly the files the .onnx needs.
        config.set_ignore_unsigned_files(scope.files is not None)
        seen = digests.snapshot(scope.plain_files() or [])
        try:
            config.verify(scope.root, signature)
        except Exception as exc:  # model-signing raises ValueError, OpenSSL and sigstore errors
            if not str(exc).startswith("Signature mismatch"):
                reason = f"signature does not verify ({describe_exception(exc)})"
                raise VerificationError(subject, reason) from None
        else:
            statement = signed_statement(json.loads(signature.read_text(encoding="utf-8"))) or {}
            evidence = [signature, paths.attestation_path(signature)]
            allowed = [*allow, *paths.inside(scope.root, evidence)]
            problem = scope_problem(scope, statement, allowed)
            if problem is not None:
                raise VerificationError(subject, problem)
            digests.adopt_verified(seen, scope.root, statement)  # the SBOM hashes no more
            return
    # The signature is authentic but the files differ: name them (this re-hashes the model).
    reason, changed = _manifest_difference(scope, signature)
    if _is_other_model(scope, changed):
        raise StaleEvidence(subject, reason, _statement_root(signature))
    raise VerificationError(
        subject,
        f"{reason} (the .onnx is the signed one, its data is not; if the weights were retrained,"
        f" commit them without the old {signature.name}, then check and sign)",
    )


def _is_other_model(scope: ModelScope, changed: frozenset[str] | None) -> bool:
    """Whether an authentic signature that does not match is about an *older model* (stale).

    A file or a directory that differs is another model. An ONNX file whose own bytes are
    exactly the signed ones while its external data differs is not: the signature names this very
    graph file, and the data under it was changed, added or removed (a broken pair, SIG001).
    """
    if scope.files is None or changed is None:
        return True
    return scope.model.relative_to(scope.root).as_posix() in changed


def _statement_root(signature: Path) -> str | None:
    """The root digest an (already authenticated) OMS statement names, if it names one."""
    statement = signed_statement(json.loads(signature.read_text(encoding="utf-8"))) or {}
    subjects = statement.get("subject") or []
    if statement.get("predicateType") == OMS_PREDICATE_TYPES[0] and len(subjects) == 1:
        value = (subjects[0].get("digest") or {}).get("sha256")
        if isinstance(value, str):
            return "sha256:" + value
    return None


def _public_key(policy: VerificationPolicy) -> Path:
    if policy.public_key is None:
        raise SigningError("key mode needs --public-key PATH or signing.public_key")
    return policy.public_key


def _manifest_difference(scope: ModelScope, signature: Path) -> tuple[str, frozenset[str] | None]:
    """Which files changed, appeared or disappeared since ``signature`` was made: the reason,
    and the names of the changed files (None when the model cannot be hashed)."""
    statement = signed_statement(json.loads(signature.read_text(encoding="utf-8"))) or {}
    predicate = statement.get("predicate") or {}
    signed = {r["name"]: r["digest"] for r in predicate.get("resources", [])}
    signed_ignores = predicate.get("serialization", {}).get("ignore_paths", [])
    ignored = (*scope.ignore, *(Path(p) for p in signed_ignores))
    try:
        manifest = hash_scope(ModelScope(scope.model, scope.root, scope.files, ignored))
    except (OSError, ValueError) as exc:
        return f"the model cannot be hashed ({describe_exception(exc)})", None
    actual = {d.identifier: d.digest.digest_hex for d in manifest.resource_descriptors()}
    changes = [
        ("changed", sorted(n for n in signed.keys() & actual.keys() if signed[n] != actual[n])),
        ("added", sorted(actual.keys() - signed.keys())),
        ("removed", sorted(signed.keys() - actual.keys())),
    ]
    described = [f"{kind}: {', '.join(names)}" for kind, names in changes if names]
    if scope.root.is_file():
        described = ["the file's content changed"] if described else []
    reason = "the model does not match its signature; " + ("; ".join(described) or "files differ")
    return reason, frozenset(changes[0][1])


def verify_statement_with_key(
    bundle_path: Path, policy: VerificationPolicy, mode: Mode, subject: str
) -> bytes:
    """Verify a key- or certificate-mode DSSE bundle; returns the signed statement bytes."""
    from model_signing._signing import sign_certificate, sign_ec_key, sign_sigstore_pb

    try:
        signature = sign_sigstore_pb.Signature.read(bundle_path)
        verifier: Any
        if mode == "key":
            verifier = sign_ec_key.Verifier(_public_key(policy))
        else:
            verifier = sign_certificate.Verifier(list(policy.ca))
        payload_type, payload = verifier._verify_signed_content(signature)
    except Exception as exc:
        raise VerificationError(
            subject, f"signature does not verify ({describe_exception(exc)})"
        ) from None
    if payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise VerificationError(subject, f"unexpected DSSE payload type {payload_type!r}")
    return bytes(payload)


def signed_statement(bundle: dict[str, Any]) -> dict[str, Any] | None:
    """The in-toto statement inside a bundle's DSSE envelope (unverified), or None."""
    envelope = bundle.get("dsseEnvelope")
    if not isinstance(envelope, dict):
        return None
    try:
        statement = json.loads(base64.b64decode(envelope["payload"]))
    except (KeyError, TypeError, ValueError):
        return None
    return statement if isinstance(statement, dict) else None
