"""``mlops-ci sign`` and ``mlops-ci verify``: sign a release's model, attestation, SBOM and report,
and verify them under an identity policy (exit 1 when anything does not verify)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mlops_ci.commands.options import ConfigOption
from mlops_ci.errors import UsageError

if TYPE_CHECKING:
    from mlops_ci.signing.policy import VerificationPolicy
    from mlops_ci.signing.release import SignOutcome, VerifyLine

EXIT_OK, EXIT_FAILED = 0, 1
MODES = ("auto", "sigstore", "key", "certificate")

PathArgument = Annotated[
    Path | None,
    typer.Argument(help="A model file or directory (default: every configured model)."),
]
ModelOption = Annotated[str | None, typer.Option("--model", help="A configured model.")]
ModeOption = Annotated[
    str | None, typer.Option("--mode", help="auto, sigstore, key or certificate.")
]
VerifyTargetArgument = Annotated[
    str | None,
    typer.Argument(
        metavar="PATH|oci://HOST[:PORT]/REPO@sha256:HEX",
        help="A model file or directory, or an artifact in a registry (default: every"
        " configured model).",
    ),
]
SignatureOption = Annotated[
    Path | None, typer.Option("--signature", help="The model signature (default: PATH.sig).")
]


def _mode(value: str | None) -> str | None:
    if value is not None and value not in MODES:
        raise UsageError(f"--mode {value!r}: use one of {', '.join(MODES)}")
    return value


def sign(
    path: PathArgument = None,
    model: ModelOption = None,
    mode: ModeOption = None,
    key: Annotated[
        Path | None, typer.Option("--key", help="EC P-256 PEM private key (key/certificate).")
    ] = None,
    cert: Annotated[
        Path | None, typer.Option("--cert", help="PEM signing certificate (certificate mode).")
    ] = None,
    chain: Annotated[
        Path | None, typer.Option("--chain", help="PEM intermediate certificates of --cert.")
    ] = None,
    signature: SignatureOption = None,
    staging: Annotated[
        bool, typer.Option("--staging", help="Use Sigstore's staging instance (keyless).")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Sign the model (OMS), its gate-report attestation, its SBOM and the JSON report."""
    from mlops_ci.signing.modes import signing_inputs
    from mlops_ci.signing.release import sign_release
    from mlops_ci.signing.targets import load_signing_config, release_targets

    if chain is not None and cert is None:
        raise UsageError("--chain goes with --cert: give the signing certificate too")
    environ = dict(os.environ)
    loaded = load_signing_config(environ=environ, config=config)
    targets = release_targets(loaded, model=model, path=path, signature=signature)
    inputs = signing_inputs(
        loaded,
        environ,
        mode=_mode(mode),
        key=key,
        cert=cert,
        chain=chain,
        staging=staging,
    )
    print_signed(sign_release(loaded, targets, inputs, environ))


def print_signed(outcome: SignOutcome) -> None:
    """Print what ``sign`` wrote (paths, mode, signer; never key material)."""
    if outcome.skipped is not None:
        typer.echo(f"Not signed: {outcome.skipped}.")
        return
    signer = f" by {outcome.identity}" if outcome.identity else ""
    typer.echo(f"Signed in {outcome.mode} mode{signer}:")
    for file in outcome.files:
        digest = f"  ({file.digest})" if file.digest and file.role == "model" else ""
        typer.echo(f"  {file.role:<12} {file.path} -> {file.bundle}{digest}")
    for note in outcome.notes:
        typer.echo(f"note: {note}")


def verify(
    target: VerifyTargetArgument = None,
    model: ModelOption = None,
    signature: SignatureOption = None,
    mode: ModeOption = None,
    public_key: Annotated[
        Path | None, typer.Option("--public-key", help="PEM public key (key mode).")
    ] = None,
    identity: Annotated[
        str | None, typer.Option("--identity", help="Expected signer identity (sigstore).")
    ] = None,
    issuer: Annotated[
        str | None, typer.Option("--issuer", help="Expected OIDC issuer URL (sigstore).")
    ] = None,
    ca: Annotated[
        list[Path] | None,
        typer.Option("--ca", metavar="PATH", help="Trusted CA root PEM (repeatable)."),
    ] = None,
    trust_config: Annotated[
        Path | None,
        typer.Option("--trust-config", help="sigstore ClientTrustConfig JSON (default: bundled)."),
    ] = None,
    ignore: Annotated[
        list[Path] | None,
        typer.Option(
            "--ignore", metavar="PATH", help="A path inside the model not to verify (repeatable)."
        ),
    ] = None,
    plain_http: Annotated[
        bool,
        typer.Option(
            "--plain-http", help="oci:// only: talk HTTP to a registry that is not on loopback."
        ),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Verify signatures, attestations and bundles offline; exit 1 if any does not verify.

    With oci://... the artifact and its referrers are fetched from the registry into a
    scratch directory (every blob digest-checked) and verified there; nothing else is online.
    """
    from mlops_ci.oci.reference import is_oci_reference
    from mlops_ci.signing.paths import find_signature
    from mlops_ci.signing.policy import policy_from_config
    from mlops_ci.signing.release import verify_release, verify_single
    from mlops_ci.signing.targets import load_signing_config, release_targets

    if target is not None and is_oci_reference(target):
        if model is not None or signature is not None or ignore:
            raise UsageError(
                "verify oci://...: --model, --signature and --ignore apply to local models only"
            )
    elif plain_http:
        raise UsageError("--plain-http applies to verify oci://... only")
    path = None if target is None or is_oci_reference(target) else Path(target)
    loaded = load_signing_config(config=config)
    policy = policy_from_config(
        loaded,
        mode=_mode(mode),
        public_key=public_key,
        ca=tuple(ca or ()),
        identity=identity,
        issuer=issuer,
        trust_config=trust_config,
    )
    if target is not None and is_oci_reference(target):
        raise typer.Exit(print_verified(_verify_oci(target, policy, plain_http)))
    extra = [p.resolve() for p in ignore or ()]
    targets = release_targets(loaded, model=model, path=path, signature=signature)
    if path is not None and not targets[0].configured:
        bundle = signature.resolve() if signature else find_signature(path.resolve())
        lines = [verify_single(path, bundle, policy, ignore=extra)]
    else:
        lines = verify_release(loaded, targets, policy, ignore=extra)
    raise typer.Exit(print_verified(lines))


def _verify_oci(target: str, policy: VerificationPolicy, plain_http: bool) -> list[VerifyLine]:
    from mlops_ci.oci.client import RegistryOptions
    from mlops_ci.oci.progress import terminal_progress
    from mlops_ci.oci.reference import parse_reference
    from mlops_ci.oci.verify import verify_artifact

    reference = parse_reference(target, what="verify")
    progress = terminal_progress("pull", 0)
    try:
        outcome = verify_artifact(
            reference, policy, RegistryOptions(plain_http=plain_http), progress
        )
    finally:
        if progress is not None:
            progress.close()
    typer.echo(f"artifact: {outcome.reference}")
    return list(outcome.lines)


def print_verified(lines: list[VerifyLine]) -> int:
    """Print each verification (failures on stderr); returns the exit code."""
    for line in lines:
        if line.verified is None:
            print(f"FAILED    {line.role:<12} {line.subject}: {line.reason}", file=sys.stderr)
            continue
        v = line.verified
        who = f", signer {v.identity}" if v.identity else ""
        typer.echo(f"verified  {line.role:<12} {line.subject} ({v.mode} mode{who}, {v.digest})")
    failed = sum(1 for line in lines if not line.ok)
    if failed:
        print(f"error: {failed} of {len(lines)} signatures did not verify", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def register(app: typer.Typer) -> None:
    """Add ``sign`` and ``verify`` to the CLI."""
    app.command("sign")(sign)
    app.command("verify")(verify)
