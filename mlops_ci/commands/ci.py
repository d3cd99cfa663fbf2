"""CI glue: ``mlops-ci matrix`` (monorepo fan-out) and ``mlops-ci ci outputs|comment|upload-sarif``.

The composite GitHub actions and the GitLab components call these, so the logic they need is
Python under test rather than shell in YAML.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import Annotated

import typer

from mlops_ci.commands.options import ConfigOption, FullHelpGroup

ci_app = typer.Typer(
    cls=FullHelpGroup, help="Helpers for the GitHub actions and GitLab components."
)


def register(app: typer.Typer) -> None:
    """Add ``matrix`` and the ``ci`` group."""
    app.command("matrix")(matrix)
    app.add_typer(ci_app, name="ci")


def matrix(
    base: Annotated[
        str | None,
        typer.Option("--base", help="Git ref to compare with (default: every configured model)."),
    ] = None,
    gitlab: Annotated[
        bool, typer.Option("--gitlab", help="Print a GitLab child-pipeline YAML instead.")
    ] = False,
    image: Annotated[
        str, typer.Option("--image", help="--gitlab: the jobs' image (with git, for --install).")
    ] = "python:3.11",
    install: Annotated[
        str | None,
        typer.Option(
            "--install",
            help="--gitlab: what the jobs pip-install ('' for nothing; default"
            " $MLOPS_CI_INSTALL_SPEC, else this release from the GitLab project's repository).",
        ),
    ] = None,
    stage: Annotated[str, typer.Option("--stage", help="--gitlab: the jobs' stage.")] = "test",
    config: ConfigOption = None,
) -> None:
    """Print the models changed since --base as JSON for GitHub's strategy.matrix."""
    from mlops_ci import __version__
    from mlops_ci.config import load_config
    from mlops_ci.matrix import (
        ChangedModel,
        ChildPipelineSettings,
        changed_models,
        github_matrix,
        gitlab_child_pipeline,
    )

    loaded = load_config(config)
    if base:
        models = changed_models(loaded, base)
    else:
        models = [ChangedModel(m.name, m.path, m.card, ()) for m in loaded.config.models]
    for model in models:
        print(f"{model.name}: {', '.join(model.reasons) or 'all models'}", file=sys.stderr)
    if not gitlab:
        typer.echo(github_matrix(models))
        return
    if install is None:
        # What the plan job installed, else this release's tag in the project's repository on the
        # pipeline's own GitLab (as the components are included from): no package index needed.
        default = f"mlops-ci @ git+$CI_SERVER_URL/mlops-ci/mlops-ci.git@{__version__}"
        install = os.environ.get("MLOPS_CI_INSTALL_SPEC") or default
    settings = ChildPipelineSettings(
        image=image,
        install=install,
        stage=stage,
        base=base or "",
    )
    sys.stdout.write(gitlab_child_pipeline(models, settings))


@ci_app.command("outputs")
def outputs(
    report: Annotated[Path, typer.Argument(help="The JSON report of 'mlops-ci check'.")],
    sarif: Annotated[Path | None, typer.Option("--sarif", help="The SARIF file, if any.")] = None,
) -> None:
    """Print GitHub step outputs (verdict, report, sarif, sbom) for $GITHUB_OUTPUT."""
    import json

    from mlops_ci.errors import InputError
    from mlops_ci.findings import Report
    from mlops_ci.safepath import confine, read_bytes

    try:
        real = confine(report.absolute(), Path.cwd(), what="report", trusted=True)
        data = Report.from_dict(json.loads(read_bytes(real, what="report")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"cannot read the report ({exc.__class__.__name__}); run 'mlops-ci check"
            f" --format json={report}' first"
        ) from None
    sboms = [  # absolute: the artifacts are relative to the repository the action ran in
        str(Path(artifact).resolve())
        for result in data.results
        if result.check == "sbom"
        for artifact in result.artifacts
    ]
    typer.echo(f"verdict={data.verdict}")
    typer.echo(f"report={report}")
    typer.echo(f"sarif={sarif if sarif is not None and sarif.is_file() else ''}")
    delimiter = f"MLOPS_CI_{secrets.token_hex(8)}"
    typer.echo(f"sbom<<{delimiter}\n" + "".join(f"{p}\n" for p in sboms) + delimiter)


@ci_app.command("comment")
def comment(
    body: Annotated[Path, typer.Argument(help="Markdown file (the markdown report).")],
    number: Annotated[
        int | None,
        typer.Option("--pr", min=1, max=2**31 - 1, help="PR/MR number (default: this CI run's)."),
    ] = None,
    forge: Annotated[str, typer.Option("--forge", help="auto, github or gitlab.")] = "auto",
) -> None:
    """Create or update the one sticky PR/MR comment marked <!-- mlops-ci:report -->."""
    from mlops_ci.comment import comment_body, comment_target, post_comment
    from mlops_ci.errors import InputError
    from mlops_ci.safepath import confine, read_text
    from mlops_ci.scrub import scrub

    target = comment_target(os.environ, number, forge)
    if target is None:
        typer.echo("not a pull/merge request pipeline: no comment posted")
        return
    try:
        # The body is posted where everyone reads it: never a link planted in the repository
        # (to /proc/self/environ), never a FIFO; and scrubbed like every report.
        real = confine(body.absolute(), Path.cwd(), what="comment body", trusted=True)
        text = scrub(read_text(real, what="comment body"))
    except OSError as exc:
        raise InputError(f"cannot read the comment body: {exc.__class__.__name__}") from None
    where = post_comment(target, comment_body(text, target.run_url), os.environ)
    typer.echo(f"updated the mlops-ci comment on {where}")


@ci_app.command("upload-sarif")
def upload_sarif(
    sarif: Annotated[Path, typer.Argument(help="SARIF file (what 'check --format sarif' wrote).")],
    category: Annotated[
        str | None,
        typer.Option(
            "--category",
            help="Code scanning category (automationDetails.id), so uploads do not replace"
            " each other.",
        ),
    ] = None,
) -> None:
    """Upload a SARIF file to GitHub code scanning through the REST API (no codeql-action).

    Reads GITHUB_TOKEN (it needs security-events: write), GITHUB_REPOSITORY, GITHUB_SHA,
    GITHUB_REF and GITHUB_API_URL (GitHub Enterprise Server) from the Actions environment.
    """
    from mlops_ci.errors import InputError
    from mlops_ci.forge.code_scanning import PERMISSION, upload_target
    from mlops_ci.forge.code_scanning import upload_sarif as post
    from mlops_ci.forge.github import GitHubForge
    from mlops_ci.forge.http import ApiClient, ForgeError
    from mlops_ci.safepath import confine, read_text

    token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")
    if not token:
        raise ForgeError("uploading SARIF needs GITHUB_TOKEN (a token with security-events: write)")
    try:
        real = confine(sarif.absolute(), Path.cwd(), what="SARIF file", trusted=True)
        text = read_text(real, what="SARIF file")
    except OSError as exc:
        raise InputError(f"cannot read the SARIF file: {exc.__class__.__name__}") from None
    upload = upload_target(os.environ, text, category)
    api = ApiClient(
        os.environ.get("GITHUB_API_URL") or "https://api.github.com",
        GitHubForge.headers(token),
        forge="GitHub",
        credential_variable="GITHUB_TOKEN",
        needs=PERMISSION,
    )
    try:
        upload_id = post(api, upload)
    finally:
        api.close()
    typer.echo(
        f"uploaded {sarif} to code scanning of {upload.repository} at {upload.commit_sha[:12]}"
        + (f" (upload {upload_id})" if upload_id else "")
    )
