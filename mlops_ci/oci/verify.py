"""``verify oci://...``: pull into a scratch directory, then verify the model's OMS signature,
its gate-report attestation and its SBOM bundle under an identity policy.

The pull has already checked every blob against its digest (a mismatch is an
:class:`~mlops_ci.oci.errors.ArtifactError`, exit 1). The signature is then verified on the files
as written, offline: the only network is the registry. Every signature referrer of the model is
tried (a model re-signed by another identity has several); one that verifies is enough, none is a
failure naming why the first did not.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_ci.oci.client import Progress, RegistryOptions
from mlops_ci.oci.pull import PulledArtifact, pull_artifact
from mlops_ci.oci.reference import OciReference
from mlops_ci.signing.errors import VerificationError
from mlops_ci.signing.policy import VerificationPolicy
from mlops_ci.signing.release import VerifyLine
from mlops_ci.signing.verify import Verified, verify_attestation, verify_file, verify_model


@dataclass(frozen=True)
class ArtifactVerification:
    """The outcome of verifying an artifact: its digest and one line per signature."""

    reference: OciReference
    digest: str
    lines: tuple[VerifyLine, ...]
    # The verified gate-report attestation's predicate (None without one, or when it failed).
    predicate: Mapping[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """Whether every signature verified (and there was a model signature)."""
        return all(line.ok for line in self.lines)


def _attempt(role: str, subject: str, action: Callable[[], Verified]) -> VerifyLine:
    try:
        return VerifyLine(role, subject, action())
    except VerificationError as failure:
        return VerifyLine(role, subject, None, failure.reason)


def verify_pulled(pulled: PulledArtifact, policy: VerificationPolicy) -> ArtifactVerification:
    """Verify a pulled artifact's signature (required), attestation and SBOM (when attached)."""
    subject = str(pulled.reference)
    signatures = [evidence.files[0] for evidence in pulled.evidence if evidence.role == "signature"]
    if not signatures:
        line = VerifyLine(
            "model",
            subject,
            None,
            "no signature referrer is attached to the artifact; sign the model and push it again",
        )
        return ArtifactVerification(pulled.reference, pulled.digest, (line,))
    model_line = VerifyLine("model", subject, None, "")
    for signature in signatures:
        attempt = _attempt(
            "model",
            subject,
            lambda s=signature: verify_model(pulled.model_path, s, policy, subject=subject),  # type: ignore[misc]
        )
        if attempt.ok:
            model_line = attempt
            break
        if not model_line.reason:
            model_line = attempt
    lines = [model_line]
    predicate: Mapping[str, Any] | None = None
    if model_line.verified is not None and pulled.attestation is not None:
        digest = model_line.verified.digest
        attestation = pulled.attestation
        attested: list[Mapping[str, Any]] = []

        def verify_report() -> Verified:
            found = verify_attestation(attestation, policy, expected_digest=digest, subject=subject)
            attested.append(found.predicate)
            return found.verified

        lines.append(_attempt("attestation", f"{subject} (attestation)", verify_report))
        predicate = attested[0] if attested else None
    if pulled.sbom is not None and pulled.sbom_bundle is not None:
        sbom, bundle = pulled.sbom, pulled.sbom_bundle
        lines.append(
            _attempt(
                "sbom",
                f"{subject} ({sbom.name})",
                lambda: verify_file(sbom, bundle, policy, subject=sbom.name, noun="SBOM"),
            )
        )
    return ArtifactVerification(pulled.reference, pulled.digest, tuple(lines), predicate)


def verify_artifact(
    reference: OciReference,
    policy: VerificationPolicy,
    options: RegistryOptions | None = None,
    progress: Progress | None = None,
) -> ArtifactVerification:
    """Pull ``reference`` into a scratch directory (removed afterwards) and verify it."""
    with tempfile.TemporaryDirectory(prefix="mlops-ci-verify-") as scratch:
        pulled = pull_artifact(reference, Path(scratch) / "artifact", options, progress)
        return verify_pulled(pulled, policy)
