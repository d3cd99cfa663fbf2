"""One command line: ``-c/--config`` wherever the configuration is read, help on every option,
whole descriptions in every command list, ``--format FMT[=PATH]`` everywhere, the configuration
found from a subdirectory, one error for a wrong model path (issue 15)."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from mlops_ci.commands.root import app
from tests.conftest import CliResult

Cli = Callable[..., CliResult]

# The commands that never read mlops-ci.yaml: everything else must take -c/--config.
CONFIG_FREE = {
    "version",
    "rules",
    "init",
    "demo",
    "schema config",
    "schema card",
    "card init",
    "policy test",
    "sbom diff",
    "ci outputs",
    "ci comment",
    "ci upload-sarif",
    "pull",
    "hook install",
    "hook uninstall",
}


def _commands() -> Iterator[tuple[str, Any]]:
    """Every command of the click tree built from the typer app, groups included."""

    def walk(command: Any, path: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
        yield " ".join(path), command
        for name, child in getattr(command, "commands", {}).items():
            yield from walk(child, (*path, name))

    yield from walk(typer.main.get_command(app), ())


def _leaves() -> list[tuple[str, Any]]:
    return [(p, c) for p, c in _commands() if p and not hasattr(c, "commands")]


def test_every_command_that_reads_the_configuration_takes_config() -> None:
    leaves = dict(_leaves())
    assert set(leaves) >= CONFIG_FREE, CONFIG_FREE - set(leaves)  # the list names real commands
    lacking = [
        path
        for path, command in leaves.items()
        if path not in CONFIG_FREE
        and not any({"--config", "-c"} <= set(p.opts) for p in command.params)
    ]
    assert not lacking
    for group in ("promote", "sbom"):  # a group that runs on its own reads it too
        (command,) = [c for p, c in _commands() if p == group]
        hidden = getattr(command, "commands", {}).get("run")
        params = (hidden or command).params
        assert any({"--config", "-c"} <= set(p.opts) for p in params), group


def test_every_option_and_argument_has_help() -> None:
    missing = [
        f"{path or 'mlops-ci'} {param.name}"
        for path, command in _commands()
        for param in command.params
        if not (getattr(param, "help", None) or "").strip()
    ]
    assert not missing


def _help(path: str) -> str:
    """``mlops-ci PATH --help`` rendered from one click tree (a CLI run rebuilds it: 0.25 s)."""
    command = _root()
    ctx = command.context_class(command, info_name="mlops-ci")
    for name in path.split():
        command = command.get_command(ctx, name)  # as the CLI resolves it
        ctx = command.context_class(command, info_name=name, parent=ctx)
    return str(command.get_help(ctx))


@functools.cache
def _root() -> Any:
    return typer.main.get_command(app)


def test_no_help_cuts_a_description(cli: Cli) -> None:
    for group in [p for p, c in _commands() if hasattr(c, "commands")]:
        listed = _help(group).partition("\nCommands:\n")[2]
        assert listed and "..." not in listed, (group, listed)
    for path, _ in _leaves():  # value names say what to type, not the Python type
        options = _help(path).partition("Options:")[2]
        assert not re.search(r"<[a-z][a-z\[\], ]*>", options), (path, options)
    assert "--fail-on SEVERITY" in _help("check")
    top = cli("--help")
    assert (
        top.exit_code == 0
        and "Sign the model (OMS), its gate-report attestation, its SBOM and" in top.stdout
    )
    assert "..." not in top.stdout.partition("\nCommands:\n")[2]
    promote = cli("promote", "--help").stdout
    for option in ("--to ENV", "--version V", "--dry-run", "--unpin", "-c, --config PATH"):
        assert option in promote, promote


def test_config_before_a_promote_command(cli: Cli, tmp_path: Path) -> None:
    for args in (("-c", "nope.yaml", "tag"), ("--config=nope.yaml", "tag")):
        result = cli("promote", *args, cwd=tmp_path)
        assert result.exit_code == 2
        assert result.stderr.startswith("error: nope.yaml: configuration file not found"), args
    result = cli("promote", "m", "--to", "dev", "-c", "nope.yaml", cwd=tmp_path)
    assert "nope.yaml: configuration file not found" in result.stderr


def test_config_is_found_from_a_subdirectory(cli: Cli, demo_repo: Path) -> None:
    below = demo_repo / "models" / "fraud-detector"
    result = cli("check", "--only", "card", "--format", "json", cwd=below)
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["config_path"] == "mlops-ci.yaml"
    assert [r["check"] for r in report["results"]] == ["card"]


def test_config_search_stops_at_the_repository_root(tmp_path: Path) -> None:
    from mlops_ci.config import find_config

    (tmp_path / "mlops-ci.yaml").write_text("version: 1\n")  # above the repository: not read
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "pkg" / "src").mkdir(parents=True)
    assert find_config(repo / "pkg" / "src") is None
    (repo / "pyproject.toml").write_text("[project]\nname = 'x'\n")  # no table: not a config
    assert find_config(repo / "pkg" / "src") is None
    (repo / "pyproject.toml").write_text("[tool.mlops-ci]\nversion = 1\n")
    assert find_config(repo / "pkg" / "src") == repo.absolute() / "pyproject.toml"
    (repo / "pkg" / "mlops-ci.yaml").write_text("version: 1\n")  # the nearest wins
    assert find_config(repo / "pkg" / "src") == repo.absolute() / "pkg" / "mlops-ci.yaml"
    (repo / ".git").rmdir()  # outside any repository: only the directory itself
    assert find_config(repo / "pkg" / "src") is None
    assert find_config(repo / "pkg") == repo.absolute() / "pkg" / "mlops-ci.yaml"


def test_a_wrong_model_path_is_one_error(cli: Cli, demo_repo: Path) -> None:
    config = demo_repo / "mlops-ci.yaml"
    text = config.read_text()
    config.write_text(text.replace("fraud-detector/model.onnx", "fraud-detector/modell.onnx"))
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "model.onnx" in t)
    # fail_on: critical would let a high finding pass: a missing model is never a pass
    result = cli("check", "--fail-on", "critical", "--format", "json", cwd=demo_repo / "src")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: mlops-ci.yaml:{line}:5: model 'fraud-detector':"
        " models/fraud-detector/modell.onnx does not exist; fix 'path:' (models[0]) or add the"
        " file (no check ran)"
    ]
    assert "README.md" not in result.stderr
    bench = cli("bench", "fraud-detector", cwd=demo_repo)
    assert bench.exit_code == 2 and "modell.onnx does not exist; fix 'path:'" in bench.stderr


def test_status_and_history_take_fmt_eq_path(cli: Cli, demo_repo: Path) -> None:
    result = cli("status", "-f", "json=out/status.json", "-f", "text", cwd=demo_repo)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("MODEL ")
    assert json.loads((demo_repo / "out/status.json").read_text()) == {
        "fraud-detector": {"dev": None, "staging": None, "prod": None}
    }
    history = cli("history", "fraud-detector", "--format", "json=h.json", cwd=demo_repo)
    assert history.exit_code == 0 and history.stdout == ""
    assert json.loads((demo_repo / "h.json").read_text()) == []
    for command in (("status",), ("history", "fraud-detector")):
        wrong = cli(*command, "--format", "yaml", cwd=demo_repo)
        assert wrong.exit_code == 2
        assert wrong.stderr == (
            "error: --format 'yaml': unknown format 'yaml' (formats: text, json, markdown)\n"
        )
        empty = cli(*command, "--format", "json=", cwd=demo_repo)
        assert empty.exit_code == 2 and "give a path after '='" in empty.stderr


@pytest.mark.parametrize("day", ["yesterday", "2026-13-01", "2026-02-30"])
def test_history_at_takes_only_real_dates(cli: Cli, tmp_path: Path, day: str) -> None:
    result = cli("history", "m", "--at", day, cwd=tmp_path)  # refused before any config is read
    assert result.exit_code == 2
    assert result.stderr == f"error: --at {day!r}: give a date YYYY-MM-DD (or an ISO date-time)\n"


def test_bench_figures_use_one_unit_per_line() -> None:
    from mlops_ci.checks.bench import format_latency, latency_unit

    def line(*values: float) -> list[str]:
        unit = latency_unit(*values)
        return [format_latency(v, unit) for v in values]

    assert line(0.0085, 0.012) == ["8.5 µs", "12 µs"]  # was "8.5 µs" and "0.012 ms"
    assert line(0.4, 5.0) == ["0.4 ms", "5 ms"]
    assert line(800.0, 1500.0) == ["0.8 s", "1.5 s"]


def test_sbom_diff_takes_fmt_eq_path(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('{"bomFormat": "CycloneDX", "components": []}')
    result = cli(
        "sbom", "diff", "a.json", "a.json", "-f", "json=d.json", "-f", "markdown", cwd=tmp_path
    )
    assert result.exit_code == 0, result.stderr
    assert "<!-- mlops-ci:sbom-diff -->" in result.stdout
    assert isinstance(json.loads((tmp_path / "d.json").read_text()), dict)
    wrong = cli("sbom", "diff", "a.json", "a.json", "-f", "jsn", cwd=tmp_path)
    assert wrong.exit_code == 2
    assert wrong.stderr == (
        "error: --format 'jsn': unknown format 'jsn'; did you mean 'json'? (formats: markdown, json)\n"
    )
