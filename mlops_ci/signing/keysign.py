"""Key and certificate signing: sigstore bundles v0.3 with a DSSE envelope, as model-signing
writes them, made with ``cryptography`` alone.

model-signing 1.1 has no public API for a key already in memory (a key from an environment
variable never touches the disk), nor for a DSSE envelope carrying *another* statement (the
gate-report attestation). Its key and certificate signers are small: the ECDSA signature of the
DSSE pre-authentication encoding of the statement, in a bundle whose verification material is
the public key's hint or the certificate chain. They are written out here because importing them
loads model-signing's whole sigstore stack (~0.3 s of a ~0.8 s ``sign``, issue 16). Tests compare
the bundles with model-signing's field by field, and the upstream ``model_signing verify``
verifies what this writes.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_ci.signing.material import key_fingerprint, subject_of
from mlops_ci.signing.policy import Mode

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from mlops_ci.signing.manifest import OmsManifest

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


def pae(payload: bytes, payload_type: str = IN_TOTO_PAYLOAD_TYPE) -> bytes:
    """DSSE's pre-authentication encoding of ``payload``: the bytes that are signed."""
    header = f"DSSEv1 {len(payload_type)} {payload_type} {len(payload)} "
    return header.encode("utf-8") + payload


def ec_hash(public_key: ec.EllipticCurvePublicKey) -> hashes.HashAlgorithm:
    """The hash ECDSA uses with this curve (model-signing's ``get_ec_key_hash``)."""
    from cryptography.hazmat.primitives import hashes

    by_size: dict[int, type[hashes.HashAlgorithm]] = {
        256: hashes.SHA256,
        384: hashes.SHA384,
        521: hashes.SHA512,
    }
    algorithm = by_size.get(public_key.curve.key_size)
    if algorithm is None:
        raise ValueError(f"Unexpected key size {public_key.curve.key_size}")
    return algorithm()


class KeySigner:
    """Signs with an EC private key (``key`` mode) or a key and certificate chain (``certificate``).

    Bundles are sigstore bundles v0.3 with a DSSE envelope, exactly as ``model_signing sign key``
    and ``model_signing sign certificate`` write them, so the upstream tool verifies them.
    """

    def __init__(
        self,
        private_key: ec.EllipticCurvePrivateKey,
        certificate: x509.Certificate | None = None,
        chain: Sequence[x509.Certificate] = (),
    ) -> None:
        self.mode: Mode = "key" if certificate is None else "certificate"
        self._key = private_key
        self._material = _verification_material(private_key, certificate, chain)
        self.identity: str | None = (
            key_fingerprint(private_key.public_key())
            if certificate is None
            else subject_of(certificate)
        )
        self.issuer: str | None = (
            None if certificate is None else certificate.issuer.rfc4514_string()
        )

    def sign_manifest(self, manifest: OmsManifest) -> str:
        """The OMS signature bundle (JSON) of a model manifest."""
        return self.sign_statement(manifest.statement())

    def sign_file(self, path: Path) -> str:
        """A bundle for one file: an OMS signature over that single file."""
        from mlops_ci.signing.oms import manifest_of

        return self.sign_manifest(manifest_of(path))

    def sign_statement(self, payload: bytes) -> str:
        """A bundle whose DSSE envelope carries the in-toto statement ``payload`` (JSON bytes)."""
        from cryptography.hazmat.primitives.asymmetric import ec

        algorithm = ec.ECDSA(ec_hash(self._key.public_key()))
        signature = self._key.sign(pae(payload), algorithm)
        bundle = {
            "mediaType": BUNDLE_MEDIA_TYPE,
            "verificationMaterial": self._material,
            "dsseEnvelope": {
                "payload": base64.b64encode(payload).decode("ascii"),
                "payloadType": IN_TOTO_PAYLOAD_TYPE,
                "signatures": [{"sig": base64.b64encode(signature).decode("ascii"), "keyid": ""}],
            },
        }
        # sigstore-models' to_json: pydantic's compact JSON, fields in declaration order.
        return json.dumps(bundle, separators=(",", ":"), ensure_ascii=False)


def _verification_material(
    key: ec.EllipticCurvePrivateKey,
    certificate: x509.Certificate | None,
    chain: Sequence[x509.Certificate],
) -> dict[str, Any]:
    """The bundle's verification material: the public key's hint (the SHA-256 of its PEM, as
    model-signing's key signer), or the DER certificate chain, leaf first."""
    from cryptography.hazmat.primitives import serialization

    if certificate is None:
        pem = key.public_key().public_bytes(
            encoding=serialization.Encoding.PEM,
            format=serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        return {"publicKey": {"hint": hashlib.sha256(pem).hexdigest()}, "tlogEntries": []}
    certificates = [
        {"rawBytes": base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode("ascii")}
        for c in (certificate, *chain)
    ]
    return {"x509CertificateChain": {"certificates": certificates}, "tlogEntries": []}
