"""Real keys and certificate chains for signing tests, made with ``cryptography``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = dt.datetime.now(dt.UTC)
DAY = dt.timedelta(days=1)


def new_key() -> ec.EllipticCurvePrivateKey:
    """A fresh EC P-256 private key."""
    return ec.generate_private_key(ec.SECP256R1())


def private_pem(key: ec.EllipticCurvePrivateKey, password: bytes | None = None) -> bytes:
    """PKCS#8 PEM, encrypted when ``password`` is given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def public_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    """The SubjectPublicKeyInfo PEM of ``key``'s public half."""
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def write_key_pair(directory: Path, name: str = "signing") -> tuple[Path, Path]:
    """Write ``name.pem`` and ``name.pub``; returns their paths."""
    key = new_key()
    private, public = directory / f"{name}.pem", directory / f"{name}.pub"
    private.write_bytes(private_pem(key))
    public.write_bytes(public_pem(key))
    return private, public


_KEY_USAGES = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
    "encipher_only",
    "decipher_only",
)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mlops-ci tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool,
    not_before: dt.datetime = NOW - DAY,
    not_after: dt.datetime = NOW + 365 * DAY,
) -> x509.Certificate:
    """A certificate for ``key``; self-signed when ``issuer`` is None."""
    issuer_name = issuer[0].subject if issuer else _name(subject)
    signing_key = issuer[1] if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    flags = dict.fromkeys(_KEY_USAGES, False)
    flags.update({"key_cert_sign": ca, "crl_sign": ca, "digital_signature": not ca})
    builder = builder.add_extension(x509.KeyUsage(**flags), critical=True)
    if not ca:
        code_signing = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING])
        builder = builder.add_extension(code_signing, critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def pem(*certificates: x509.Certificate) -> bytes:
    """The PEM of ``certificates``, concatenated."""
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)


@dataclass(frozen=True)
class Pki:
    """Files of one PKI: root CA, intermediate, and a signing certificate with its key."""

    root: Path
    chain: Path
    cert: Path
    key: Path


def make_pki(directory: Path, name: str = "pki", *, leaf_expired: bool = False) -> Pki:
    """Root CA -> intermediate CA -> code-signing leaf, written as PEM files in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    root_key, intermediate_key, leaf_key = new_key(), new_key(), new_key()
    root = issue(f"{name} root", root_key, None, ca=True)
    intermediate = issue(f"{name} intermediate", intermediate_key, (root, root_key), ca=True)
    window = {"not_before": NOW - 400 * DAY, "not_after": NOW - 30 * DAY} if leaf_expired else {}
    leaf = issue(f"{name} signer", leaf_key, (intermediate, intermediate_key), ca=False, **window)
    files = Pki(
        root=directory / f"{name}-root.pem",
        chain=directory / f"{name}-chain.pem",
        cert=directory / f"{name}-cert.pem",
        key=directory / f"{name}-key.pem",
    )
    files.root.write_bytes(pem(root))
    files.chain.write_bytes(pem(intermediate))
    files.cert.write_bytes(pem(leaf))
    files.key.write_bytes(private_pem(leaf_key))
    return files
