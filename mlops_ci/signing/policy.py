"""The identity policy a signature must satisfy, from configuration and command-line flags.

Keyless (sigstore) signatures are checked against a certificate identity and OIDC issuer, and
optionally GitHub Actions claims (repository, ref, workflow name) through sigstore's policy
objects. Key-mode signatures are checked against a public key; certificate-mode signatures against
CA roots. Verification is offline: the trust root that ships inside sigstore (production, or
staging), or a ``ClientTrustConfig`` JSON file given with ``--trust-config``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from mlops_ci.config import LoadedConfig
from mlops_ci.errors import SourcePosition
from mlops_ci.signing.errors import SigningError

if TYPE_CHECKING:
    from sigstore.models import ClientTrustConfig
    from sigstore.verify.policy import VerificationPolicy as SigstorePolicy

Mode = Literal["sigstore", "key", "certificate"]
MODES: tuple[Mode, ...] = ("sigstore", "key", "certificate")


@dataclass(frozen=True)
class GitHubPolicy:
    """GitHub Actions claims a keyless certificate must carry (unset claims are not checked)."""

    repository: str | None = None
    ref: str | None = None
    workflow: str | None = None


@dataclass(frozen=True)
class VerificationPolicy:
    """Everything a verifier may trust. ``mode`` None means: the mode the signature was made in."""

    mode: Mode | None = None
    public_key: Path | None = None
    ca: tuple[Path, ...] = ()
    identity: str | None = None
    issuer: str | None = None
    github: GitHubPolicy = field(default_factory=GitHubPolicy)
    trust_config: Path | None = None
    staging: bool = False

    def describe_identity(self) -> str:
        """The expected keyless identity, for messages."""
        return f"{self.identity} (issuer {self.issuer})"


def policy_from_config(
    loaded: LoadedConfig,
    *,
    mode: str | None = None,
    public_key: Path | None = None,
    ca: Sequence[Path] = (),
    identity: str | None = None,
    issuer: str | None = None,
    trust_config: Path | None = None,
) -> VerificationPolicy:
    """The policy from ``signing:`` in the configuration, with command-line values winning.

    ``mode`` pins the mode a signature must have been made in; ``auto`` on the command line
    accepts whichever mode the bundle says (its trust material must still be configured).
    """
    signing = loaded.config.signing
    chosen = mode if mode is not None else signing.mode
    github = signing.github
    policy = VerificationPolicy(
        mode=chosen if chosen in MODES else None,
        public_key=public_key or _configured(loaded, signing.public_key, "signing.public_key"),
        ca=tuple(ca) or tuple(loaded.resolve(p, "signing.ca") for p in signing.ca),
        identity=identity or signing.identity,
        issuer=issuer or signing.issuer,
        github=GitHubPolicy(github.repository, github.ref, github.workflow),
        trust_config=trust_config
        or _configured(loaded, signing.trust_config, "signing.trust_config"),
        staging=signing.staging,
    )
    return policy


def _configured(loaded: LoadedConfig, path: str | None, key: str) -> Path | None:
    return loaded.resolve(path, key) if path else None


def with_mode(policy: VerificationPolicy, mode: Mode) -> VerificationPolicy:
    """The same policy, pinned to ``mode``."""
    return replace(policy, mode=mode)


def sigstore_policy(policy: VerificationPolicy, subject: str) -> SigstorePolicy:
    """sigstore's policy object: identity and issuer, plus the configured GitHub claims."""
    from sigstore.verify import policy as sp

    if not policy.identity or not policy.issuer:
        raise SigningError(
            f"{subject} is signed keylessly (sigstore); give the expected signer with"
            " --identity ID --issuer URL, or set signing.identity and signing.issuer"
        )
    checks: list[SigstorePolicy] = [sp.Identity(identity=policy.identity, issuer=policy.issuer)]
    claims = policy.github
    if claims.repository:
        checks.append(sp.GitHubWorkflowRepository(claims.repository))
    if claims.ref:
        checks.append(sp.GitHubWorkflowRef(claims.ref))
    if claims.workflow:
        checks.append(sp.GitHubWorkflowName(claims.workflow))
    return checks[0] if len(checks) == 1 else sp.AllOf(checks)


def load_trust_config(path: Path | None, *, staging: bool, offline: bool) -> ClientTrustConfig:
    """A sigstore ``ClientTrustConfig``: from ``path``, else Sigstore's production or staging.

    ``offline`` uses the trust root that ships inside sigstore (or its local TUF cache) and
    makes no network connection; signing needs ``offline=False`` for a current signing config.
    """
    from sigstore.models import ClientTrustConfig

    if path is not None:
        try:
            return ClientTrustConfig.from_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SigningError(
                f"cannot read the sigstore trust config ({exc.__class__.__name__}); give a"
                " ClientTrustConfig JSON (media type application/vnd.dev.sigstore."
                "clienttrustconfig.v0.1+json)",
                SourcePosition(str(path)),
            ) from None
    with _quiet_tuf():
        if staging:
            return ClientTrustConfig.staging(offline=offline)
        return ClientTrustConfig.production(offline=offline)


def trust_config_json(trust: ClientTrustConfig) -> str:
    """The JSON of a trust config, for model-signing's verifier (which only takes a file).

    model-signing's sigstore verifier refreshes TUF metadata over the network unless it is given
    a trust config file; handing it the offline root keeps verification offline.
    """
    return str(trust._inner.to_json())


@contextmanager
def _quiet_tuf() -> Iterator[None]:
    """Silence sigstore's 'loaded in offline mode' warning: offline is the intent here."""
    logger = logging.getLogger("sigstore._internal.tuf")
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(previous)
