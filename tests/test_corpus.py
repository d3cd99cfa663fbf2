"""Runs the bad-input and forgery corpus of ``tests/corpus`` (issue 12, acceptance 1 and 3)."""

from __future__ import annotations

import importlib
import os
import pkgutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from tests import corpus
from tests.conftest import copy_demo, first_release_demo
from tests.corpus import KINDS, MARKER, Case

# Every variable a CI runner or a developer's shell may hold a credential in.
TOKEN_VARIABLES = (
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "GITLAB_TOKEN",
    "CI_JOB_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "ACTIONS_RUNTIME_TOKEN",
    "CI_REGISTRY_PASSWORD",
    "MLOPS_CI_FORGE_TOKEN",
    "AWS_SECRET_ACCESS_KEY",
    "PYPI_TOKEN",
)
FORMATS = ("json", "markdown", "sarif", "junit", "gitlab-codequality", "html", "text")
HANG_S = 30


def _all_cases() -> list[Case]:
    cases: list[Case] = []
    for info in pkgutil.iter_modules(corpus.__path__):
        module = importlib.import_module(f"{corpus.__name__}.{info.name}")
        cases.extend(getattr(module, "CASES", []))
    return cases


CASES = _all_cases()


def test_corpus_covers_every_input_kind() -> None:
    """At least 150 cases, unique IDs, every input kind, at least 25 forged promotions."""
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    assert len(CASES) >= 150, len(CASES)
    kinds = {case.kind for case in CASES}
    assert set(KINDS) <= kinds, sorted(set(KINDS) - kinds)
    assert kinds <= set(KINDS), sorted(kinds - set(KINDS))
    forgeries = [case for case in CASES if case.kind == "forgery" and case.exit_code != 0]
    assert len(forgeries) >= 25, len(forgeries)
    assert all(case.rule for case in forgeries), "every refused forgery names its rule"


class _Hang(Exception):
    pass


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise _Hang(f"over {HANG_S} s")


def _written_files(roots: tuple[Path, ...], since: float) -> Iterator[Path]:
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d != ".git"]
            for name in filenames:
                path = Path(dirpath, name)
                if not path.is_symlink() and path.is_file() and path.stat().st_mtime >= since:
                    yield path


@pytest.fixture(scope="session")
def _corpus_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's first release: signed, checked, attested, promoted to dev and staging."""

    target = tmp_path_factory.mktemp("corpus") / "repo"
    assert first_release_demo(target) == 0
    return target


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_corpus_case(
    case: Case,
    _corpus_template: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The case exits as expected, within 30 s, with no traceback and no marker anywhere."""
    from mlops_ci.cli import main

    repo = copy_demo(_corpus_template, tmp_path / "repo")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(f"{MARKER}-file\n")
    for name in TOKEN_VARIABLES:
        monkeypatch.setenv(name, f"{MARKER}-{name}")
    monkeypatch.chdir(repo)
    case.setup(repo, outside)
    args = list(case.args)
    reports = tmp_path / "reports"
    if case.reports:
        reports.mkdir()
        for fmt in FORMATS:
            args += ["--format", f"{fmt}={reports / fmt}"]
    since = time.time() - 1
    capsys.readouterr()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(HANG_S)
    started = time.monotonic()
    try:
        code = main(args)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    elapsed = time.monotonic() - started
    out, err = capsys.readouterr()
    both = out + err
    assert "Traceback" not in both, both[-3000:]
    assert code != 3, both[-3000:]
    assert code == case.exit_code, f"exit {code}, expected {case.exit_code}:\n{both[-3000:]}"
    assert elapsed < HANG_S
    if case.rule is not None:
        assert case.rule in both, both[-3000:]
    assert MARKER not in both, "a planted secret reached the output"
    leaked = [
        str(path)
        for path in _written_files((repo, reports), since)
        if MARKER.encode() in path.read_bytes()
    ]
    assert not leaked, f"a planted secret reached {leaked}"
