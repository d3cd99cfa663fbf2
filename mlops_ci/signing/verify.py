"""Verify any bundle mlops-ci writes: model signatures, single-file bundles and attestations.

What a bundle is, and the mode it was made in, are read from the bundle itself (a public key hint
means key mode; a certificate chain without a transparency-log entry means certificate mode;
anything else is sigstore keyless); a policy that pins a mode refuses a bundle made in another.
Every path fails closed with :class:`VerificationError`, whose reason names the file or signer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from mlops_ci.signing import keyless, oms
from mlops_ci.signing.errors import StaleEvidence, VerificationError
from mlops_ci.signing.policy import Mode, VerificationPolicy

BundleKind = Literal["model", "attestation", "artifact"]
ATTESTATION_PREDICATE_TYPE = "https://mlops-ci.dev/attestation/gate-report/v1"
# A bundle holds a manifest of per-file digests: megabytes for the largest models, never more.
MAX_BUNDLE_BYTES = 32 << 20


@dataclass(frozen=True)
class BundleInfo:
    """What a bundle holds, read before verification (nothing here is trusted yet)."""

    kind: BundleKind
    mode: Mode
    data: dict[str, Any]
    text: str
    statement: dict[str, Any] | None


@dataclass(frozen=True)
class Verified:
    """A verified signature: what it covers, how, by whom, and the digest it vouches for."""

    subject: str
    bundle: str
    kind: BundleKind
    mode: Mode
    identity: str | None
    issuer: str | None
    digest: str


@dataclass(frozen=True)
class VerifiedAttestation:
    """A verified gate-report attestation and its predicate."""

    verified: Verified
    predicate: dict[str, Any]


def read_bundle_text(path: Path, subject: str) -> str:
    """The text of a bundle file: a regular file (never a symlink, FIFO or device), at most
    ``MAX_BUNDLE_BYTES``, opened without following links; anything else fails closed."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        raise VerificationError(subject, f"no signature: {path} does not exist") from None
    except OSError:
        raise VerificationError(subject, f"{path} cannot be examined") from None
    if not stat.S_ISREG(mode):
        kind = "a symlink" if stat.S_ISLNK(mode) else "not a regular file"
        raise VerificationError(subject, f"{path} is {kind}; a signature must be a plain file")
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(descriptor, "rb") as handle:
            raw = handle.read(MAX_BUNDLE_BYTES + 1)
    except OSError:
        raise VerificationError(subject, f"{path} cannot be read") from None
    if len(raw) > MAX_BUNDLE_BYTES:
        raise VerificationError(subject, f"{path} is over {MAX_BUNDLE_BYTES >> 20} MiB")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise VerificationError(subject, f"{path} is not a sigstore bundle (JSON)") from None


def inspect_bundle(path: Path, subject: str) -> BundleInfo:
    """Read a bundle file and tell what it is; unreadable or unknown bundles fail closed."""
    text = read_bundle_text(path, subject)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise VerificationError(subject, f"{path} is not a sigstore bundle (JSON)") from None
    if not isinstance(data, dict):
        raise VerificationError(subject, f"{path} is not a sigstore bundle")
    material = data.get("verificationMaterial") or {}
    mode: Mode
    if "publicKey" in material:
        mode = "key"
    elif "x509CertificateChain" in material and not material.get("tlogEntries"):
        mode = "certificate"
    else:
        mode = "sigstore"
    statement = oms.signed_statement(data)
    kind: BundleKind
    if "messageSignature" in data:
        kind = "artifact"
    elif statement is None:
        raise VerificationError(subject, f"{path} holds neither a signature nor a statement")
    elif statement.get("predicateType") in oms.OMS_PREDICATE_TYPES:
        kind = "model"
    elif statement.get("predicateType") == ATTESTATION_PREDICATE_TYPE:
        kind = "attestation"
    else:
        raise VerificationError(
            subject, f"{path} holds an unknown statement type {statement.get('predicateType')!r}"
        )
    return BundleInfo(kind, mode, data, text, statement)


def _mode_for(info: BundleInfo, policy: VerificationPolicy, subject: str) -> Mode:
    if policy.mode is not None and policy.mode != info.mode:
        raise VerificationError(
            subject, f"signed in {info.mode} mode, but the policy requires {policy.mode} mode"
        )
    return info.mode


def _signer(
    info: BundleInfo, policy: VerificationPolicy, mode: Mode, subject: str, now: dt.datetime
) -> tuple[str | None, str | None]:
    """Check the signer's key, chain or identity before hashing; returns (identity, issuer)."""
    if mode == "sigstore":
        keyless.check_claims(info.text, policy, subject)
        return policy.identity, policy.issuer
    return oms.check_key_material(info.data, policy, mode, subject, now)


def verify_model(
    model_path: Path,
    signature: Path,
    policy: VerificationPolicy,
    *,
    ignore: Sequence[Path] = (),
    allow: Sequence[Path] = (),
    subject: str | None = None,
    now: dt.datetime | None = None,
) -> Verified:
    """Verify the OMS signature of a model (or of any single file signed that way).

    ``ignore``: paths inside the model the verifier chose not to check (``verify --ignore``);
    ``allow``: paths the signature may have left out (evidence files, ``signing.ignore``), never
    hashed away here: only the signature's own ignore list is. Both relative to the model.
    """
    subject = subject or str(model_path)
    if not model_path.exists():
        raise VerificationError(subject, "the model path does not exist")
    info = inspect_bundle(signature, subject)
    if info.kind != "model":
        raise VerificationError(subject, f"{signature} is not a model signature ({info.kind})")
    mode = _mode_for(info, policy, subject)
    identity, issuer = _signer(info, policy, mode, subject, now or dt.datetime.now(dt.UTC))
    oms.verify_model_signature(
        model_path, signature, policy, mode, ignore=ignore, allow=allow, subject=subject
    )
    return Verified(
        subject, str(signature), "model", mode, identity, issuer, _signed_root(info, model_path)
    )


def _signed_root(info: BundleInfo, model_path: Path) -> str:
    """The root digest the (now verified) statement names; older formats are recomputed."""
    statement = info.statement or {}
    subjects = statement.get("subject") or []
    if statement.get("predicateType") == oms.OMS_PREDICATE_TYPES[0] and len(subjects) == 1:
        return "sha256:" + str(subjects[0]["digest"]["sha256"])
    return oms.model_digest(model_path)


def verify_file(
    path: Path,
    bundle: Path,
    policy: VerificationPolicy,
    *,
    subject: str | None = None,
    now: dt.datetime | None = None,
    noun: str = "file",
) -> Verified:
    """Verify a single file (SBOM, report) against its ``.sigstore.json`` bundle.

    ``noun`` names the file in reasons ("the SBOM does not match its signature"), never "model".
    """
    subject = subject or str(path)
    if not path.is_file():
        raise VerificationError(subject, f"the {noun} does not exist")
    info = inspect_bundle(bundle, subject)
    if info.kind == "model":  # key and certificate modes sign single files the OMS way
        try:
            verified = verify_model(path, bundle, policy, subject=subject, now=now)
        except VerificationError as failure:
            reason = failure.reason.replace(
                "the model does not match", f"the {noun} does not match"
            )
            raise VerificationError(subject, reason) from None
        digest = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
        return replace(verified, kind="artifact", digest=digest)
    if info.kind != "artifact":
        raise VerificationError(subject, f"{bundle} is not a file signature ({info.kind})")
    mode = _mode_for(info, policy, subject)
    if mode != "sigstore":
        raise VerificationError(subject, f"{bundle}: a message signature must be keyless")
    data = path.read_bytes()
    keyless.verify_artifact(data, info.text, policy, subject)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    return Verified(subject, str(bundle), "artifact", mode, policy.identity, policy.issuer, digest)


def verify_attestation(
    path: Path,
    policy: VerificationPolicy,
    *,
    expected_digest: str | None = None,
    subject: str | None = None,
    now: dt.datetime | None = None,
) -> VerifiedAttestation:
    """Verify a gate-report attestation; its subject must be ``expected_digest`` when given.

    Returns the predicate (the summary of the gate report) for promotion to evaluate.
    """
    subject = subject or str(path)
    info = inspect_bundle(path, subject)
    if info.kind != "attestation":
        raise VerificationError(subject, f"{path} is not a gate-report attestation")
    mode = _mode_for(info, policy, subject)
    identity, issuer = _signer(info, policy, mode, subject, now or dt.datetime.now(dt.UTC))
    if mode == "sigstore":
        payload = keyless.verify_dsse(info.text, policy, subject)
    else:
        payload = oms.verify_statement_with_key(path, policy, mode, subject)
    statement = json.loads(payload)
    if (
        statement.get("_type") != "https://in-toto.io/Statement/v1"
        or statement.get("predicateType") != ATTESTATION_PREDICATE_TYPE
        or len(statement.get("subject") or []) != 1
        or not isinstance(statement.get("predicate"), dict)
    ):
        raise VerificationError(subject, "the signed statement is not a gate-report attestation")
    digest = "sha256:" + str(statement["subject"][0].get("digest", {}).get("sha256"))
    if expected_digest is not None and digest != expected_digest:
        raise StaleEvidence(
            subject,
            f"the attestation is about model digest {digest[:19]}…, not {expected_digest[:19]}…"
            " (the model changed after the gates ran)",
            digest,
        )
    verified = Verified(subject, str(path), "attestation", mode, identity, issuer, digest)
    return VerifiedAttestation(verified, statement["predicate"])
