"""Choosing the signing mode and opening a signer for it.

``auto`` picks sigstore keyless when the CI offers an ambient OIDC credential, otherwise
``certificate`` when a key and a certificate are configured, otherwise ``key`` when a key is
configured (a file, or the PEM in ``$MLOPS_CI_SIGNING_KEY``); otherwise it is an error that says
what to set up, or a skip when ``signing.allow_unsigned`` is true.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mlops_ci.config import LoadedConfig
from mlops_ci.signing import keyless
from mlops_ci.signing.errors import SigningError
from mlops_ci.signing.material import (
    KeySource,
    chain_problem,
    load_certificates,
    load_private_key,
    subject_of,
)
from mlops_ci.signing.policy import Mode

if TYPE_CHECKING:
    from mlops_ci.signing.manifest import OmsManifest


class Signer(Protocol):
    """What every mode offers: sign a model manifest, a file, an in-toto statement."""

    mode: Mode
    identity: str | None
    issuer: str | None

    def sign_manifest(self, manifest: OmsManifest) -> str:
        """The OMS signature bundle (JSON) of a model manifest."""
        ...

    def sign_file(self, path: Path) -> str:
        """The bundle (JSON) of one file."""
        ...

    def sign_statement(self, payload: bytes) -> str:
        """The DSSE bundle (JSON) of an in-toto statement."""
        ...


@dataclass(frozen=True)
class SigningInputs:
    """The signing settings of a run: command-line flags over the configuration."""

    mode: str
    key: KeySource | None
    certificate: Path | None
    chain: tuple[Path, ...]
    ca: tuple[Path, ...]
    staging: bool
    trust_config: Path | None
    allow_unsigned: bool


def signing_inputs(
    loaded: LoadedConfig,
    environ: Mapping[str, str],
    *,
    mode: str | None = None,
    key: Path | None = None,
    cert: Path | None = None,
    chain: Path | None = None,
    staging: bool = False,
) -> SigningInputs:
    """Merge ``sign`` flags with ``signing:``; the key is a path, else the PEM in ``key_env``."""
    signing = loaded.config.signing
    key_path = key or (loaded.resolve(signing.key, "signing.key") if signing.key else None)
    source: KeySource | None = None
    if key_path is not None:
        source = KeySource(
            path=key_path, env_name=signing.key_env, password_env=signing.key_password_env
        )
    elif environ.get(signing.key_env):
        source = KeySource(env_name=signing.key_env, password_env=signing.key_password_env)
    certificate = cert or (loaded.resolve(signing.certificate) if signing.certificate else None)
    chain_paths = (chain,) if chain else tuple(loaded.resolve(p) for p in signing.chain)
    return SigningInputs(
        mode=mode or signing.mode,
        key=source,
        certificate=certificate,
        chain=chain_paths,
        ca=tuple(loaded.resolve(p, "signing.ca") for p in signing.ca),
        staging=staging or signing.staging,
        trust_config=(
            loaded.resolve(signing.trust_config, "signing.trust_config")
            if signing.trust_config
            else None
        ),
        allow_unsigned=signing.allow_unsigned,
    )


@dataclass(frozen=True)
class ModeChoice:
    """The mode to sign in (None: skip, for ``reason``) and, for keyless, the OIDC token."""

    mode: Mode | None
    reason: str
    token: str | None = None


def choose_mode(
    inputs: SigningInputs,
    detect: Callable[[], keyless.AmbientCredential] = keyless.detect_ambient_credential,
) -> ModeChoice:
    """Pick the mode for ``inputs.mode`` (see the module docstring); errors say what to set."""
    requested = inputs.mode
    if requested == "none":
        return ModeChoice(None, "signing is disabled (signing.mode: none)")
    if requested in ("sigstore", "auto"):
        credential = detect()
        if credential.token:
            return ModeChoice("sigstore", "ambient OIDC credential", credential.token)
        if requested == "sigstore":
            raise SigningError(
                f"sigstore mode needs an ambient OIDC credential ({credential.problem}):"
                f" {keyless.AMBIENT_HELP}"
            )
    if requested == "certificate" or (requested == "auto" and inputs.certificate):
        if inputs.key is None or inputs.certificate is None:
            raise SigningError(
                "certificate mode needs a private key (--key or signing.key) and a certificate"
                " (--cert or signing.certificate)"
            )
        return ModeChoice("certificate", "key and certificate configured")
    if inputs.key is not None:
        return ModeChoice("key", f"private key {inputs.key.label}")
    if requested == "key":
        raise SigningError(
            "key mode needs a private key: --key PATH, signing.key, or the PEM in"
            " $MLOPS_CI_SIGNING_KEY (or the variable named by signing.key_env)"
        )
    if inputs.allow_unsigned:
        return ModeChoice(None, "no signing credential, and signing.allow_unsigned is true")
    raise SigningError(
        "nothing to sign with: no ambient OIDC credential and no key. In CI, "
        f"{keyless.AMBIENT_HELP}; elsewhere give --key PATH (or $MLOPS_CI_SIGNING_KEY);"
        " or set signing.allow_unsigned: true to skip signing"
    )


@contextmanager
def open_signer(
    choice: ModeChoice, inputs: SigningInputs, environ: Mapping[str, str]
) -> Iterator[Signer]:
    """A signer for ``choice.mode``; keyless signing contacts Sigstore (network)."""
    if choice.mode == "sigstore" and choice.token is not None:
        trust = keyless.online_trust_config(inputs.trust_config, staging=inputs.staging)
        with keyless.keyless_signer(choice.token, trust) as signer:
            yield signer
        return
    from mlops_ci.signing.keysign import KeySigner

    if inputs.key is None:
        raise SigningError(f"{choice.mode} mode needs a private key: --key PATH or signing.key")
    key = load_private_key(inputs.key, environ)
    if choice.mode == "key":
        yield KeySigner(key)
        return
    if inputs.certificate is None:
        raise SigningError("certificate mode needs --cert PATH or signing.certificate")
    leaf = load_certificates([inputs.certificate])
    chain = load_certificates(inputs.chain)
    if not leaf or leaf[0].public_key() != key.public_key():
        raise SigningError(
            f"the certificate {inputs.certificate} does not belong to the private key"
            f" {inputs.key.label}"
        )
    _check_chain_for_signing(leaf[0], chain, inputs)
    yield KeySigner(key, leaf[0], chain)


def _check_chain_for_signing(leaf: Any, chain: list[Any], inputs: SigningInputs) -> None:
    """Refuse to sign with a chain that would not verify: expired, or not from the CA roots."""
    now = dt.datetime.now(dt.UTC)
    if inputs.ca:
        problem = chain_problem([leaf, *chain], load_certificates(inputs.ca), now)
    else:
        invalid = [
            c for c in (leaf, *chain) if not c.not_valid_before_utc <= now <= c.not_valid_after_utc
        ]
        problem = f"certificate '{subject_of(invalid[0])}' is not valid now" if invalid else None
    if problem is not None:
        raise SigningError(f"cannot sign with this certificate chain: {problem}")
