"""Sigstore keyless signing with an ambient OIDC credential, and offline sigstore verification.

Signing: sigstore's ``detect_credential`` finds the CI's OIDC token (GitHub Actions with
``permissions: id-token: write``; GitLab with ``id_tokens: SIGSTORE_ID_TOKEN: aud: sigstore``).
One signing context and one short-lived Fulcio certificate sign every artifact of a run. This needs
Fulcio and Rekor, so it needs the network: on a machine without it, signing fails with a clear
error and never falls back silently.

Verification: sigstore's ``Verifier`` with the trust root shipped inside sigstore (or a given
trust config), under the identity policy; no network connection.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_ci.signing.errors import SigningError, VerificationError, describe_exception
from mlops_ci.signing.policy import (
    Mode,
    VerificationPolicy,
    load_trust_config,
    sigstore_policy,
)

if TYPE_CHECKING:
    from sigstore.models import Bundle, ClientTrustConfig
    from sigstore.oidc import IdentityToken
    from sigstore.sign import Signer

    from mlops_ci.signing.manifest import OmsManifest

# Variables that carry ambient credentials (or the means to get one): never echoed.
AMBIENT_SECRETS = ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "SIGSTORE_ID_TOKEN")
AMBIENT_HELP = (
    "on GitHub Actions grant 'permissions: id-token: write'; on GitLab declare"
    " 'id_tokens: SIGSTORE_ID_TOKEN: aud: sigstore' in the signing job"
)


@dataclass(frozen=True)
class AmbientCredential:
    """The outcome of looking for an ambient OIDC token: the token, or why there is none."""

    token: str | None
    problem: str | None = None


def detect_ambient_credential() -> AmbientCredential:
    """Ask sigstore for the CI's ambient OIDC token (GitHub Actions, GitLab, Buildkite, GCP...)."""
    from sigstore.oidc import detect_credential

    secrets = [os.environ.get(name) for name in AMBIENT_SECRETS]
    try:
        token = detect_credential()
    except Exception as exc:  # sigstore's IdentityError: the CI is there but misconfigured
        return AmbientCredential(None, describe_exception(exc, secrets))
    return AmbientCredential(token or None, None if token else "no ambient OIDC credential")


class KeylessSigner:
    """Signs artifacts with one sigstore signer (one Fulcio certificate for the whole run)."""

    mode: Mode = "sigstore"

    def __init__(self, signer: Signer, token: IdentityToken) -> None:
        self._signer = signer
        self.identity: str | None = token.identity
        self.issuer: str | None = token.federated_issuer

    def sign_manifest(self, manifest: OmsManifest) -> str:
        """The OMS signature bundle of a model manifest (as ``model_signing sign sigstore``)."""
        return self.sign_statement(manifest.statement())

    def sign_statement(self, payload: bytes) -> str:
        """A DSSE bundle of the in-toto statement ``payload``."""
        from sigstore.dsse import Statement

        return self._noted(self._signer.sign_dsse(Statement(payload)))

    def sign_file(self, path: Path) -> str:
        """A sigstore message-signature bundle of one file (as ``sigstore sign FILE``)."""
        return self._noted(self._signer.sign_artifact(path.read_bytes()))

    def _noted(self, bundle: Bundle) -> str:
        """The bundle's JSON; the signer is reported as its certificate names it (the SAN)."""
        self.identity, self.issuer = certificate_identity(bundle.signing_certificate)
        return bundle.to_json()


def certificate_identity(certificate: Any) -> tuple[str | None, str | None]:
    """The identity (first SAN: URI or email) and OIDC issuer of a Fulcio certificate."""
    from cryptography import x509

    identity = None
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        found = [*names.get_values_for_type(x509.UniformResourceIdentifier)]
        found += names.get_values_for_type(x509.RFC822Name)
        identity = found[0] if found else None
    except x509.ExtensionNotFound:
        pass
    issuer = None
    try:  # 1.3.6.1.4.1.57264.1.1: Fulcio's OIDC issuer extension (raw UTF-8 bytes)
        oid = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
        issuer = certificate.extensions.get_extension_for_oid(oid).value.value.decode()
    except (x509.ExtensionNotFound, AttributeError, UnicodeDecodeError):
        pass
    return identity, issuer


@contextmanager
def keyless_signer(token: str, trust: ClientTrustConfig) -> Iterator[KeylessSigner]:
    """A keyless signer for the identity in ``token`` against the instance in ``trust``."""
    from sigstore.oidc import IdentityToken
    from sigstore.sign import SigningContext

    try:
        identity = IdentityToken(token)
        context = SigningContext.from_trust_config(trust)
    except Exception as exc:
        raise SigningError(
            f"keyless signing cannot start: {describe_exception(exc, [token])}"
        ) from None
    with ExitStack() as stack:
        try:  # the signer asks Fulcio for its short-lived certificate right away
            signer = stack.enter_context(context.signer(identity))
        except Exception as exc:
            raise SigningError(
                "keyless signing failed: no signing certificate from Fulcio for"
                f" {identity.identity}: {describe_exception(exc, [token])}"
            ) from None
        yield KeylessSigner(signer, identity)


def online_trust_config(trust_config: Path | None, *, staging: bool) -> ClientTrustConfig:
    """The trust config to sign with: refreshed from Sigstore's TUF repository (network)."""
    try:
        return load_trust_config(trust_config, staging=staging, offline=False)
    except SigningError:
        raise
    except Exception as exc:
        instance = "staging" if staging else "production"
        raise SigningError(
            f"cannot reach Sigstore {instance} to sign keylessly ({describe_exception(exc)});"
            " keyless signing needs network access, or use --mode key"
        ) from None


def _verifier(policy: VerificationPolicy) -> Any:
    from sigstore.verify import Verifier

    trust = load_trust_config(policy.trust_config, staging=policy.staging, offline=True)
    return Verifier(trusted_root=trust.trusted_root)


def _bundle(text: str, subject: str) -> Bundle:
    from sigstore.models import Bundle

    try:
        return Bundle.from_json(text)
    except Exception as exc:
        raise VerificationError(
            subject, f"not a valid sigstore bundle ({describe_exception(exc)})"
        ) from None


def verify_artifact(
    data: bytes, bundle_text: str, policy: VerificationPolicy, subject: str
) -> None:
    """Verify a message-signature bundle of ``data`` under the identity policy, offline."""
    checks = sigstore_policy(policy, subject)
    bundle = _bundle(bundle_text, subject)
    verifier = _verifier(policy)
    try:
        verifier.verify_artifact(data, bundle, checks)
    except Exception as exc:
        raise VerificationError(subject, _reason(exc, policy)) from None


def verify_dsse(bundle_text: str, policy: VerificationPolicy, subject: str) -> bytes:
    """Verify a DSSE bundle under the identity policy, offline; returns the in-toto payload."""
    checks = sigstore_policy(policy, subject)
    bundle = _bundle(bundle_text, subject)
    verifier = _verifier(policy)
    try:
        payload_type, payload = verifier.verify_dsse(bundle, checks)
    except Exception as exc:
        raise VerificationError(subject, _reason(exc, policy)) from None
    if payload_type != "application/vnd.in-toto+json":
        raise VerificationError(subject, f"unexpected DSSE payload type {payload_type!r}")
    return bytes(payload)


def check_claims(bundle_text: str, policy: VerificationPolicy, subject: str) -> None:
    """Check the full identity policy (GitHub claims included) on a bundle's certificate.

    model-signing's sigstore verifier checks identity and issuer only; once it has verified the
    bundle, the same certificate is checked here against the whole policy.
    """
    checks = sigstore_policy(policy, subject)
    try:
        checks.verify(_bundle(bundle_text, subject).signing_certificate)
    except Exception as exc:
        raise VerificationError(subject, _reason(exc, policy)) from None


def _reason(exc: Exception, policy: VerificationPolicy) -> str:
    text = describe_exception(exc)
    if "SAN" in text or "does not match" in text or "Certificate" in text:
        return f"not signed by {policy.describe_identity()} ({text})"
    return f"signature does not verify ({text})"
