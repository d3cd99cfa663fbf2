"""``mlops-ci promote``, ``promote verify``, ``promote tag``, ``rollback``, ``status``, ``history``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from mlops_ci.commands.common import NoColorOption, QuietOption
from mlops_ci.commands.options import (
    ConfigOption,
    FormatOption,
    FullHelpGroup,
    ViewFormatOption,
    view_specs,
    write_views,
)


class _PromoteGroup(FullHelpGroup):
    """``promote MODEL --to ENV`` runs the hidden ``run`` command; ``promote verify`` etc. stay."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Route ``promote MODEL --to ENV`` to ``run``; ``-c PATH`` may come before a command."""
        args = _config_after_command(args, self.commands)
        if (args and args[0] not in self.commands and not args[0].startswith("-")) or (
            args and args[0].startswith("-") and args[0] not in ("--help",)
        ):
            args = ["run", *args]
        return super().parse_args(ctx, args)

    def format_options(self, ctx: Any, formatter: Any) -> None:
        """``promote --help``: the options of ``promote MODEL --to ENV`` (the hidden ``run``),
        then the group's own options and its commands."""
        run_command = self.commands.get("run")
        if run_command is not None:
            rows = [
                ("MODEL", "Model name from mlops-ci.yaml."),
                *(
                    record
                    for param in run_command.get_params(ctx)
                    if param.param_type_name == "option"
                    and param.name != "help"
                    and (record := param.get_help_record(ctx)) is not None
                ),
            ]
            with formatter.section("Arguments and options of 'promote MODEL --to ENV'"):
                formatter.write_dl(rows)
        super().format_options(ctx, formatter)


def _config_after_command(args: list[str], commands: Any) -> list[str]:
    """``-c PATH verify ...`` as ``verify -c PATH ...``: the option belongs to the command."""
    if len(args) >= 3 and args[0] in ("-c", "--config") and args[2] in commands:
        return [args[2], args[0], args[1], *args[3:]]
    if len(args) >= 2 and args[0].startswith("--config=") and args[1] in commands:
        return [args[1], args[0], *args[2:]]
    return args


promote_app = typer.Typer(
    cls=_PromoteGroup,
    help="Promote a model to the next environment through a pull/merge request.\n\n"
    "Usage: mlops-ci promote MODEL --to ENV [--version V] [--forge auto|github|gitlab|none] [--dry-run] [--unpin]"
    " [--artifact oci://HOST/REPO@sha256:HEX] [-c PATH]",
    no_args_is_help=True,
)
ForgeOption = Annotated[
    str | None,
    typer.Option(
        "--forge", metavar="KIND", help="auto, github, gitlab or none (default: forge.kind)."
    ),
]


def register(app: typer.Typer) -> None:
    """Add ``promote``, ``rollback``, ``status`` and ``history``."""
    app.add_typer(promote_app, name="promote")
    app.command("rollback")(rollback)
    app.command("status")(status)
    app.command("history")(history)


def _loaded(config: Path | None) -> Any:
    from mlops_ci.config import load_config

    return load_config(config)


def _report(outcome: Any) -> int:
    if outcome.landed is None:  # dry run
        if outcome.plan is None:
            print("nothing to do: the environment already runs this release")
            return 0
        plan = outcome.plan
        print(f"plan: {plan.title}")
        print(f"branch: {plan.branch}")
        verified = outcome.evidence is not None
        print(f"evidence: {'verified' if verified else 'not verified'}")
        sys.stdout.write(outcome.diff)
        return 0
    landed = outcome.landed
    if landed.outcome == "already-promoted":
        print(f"already promoted: {landed.note}")
        return 0
    where = landed.pull.url if landed.pull is not None else landed.note
    print(f"{landed.outcome}: {landed.plan.title if landed.plan else ''} -> {where}")
    return 0


@promote_app.command("run", hidden=True)
def run(
    model: Annotated[str, typer.Argument(help="Model name from mlops-ci.yaml.")],
    to: Annotated[str, typer.Option("--to", metavar="ENV", help="Target environment.")],
    version: Annotated[
        str | None,
        typer.Option(
            "--version",
            metavar="V",
            help="Version to promote (default: the model card's version for the first environment,"
            " else what the environment below runs).",
        ),
    ] = None,
    forge: ForgeOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan and diff only.")
    ] = False,
    unpin: Annotated[bool, typer.Option("--unpin", help="Promote over a rollback pin.")] = False,
    artifact: Annotated[
        str | None,
        typer.Option(
            "--artifact",
            metavar="OCI_REF",
            help="First environment only: promote the artifact pushed to a registry,"
            " oci://HOST[:PORT]/REPO@sha256:HEX (by digest), instead of the repository's files.",
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Promote MODEL to ENV."""
    from mlops_ci.promote.service import PromoteRequest, promote

    request = PromoteRequest(model, to, version, forge, dry_run, unpin, artifact=artifact)
    raise typer.Exit(_report(promote(_loaded(config), request, os.environ)))


@promote_app.command("verify")
def verify(
    base: Annotated[
        str | None, typer.Option("--base", help="Base ref (default: the remote default branch).")
    ] = None,
    output_format: FormatOption = None,
    quiet: QuietOption = False,
    no_color: NoColorOption = False,
    config: ConfigOption = None,
) -> None:
    """Check that this PR/MR changes only state files, each by a valid promotion or rollback.

    Everything that decides comes from the base commit (its mlops-ci.yaml, keys, policies and
    history); the PR's own configuration is read only for the name of the git remote.
    """
    import datetime as dt

    from mlops_ci.commands.common import emit_report
    from mlops_ci.config import ENV_PREFIX, find_config
    from mlops_ci.errors import InputError
    from mlops_ci.outputs import parse_format_specs
    from mlops_ci.promote.gitwork import PromotionRepo
    from mlops_ci.promote.review import review

    specs = parse_format_specs(output_format or [])
    cwd = Path.cwd()
    named = os.environ.get(f"{ENV_PREFIX}CONFIG")
    explicit = config if config is not None else (Path(named) if named else None)
    hint = _remote_hint(explicit or find_config(cwd))
    try:
        repo = PromotionRepo(cwd, hint)
    except InputError:  # the hint named a remote this clone lacks: the default, else the error
        repo = PromotionRepo(cwd)
    try:
        report = review(repo, base, explicit, cwd, os.environ, dt.datetime.now(dt.UTC))
    finally:
        repo.close()
    raise typer.Exit(emit_report(report, specs, quiet=quiet, no_color=no_color))


def _remote_hint(config_path: Path | None) -> str:
    """The git remote named by the PR's configuration, or ``origin`` when it does not load.

    The PR's file is untrusted: it only says where to fetch the base from, and the base's own
    configuration must name the same remote (``promote verify`` checks).
    """
    if config_path is None:
        return "origin"
    try:
        return str(_loaded(config_path).config.promotion.remote)
    except Exception:  # any failure of an untrusted file means: use the default
        return "origin"


@promote_app.command("tag")
def tag(
    push: Annotated[bool, typer.Option("--push", help="Push the tags to the remote.")] = False,
    config: ConfigOption = None,
) -> None:
    """After a merge: GTO tags (MODEL@vX.Y.Z, MODEL#ENV#N) for what the state files' history says."""
    from mlops_ci.errors import InputError
    from mlops_ci.promote.service import commit_author, open_repo
    from mlops_ci.promote.tags import tag_promotions

    loaded = _loaded(config)
    repo = open_repo(loaded)
    try:
        author = commit_author(loaded, os.environ, repo)
        outcome = tag_promotions(
            repo, loaded.config.state_dir, loaded.config.environments, author, push=push
        )
    finally:
        repo.close()
    for name in outcome.created:
        print(f"tagged {name}")
    if outcome.skipped:  # GTO would disagree with the state files: say so, exit 2
        raise InputError("GTO cannot mirror " + "; ".join(outcome.skipped))
    if not outcome.created:
        print("nothing to tag: the tags already say what the state files' history says")


def rollback(
    model: Annotated[str, typer.Argument(help="Model name from mlops-ci.yaml.")],
    env: Annotated[str, typer.Option("--env", help="Environment to roll back.")],
    to: Annotated[
        str, typer.Option("--to", metavar="VERSION", help="Version from the environment's history.")
    ],
    forge: ForgeOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan and diff only.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Roll ENV back to a VERSION it ran before, and pin it (a later promote needs --unpin)."""
    from mlops_ci.promote.service import PromoteRequest, promote

    request = PromoteRequest(model, env, None, forge, dry_run, False, rollback_to=to)
    raise typer.Exit(_report(promote(_loaded(config), request, os.environ)))


def status(
    output_format: ViewFormatOption = None,
    config: ConfigOption = None,
) -> None:
    """What runs where: models x environments, from the default branch's state files."""
    from mlops_ci.commands.promote_views import STATUS_FORMATS, render_status_all

    specs = view_specs(output_format, STATUS_FORMATS)
    write_views(specs, render_status_all(_loaded(config), [fmt for fmt, _ in specs]))


def history(
    model: Annotated[str, typer.Argument(help="Model name from mlops-ci.yaml.")],
    env: Annotated[str | None, typer.Option("--env", help="Only this environment.")] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help="What ran on this date (YYYY-MM-DD, or an ISO date-time)."),
    ] = None,
    output_format: ViewFormatOption = None,
    config: ConfigOption = None,
) -> None:
    """The changes of MODEL in each environment, newest first (from the git log)."""
    import datetime as dt

    from mlops_ci.commands.promote_views import HISTORY_FORMATS, render_history_all
    from mlops_ci.errors import UsageError

    specs = view_specs(output_format, HISTORY_FORMATS)
    if at is not None:
        try:  # compared as text later: 2026-13-45 would silently answer for some other day
            (dt.date if len(at) == 10 else dt.datetime).fromisoformat(at)
        except ValueError:
            raise UsageError(
                f"--at {at[:40]!r}: give a date YYYY-MM-DD (or an ISO date-time)"
            ) from None
    texts = render_history_all(_loaded(config), model, env, at, [fmt for fmt, _ in specs])
    write_views(specs, texts)
