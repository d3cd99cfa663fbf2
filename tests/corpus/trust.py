"""Settings in the repository's configuration that would make mlops-ci run the pull request's code
or send a credential somewhere the pull request chose."""

from __future__ import annotations

from pathlib import Path

from tests.corpus import Case
from tests.gitrepos import git


def _append_config(repo: Path, text: str) -> None:
    config = repo / "mlops-ci.yaml"
    kept = [
        line for line in config.read_text().splitlines() if not line.startswith(("sbom:", "forge:"))
    ]
    config.write_text("\n".join(kept) + "\n" + text)


def _committed_interpreter(repo: Path, outside: Path) -> None:
    script = repo / "tools" / "python"
    script.parent.mkdir()
    script.write_text(f"#!/bin/sh\ntouch {outside / 'ran'}\nexit 1\n")
    script.chmod(0o755)
    _append_config(repo, "sbom: {source: environment, python: tools/python}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Add an interpreter")


def _committed_interpreter_through_link(repo: Path, outside: Path) -> None:
    _committed_interpreter(repo, outside)
    (repo / "py").symlink_to("tools/python")
    _append_config(repo, "sbom: {source: environment, python: py}\n")


def _api_url(url: str) -> object:
    def setup(repo: Path, outside: Path) -> None:
        _append_config(repo, f"forge: {{kind: github, repository: o/r, api_url: '{url}'}}\n")

    return setup


PROMOTE_PROD = ("promote", "fraud-detector", "--to", "prod")
CASES = [
    Case(
        "trust-sbom-python-committed",
        "config",
        _committed_interpreter,
        ("check", "--only", "sbom"),
        2,
        rule="sbom.python names a file committed",
    ),
    Case(
        "trust-sbom-python-committed-via-link",
        "config",
        _committed_interpreter_through_link,
        ("check", "--only", "sbom"),
        2,
        rule="sbom.python names a file committed",
    ),
    Case(
        "trust-forge-api-url-elsewhere",
        "config",
        _api_url("https://collector.example/api"),  # type: ignore[arg-type]
        PROMOTE_PROD,
        2,
        rule="not on the forge's own host",
    ),
    Case(
        "trust-forge-api-url-userinfo-trick",
        "config",
        _api_url("https://api.github.com@collector.example/api"),  # type: ignore[arg-type]
        PROMOTE_PROD,
        2,
        rule="not on the forge's own host",
    ),
]
