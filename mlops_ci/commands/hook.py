"""``mlops-ci hook install|uninstall|run``: the pre-push gate without pre-commit."""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mlops_ci.commands.options import ConfigOption, FullHelpGroup

if TYPE_CHECKING:
    from mlops_ci.stamp import Stamp

hook_app = typer.Typer(
    cls=FullHelpGroup, help="The git pre-push hook: fast gates before every push."
)


def register(app: typer.Typer) -> None:
    """Add the ``hook`` group."""
    app.add_typer(hook_app, name="hook")


@hook_app.command("install")
def install(
    force: Annotated[
        bool, typer.Option("--force", help="Replace a pre-push hook that mlops-ci did not write.")
    ] = False,
) -> None:
    """Write .git/hooks/pre-push, which runs 'mlops-ci hook run' before every push."""
    import shutil

    from mlops_ci.hook import install_hook

    # The console script of this installation; sys.argv[0] may be another program's
    # (python -m mlops_ci, a test runner), so it only counts when it is mlops-ci itself.
    beside = Path(sys.executable).parent / "mlops-ci"
    invoked = sys.argv[0] if Path(sys.argv[0]).name == "mlops-ci" else None
    executable = (
        (shutil.which(invoked) if invoked else None)
        or (str(beside) if beside.is_file() else None)
        or shutil.which("mlops-ci")
        or "mlops-ci"
    )
    hook, action = install_hook(Path.cwd(), str(Path(executable).resolve()), force=force)
    typer.echo(f"{action}  {hook}")


@hook_app.command("uninstall")
def uninstall() -> None:
    """Remove the pre-push hook that 'mlops-ci hook install' wrote."""
    from mlops_ci.hook import uninstall_hook

    removed = uninstall_hook(Path.cwd())
    typer.echo(f"removed  {removed}" if removed else "no mlops-ci pre-push hook to remove")


@hook_app.command("run")
def run(
    config: ConfigOption = None,
) -> None:
    """Run the fast gates offline (hook.checks, default: card, onnx-model, artifacts, policy).

    An unchanged re-run replays the last outcome from its stamp (see mlops_ci.stamp).
    """
    import os

    from mlops_ci.stamp import replay, run_key

    began = time.perf_counter()
    cwd = Path.cwd()
    scope = str(config) if config else None
    key = run_key(cwd, scope, os.environ)
    stamp = replay(cwd, scope, key, os.environ) if key else None
    if stamp is None:
        stamp = _run_gates(config, cwd, scope, key)
    else:
        stamp = replace(stamp, summary=f"{stamp.summary}, unchanged since the last run")
    sys.stderr.write(stamp.stderr)
    typer.echo(f"mlops-ci pre-push: {stamp.summary}, {time.perf_counter() - began:.2f} s")
    if stamp.exit_code != 0:
        typer.echo("fix the findings above, or push with --no-verify to skip the gates", err=True)
    raise typer.Exit(stamp.exit_code)


def _run_gates(config: Path | None, cwd: Path, scope: str | None, key: str | None) -> Stamp:
    """Run the gates for real; stamp the outcome when it may be replayed."""
    import os

    from mlops_ci.cache import cache_disabled, open_cache
    from mlops_ci.checks import registry
    from mlops_ci.config import load_config
    from mlops_ci.hook import pre_push_checks
    from mlops_ci.pipeline import CheckRequest, run_check
    from mlops_ci.stamp import Stamp, record

    loaded = load_config(config)
    checks = pre_push_checks(loaded.config, registry())
    cache = None if cache_disabled() else open_cache(loaded, os.environ)
    try:
        report = run_check(
            CheckRequest(config=loaded.path, only=checks, offline=True, use_cache=False),
            cache=cache,
        )
    finally:
        if cache is not None:
            cache.close()
    lines = []
    for _result, finding in report.all_findings():
        if finding.blocks(report.fail_on):
            where = f"{finding.location}: " if finding.location else ""
            lines.append(f"{where}{finding.rule_id} [{finding.severity.label}] {finding.message}\n")
    lines += [f"error: {r.check}: {r.detail}\n" for r in report.results if r.status == "errored"]
    verdict = {"pass": "PASS", "fail": "FAIL", "error": "ERROR"}[report.verdict]
    summary = f"{verdict} ({', '.join(checks)} on {len(report.models)} model(s))"
    stamp = Stamp("".join(lines), summary, report.exit_code)
    # A check keyed on more than files (tool versions, the git commit) is never replayed.
    replayable = cache is not None and not cache.uncacheable and not cache.unstampable
    if key and cache is not None and replayable and report.verdict != "error":
        read = set(cache.declared)
        if loaded.path is not None:
            read.add(loaded.path.resolve())
        if loaded.config.waivers:
            read.add(loaded.resolve(loaded.config.waivers, "waivers"))
        record(cwd, scope, key, read, stamp, os.environ)
    return stamp
