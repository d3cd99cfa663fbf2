"""``mlops-ci push MODEL --to oci://...`` and ``mlops-ci pull oci://... --to DIR``: models and
their evidence in OCI registries (``verify oci://...`` is in :mod:`mlops_ci.commands.sign`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlops_ci.commands.options import ConfigOption

PlainHttpOption = Annotated[
    bool,
    typer.Option(
        "--plain-http",
        help="Talk HTTP, not HTTPS, to a registry that is not on loopback (loopback always is).",
    ),
]


def push(
    model: Annotated[str, typer.Argument(help="Model name from mlops-ci.yaml.")],
    to: Annotated[
        str,
        typer.Option("--to", metavar="oci://HOST[:PORT]/REPO[:TAG]", help="Where to push."),
    ],
    plain_http: PlainHttpOption = False,
    config: ConfigOption = None,
) -> None:
    """Push a signed MODEL as a ModelPack artifact, with its evidence as referrers.

    Prints the manifest digest. Exit 1 when the registry fails, 2 on bad input (an unsigned or
    changed model, a bad reference).
    """
    from mlops_ci.config import load_config
    from mlops_ci.oci.client import RegistryOptions
    from mlops_ci.oci.pack import pack_model
    from mlops_ci.oci.progress import terminal_progress
    from mlops_ci.oci.push import push_packed, total_bytes
    from mlops_ci.oci.reference import parse_reference

    destination = parse_reference(to, what="--to")
    options = RegistryOptions(plain_http=plain_http)
    packed = pack_model(load_config(config), model, workers=options.workers)
    progress = terminal_progress("push", total_bytes(packed))
    try:
        pushed = push_packed(packed, destination, options, progress)
    finally:
        if progress is not None:
            progress.close()
    skipped = f", {pushed.skipped_blobs} already there" if pushed.skipped_blobs else ""
    typer.echo(f"pushed: {model} to {pushed.reference}")
    typer.echo(
        f"files: {pushed.uploaded_blobs} uploaded ({pushed.uploaded_bytes:,} bytes){skipped}"
    )
    for referrer in pushed.referrers:
        how = "referrers API" if referrer.indexed_by == "api" else "referrers tag"
        typer.echo(f"referrer: {referrer.role:<12} {referrer.digest} ({how})")
    typer.echo(f"digest: {pushed.digest}")


def pull(
    reference: Annotated[
        str, typer.Argument(metavar="oci://HOST[:PORT]/REPO@sha256:HEX", help="What to pull.")
    ],
    to: Annotated[
        Path,
        typer.Option("--to", metavar="DIR", help="A new (or empty) directory to write into."),
    ],
    plain_http: PlainHttpOption = False,
) -> None:
    """Pull a model artifact and its evidence into DIR, every blob digest-checked.

    DIR is written all at once when everything verified; on any failure it is left as it was.
    Exit 1 when the registry fails or its content does not match its digests, 2 on bad input.
    """
    from mlops_ci.oci.client import RegistryOptions
    from mlops_ci.oci.progress import TransferProgress, terminal_progress
    from mlops_ci.oci.pull import pull_artifact
    from mlops_ci.oci.reference import parse_reference

    source = parse_reference(reference, what="pull")
    progress: TransferProgress | None = terminal_progress("pull", 0)
    try:
        pulled = pull_artifact(source, to, RegistryOptions(plain_http=plain_http), progress)
    finally:
        if progress is not None:
            progress.close()
    typer.echo(f"pulled: {pulled.reference}")
    typer.echo(f"model: {pulled.model_path}")
    for evidence in pulled.evidence:
        for file in evidence.files:
            typer.echo(f"{evidence.role}: {file}")
    if not any(e.role == "signature" for e in pulled.evidence):
        typer.echo("note: no signature referrer is attached; 'mlops-ci verify' will fail")
    typer.echo(f"digest: {pulled.digest}")


def register(app: typer.Typer) -> None:
    """Add ``push`` and ``pull``."""
    app.command("push")(push)
    app.command("pull")(pull)
