"""Signing and verification: OpenSSF Model Signing for models, sigstore for other files.

The functions promotion (and anything else) should call:

- :func:`model_digest` — the one model digest, ``sha256:<hex>`` of the OMS root;
- :func:`verify_model` — verify a model's signature under a :class:`VerificationPolicy`;
- :func:`verify_attestation` — verify a gate-report attestation and get its predicate;
- :func:`policy_from_config` — the identity policy from ``signing:`` in the configuration.

Each raises :class:`VerificationError` (a failed gate, exit 1) with a reason naming the file or
identity, or :class:`SigningError` (exit 2) when the policy lacks what it needs. Importing this
package is cheap: sigstore and model-signing are imported when used.
"""

from __future__ import annotations

from mlops_ci.signing.errors import SigningError, VerificationError
from mlops_ci.signing.oms import model_digest
from mlops_ci.signing.paths import attestation_path, bundle_path, signature_path
from mlops_ci.signing.policy import GitHubPolicy, VerificationPolicy, policy_from_config
from mlops_ci.signing.verify import (
    Verified,
    VerifiedAttestation,
    verify_attestation,
    verify_file,
    verify_model,
)

__all__ = [
    "GitHubPolicy",
    "SigningError",
    "VerificationError",
    "VerificationPolicy",
    "Verified",
    "VerifiedAttestation",
    "attestation_path",
    "bundle_path",
    "model_digest",
    "policy_from_config",
    "signature_path",
    "verify_attestation",
    "verify_file",
    "verify_model",
]
