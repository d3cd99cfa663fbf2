"""Key and certificate material: loading it without leaking it, and checking certificate chains.

Private keys come from a PEM file or from an environment variable holding the PEM; a passphrase
only ever comes from an environment variable. Every error here is a fixed sentence that names
where the key came from (a path or a variable *name*), never what it contains.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_ci.errors import SourcePosition
from mlops_ci.safepath import read_bytes
from mlops_ci.signing.errors import SigningError

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

# The curves OpenSSF Model Signing accepts; P-256 is the one mlops-ci generates and documents.
SUPPORTED_CURVES = ("secp256r1", "secp384r1", "secp521r1")


@dataclass(frozen=True)
class KeySource:
    """Where the private key comes from: a file, or an environment variable with the PEM."""

    path: Path | None = None
    env_name: str | None = None
    password_env: str | None = None

    @property
    def label(self) -> str:
        """How to name the key in messages: its path, or ``$VARIABLE``; never its contents."""
        return str(self.path) if self.path is not None else f"${self.env_name}"

    def secrets(self, environ: Mapping[str, str]) -> list[str]:
        """The secret values behind this source, for redaction."""
        values = []
        for name in (self.env_name, self.password_env):
            if name and environ.get(name):
                values.append(environ[name])
        return values


def load_private_key(source: KeySource, environ: Mapping[str, str]) -> ec.EllipticCurvePrivateKey:
    """Load an EC private key (P-256 recommended) from its source; errors never quote it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    if source.path is not None and _looks_like_key_material(str(source.path)):
        raise SigningError(
            "the private key path holds key material instead of a path; put the PEM in"
            f" ${source.env_name or 'MLOPS_CI_SIGNING_KEY'} and give no path"
        )
    if source.path is not None:
        try:
            pem = read_bytes(source.path, what="private key", error=SigningError)
        except OSError as exc:
            raise SigningError(
                f"cannot read the private key ({exc.__class__.__name__}); check the path",
                SourcePosition(str(source.path)),
            ) from None
    elif source.env_name and environ.get(source.env_name):
        pem = environ[source.env_name].encode()
    else:
        raise SigningError(f"no private key: {source.label} is not set")
    raw_password = environ.get(source.password_env or "") or None
    password = raw_password.encode() if raw_password else None
    try:
        key = serialization.load_pem_private_key(pem, password)
    except TypeError:
        hint = (
            f"set {source.password_env} to its passphrase"
            if password is None
            else f"{source.password_env} is set but the key is not encrypted; unset it"
        )
        raise SigningError(f"the private key {source.label} cannot be loaded: {hint}") from None
    except Exception:  # cryptography reports bad PEM and bad passphrases alike as ValueError
        raise SigningError(
            f"the private key {source.label} cannot be loaded: it is not an unencrypted or"
            " correctly decrypted PEM private key (check the file and the passphrase)"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name not in SUPPORTED_CURVES:
        raise SigningError(
            f"the private key {source.label} is not an EC P-256 key; create one with"
            " 'openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt'"
        )
    return key


def _looks_like_key_material(text: str) -> bool:
    return "-----BEGIN" in text or "\n" in text or len(text) > 1024


def load_public_key(path: Path) -> ec.EllipticCurvePublicKey:
    """Load an EC public key (PEM, SubjectPublicKeyInfo)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key = serialization.load_pem_public_key(
            read_bytes(path, what="public key", error=SigningError)
        )
    except (OSError, ValueError) as exc:
        raise SigningError(
            f"cannot load the public key ({exc.__class__.__name__}); give a PEM public key",
            SourcePosition(str(path)),
        ) from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name not in SUPPORTED_CURVES:
        raise SigningError("not an EC P-256 public key", SourcePosition(str(path)))
    return key


def load_certificates(paths: Sequence[Path]) -> list[x509.Certificate]:
    """Every certificate in the PEM files ``paths``, in order."""
    from cryptography import x509

    certificates: list[x509.Certificate] = []
    for path in paths:
        try:
            pem = read_bytes(path, what="certificate file", error=SigningError)
            certificates.extend(x509.load_pem_x509_certificates(pem))
        except (OSError, ValueError) as exc:
            raise SigningError(
                f"cannot load certificates ({exc.__class__.__name__}); give PEM certificates",
                SourcePosition(str(path)),
            ) from None
    return certificates


def key_fingerprint(public_key: ec.EllipticCurvePublicKey) -> str:
    """``sha256:<hex>`` of the PEM public key: the key hint OpenSSF Model Signing records."""
    from cryptography.hazmat.primitives import serialization

    pem = public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256:" + hashlib.sha256(pem).hexdigest()


def subject_of(certificate: x509.Certificate) -> str:
    """A certificate's subject, as an RFC 4514 string (or its serial when the subject is empty)."""
    text = certificate.subject.rfc4514_string()
    return text or f"serial {certificate.serial_number:x}"


def chain_problem(
    chain: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    at: dt.datetime,
) -> str | None:
    """Why ``chain`` (leaf first) does not lead to one of ``roots`` at time ``at``, or None.

    Every certificate, roots included, must be valid at ``at``: without a trusted timestamp (key
    and certificate modes have no transparency log) the only time we can vouch for is now.
    """
    from OpenSSL import crypto

    if not chain:
        return "the signature carries no certificate"
    if not roots:
        return "no CA root is configured to verify the certificate chain"
    for certificate in (*chain, *roots):
        if certificate.not_valid_after_utc < at:
            return (
                f"certificate '{subject_of(certificate)}' expired on"
                f" {certificate.not_valid_after_utc:%Y-%m-%d}"
            )
        if certificate.not_valid_before_utc > at:
            return (
                f"certificate '{subject_of(certificate)}' is not valid before"
                f" {certificate.not_valid_before_utc:%Y-%m-%d}"
            )
    store = crypto.X509Store()
    for root in roots:
        store.add_cert(crypto.X509.from_cryptography(root))
    store.set_time(at.replace(tzinfo=None))
    context = crypto.X509StoreContext(
        store,
        crypto.X509.from_cryptography(chain[0]),
        [crypto.X509.from_cryptography(c) for c in chain[1:]],
    )
    try:
        context.verify_certificate()
    except crypto.X509StoreContextError as exc:
        return (
            f"certificate '{subject_of(chain[0])}' does not chain to a configured CA root"
            f" ({exc.args[0] if exc.args else exc})"
        )
    return None
