"""The marker-leak test (issue 12, acceptance 3): no secret reaches any output of any command.

Marker values are planted in every CI token variable, in a file outside the repository, and in
``.git/config`` (where ``actions/checkout`` keeps the job's token). Then every command runs over a
set of hostile repositories, each pointing mlops-ci at those secrets another way (``-r
/proc/self/environ``, URL credentials, a pack outside, a symlinked card, a state file or model
directory linked outside, the configuration itself a link to ``/proc``). Standard output,
standard error and every file any command wrote (the five report formats included) are grepped:
zero occurrences, and nothing is written outside the repository.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import copy_demo, first_release_demo
from tests.corpus import MARKER
from tests.test_corpus import FORMATS, TOKEN_VARIABLES

Hostile = Callable[[Path, Path], None]


def _age(path: Path) -> None:
    past = time.time() - 3600  # planted input, not output: the grep covers files written later
    os.utime(path, (past, past), follow_symlinks=False)


def _append(repo: Path, name: str, text: str) -> None:
    with (repo / name).open("a", encoding="utf-8") as handle:
        handle.write(text)
    _age(repo / name)


def _relink(path: Path, target: str | Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
    path.symlink_to(target)


def _requirements_environ(repo: Path, outside: Path) -> None:
    _append(
        repo,
        "requirements.txt",
        f"pkg @ https://user:{MARKER}-url@host/pkg.whl ; python_version <<< '3'\n"
        "-r /proc/self/environ\n",
    )


def _requirements_links(repo: Path, outside: Path) -> None:
    (repo / "inc.txt").symlink_to(outside / "secret.txt")
    _append(repo, "requirements.txt", "--requirement=inc.txt\n")


def _url_credentials(repo: Path, outside: Path) -> None:
    _append(
        repo,
        "requirements.txt",
        f"--extra-index-url https://u:{MARKER}-index@host/simple\n"
        f"pkg @ https://u:{MARKER}-url@host/pkg-1.0-py3-none-any.whl\n"
        "other @ https://host/${GITHUB_TOKEN}/other-1.0-py3-none-any.whl\n",
    )


def _pack_outside(repo: Path, outside: Path) -> None:
    config = repo / "mlops-ci.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("policies: [baseline]", "policies: [../outside/secret.txt]"))
    _age(config)


def _absolute_pack(repo: Path, outside: Path) -> None:
    """``policies: [/etc/passwd]``, with a file that holds a marker."""
    config = repo / "mlops-ci.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("policies: [baseline]", f"policies: [{outside}/secret.txt]"))
    _age(config)


def _database_links(repo: Path, outside: Path) -> None:
    (repo / "vuln-db" / "requests" / "PYSEC-0000-1.json").symlink_to("/proc/self/environ")
    (repo / "src" / "environ.py").symlink_to("/proc/self/environ")


def _card_and_state_links(repo: Path, outside: Path) -> None:
    _relink(repo / "models" / "fraud-detector" / "README.md", outside / "secret.txt")
    _relink(repo / "deploy" / "staging.yaml", outside / "secret.txt")
    _relink(repo / "waivers.yaml", "/proc/self/environ")


def _git_credentials(repo: Path, outside: Path) -> None:
    with (repo / ".git" / "config").open("a", encoding="utf-8") as handle:
        handle.write(
            f'[http "https://github.com/"]\n\textraheader = AUTHORIZATION: basic {MARKER}-git\n'
        )
    config = repo / "mlops-ci.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("card: models/fraud-detector/README.md", "card: .git/config"))
    _age(config)
    (repo / "src" / "creds.py").symlink_to("../.git/config")


def _models_outside(repo: Path, outside: Path) -> None:
    shutil.move(repo / "models", outside / "models")
    (repo / "models").symlink_to(outside / "models")
    _relink(repo / "reports", outside)


def _config_link(repo: Path, outside: Path) -> None:
    _relink(repo / "mlops-ci.yaml", "/proc/self/environ")


def _control(repo: Path, outside: Path) -> None:
    """The demo unchanged: shows the commands below do run (they are not all refusing early)."""


HOSTILE: dict[str, Hostile] = {
    "control": _control,
    "requirements-environ": _requirements_environ,
    "requirements-links": _requirements_links,
    "url-credentials": _url_credentials,
    "pack-outside": _pack_outside,
    "absolute-pack": _absolute_pack,
    "database-and-source-links": _database_links,
    "card-state-waiver-links": _card_and_state_links,
    "git-credentials": _git_credentials,
    "models-outside": _models_outside,
    "config-link": _config_link,
}


def _commands(reports: Path) -> list[tuple[str, ...]]:
    """Every command of ``mlops-ci --help`` that reads the repository, with its file outputs."""
    formats = [arg for fmt in FORMATS for arg in ("--format", f"{fmt}={reports / fmt}")]
    return [
        ("check", "--offline", "--skip", "bench", "--skip", "sbom", *formats),
        ("check", "--offline", "--only", "card", "--format", "markdown"),
        ("scan", "--offline", "--format", f"json={reports / 'scan.json'}"),
        ("sbom",),
        ("sbom", "diff", ".mlops-ci/sbom/fraud-detector.cdx.json", "requirements.txt"),
        ("sign",),
        ("verify",),
        ("card", "validate", "models/fraud-detector/README.md"),
        ("policy", "facts"),
        ("policy", "test", "policies"),
        ("promote", "fraud-detector", "--to", "prod", "--dry-run"),
        ("promote", "verify", "--base", "HEAD"),
        ("rollback", "fraud-detector", "--env", "staging", "--to", "1.0.0", "--dry-run"),
        ("status",),
        ("history", "fraud-detector"),
        ("fetch", "fraud-detector", "--env", "dev", "--to", str(reports / "fetched")),
        ("matrix", "--base", "HEAD"),
        ("bench", "fraud-detector", "--budget-s", "0.2"),
        ("hook", "run"),
        ("ci", "outputs", "reports/mlops-ci.json"),
        ("rules",),
    ]


# The forge client retries a refused connection for ~15 s: run once, over the control's report.
COMMENT = ("ci", "comment", "reports/mlops-ci.json", "--forge", "github", "--pr", "1")


@pytest.fixture(scope="module")
def _signed_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's first release: signed, checked, attested, promoted to dev and staging."""

    target = tmp_path_factory.mktemp("leak") / "repo"
    assert first_release_demo(target) == 0
    return target


def _listing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _leaks(roots: tuple[Path, ...], since: float) -> list[str]:
    found = []
    for root in roots:
        for directory, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d != ".git"]
            for name in filenames:
                path = Path(directory, name)
                if path.is_symlink() or not path.is_file() or path.stat().st_mtime < since:
                    continue
                if MARKER.encode() in path.read_bytes():
                    found.append(str(path))
    return found


@pytest.mark.parametrize("hostile", list(HOSTILE))
def test_no_marker_in_any_output(
    hostile: str,
    _signed_demo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every command over one hostile repository: no marker in stdout, stderr or any file
    written, no traceback, no exit 3, and no file appears outside the repository."""
    from mlops_ci.cli import main

    repo = copy_demo(_signed_demo, tmp_path / "repo")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(f"{MARKER}-file\n")
    _age(outside / "secret.txt")
    for name in TOKEN_VARIABLES:
        monkeypatch.setenv(name, f"{MARKER}-{name}")
    monkeypatch.setenv("GITHUB_REPOSITORY", "owner/repo")
    monkeypatch.setenv("GITHUB_API_URL", f"https://u:{MARKER}-api@127.0.0.1:9/api")
    monkeypatch.chdir(repo)
    HOSTILE[hostile](repo, outside)
    before_outside = _listing(outside)
    reports = tmp_path / "reports"
    reports.mkdir()
    since = time.time() - 1
    problems = []
    codes = {}
    for args in [*_commands(reports), *([COMMENT] if hostile == "control" else [])]:
        capsys.readouterr()
        started = time.monotonic()
        code = main(list(args))
        out, err = capsys.readouterr()
        if os.environ.get("LEAK_TIMES"):  # where the time goes, for whoever trims this test
            print(f"TIME {time.monotonic() - started:6.2f} {code} {args[:3]}", file=sys.__stderr__)
        codes[args[0] + (f" {args[1]}" if args[1:2] and not args[1].startswith("-") else "")] = code
        if MARKER in out + err:
            problems.append(f"{args}: marker in the output: {(out + err)[-600:]}")
        if "Traceback" in out + err or code == 3:
            problems.append(f"{args}: exit {code}, crashed: {(out + err)[-600:]}")
    leaked = _leaks((repo, reports, outside), since)
    assert not problems, "\n".join(problems)
    assert not leaked, f"a planted secret reached {leaked}"
    assert _listing(outside) == before_outside, "a command wrote outside the repository"
    if hostile == "control":
        # The commands really ran: the gate passes, and so do signing and verification.
        assert codes["check"] in (0, 1) and codes["sign"] == 0 and codes["verify"] == 0, codes
