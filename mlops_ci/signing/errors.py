"""What can go wrong when signing or verifying, and how secrets are kept out of messages.

A failed verification is not a user error (exit 2) but a failed gate (exit 1): it is its own
exception, :class:`VerificationError`, carrying a reason that names the file or the identity.
Problems the user can fix before trying again (a missing key, no ambient credential, a missing
public key or CA) are :class:`SigningError`, an :class:`~mlops_ci.errors.MlopsCiError` (exit 2).
"""

from __future__ import annotations

from collections.abc import Iterable

from mlops_ci.errors import MlopsCiError

REDACTED = "[redacted]"


class SigningError(MlopsCiError):
    """Signing or verification cannot start: missing or unusable key, certificate or policy."""


class VerificationError(Exception):
    """A signature, bundle or attestation does not verify; fail closed.

    ``subject`` is the file (or model) the signature is about, as shown to users; ``reason`` is
    one sentence saying what did not match (the file, the key or the identity).
    """

    def __init__(self, subject: str, reason: str) -> None:
        self.subject = subject
        self.reason = " ".join(reason.split())
        super().__init__(f"{subject}: {self.reason}")


class StaleEvidence(VerificationError):
    """An authentic signature or attestation about *other* bytes than the model now on disk.

    Still a :class:`VerificationError` (``verify``, ``promote`` and ``promote verify`` refuse it),
    but distinct from a forged or broken one: the trusted signer vouched for ``signed_digest``
    (``sha256:<hex>``, or None when the bundle names no single digest), an older model. The
    ``signature`` check reports such a model as unsigned, so CI can gate and sign the new bytes.
    """

    def __init__(self, subject: str, reason: str, signed_digest: str | None) -> None:
        super().__init__(subject, reason)
        self.signed_digest = signed_digest


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every non-trivial secret (and each of its lines) replaced by a marker.

    Library exceptions may quote what they were given (an HTTP body echoing a token, a PEM line):
    every message that crosses from signing code to the user goes through here.
    """
    for secret in secrets:
        if not secret:
            continue
        for piece in {secret, *(line.strip() for line in secret.splitlines())}:
            if len(piece) >= 8:
                text = text.replace(piece, REDACTED)
    return text


def describe_exception(exc: BaseException, secrets: Iterable[str | None] = ()) -> str:
    """A one-line, secret-free description of ``exc`` (class name and message)."""
    message = " ".join(str(exc).split())
    if not message and exc.__cause__ is not None:  # e.g. an HTTP error wrapped without a message
        message = " ".join(str(exc.__cause__).split())
    message = message or "no details"
    return redact(f"{exc.__class__.__name__}: {message}", secrets)
