"""Shared fixtures. The default run needs no network: non-loopback connections are blocked here
and, through ``tests/netguard/sitecustomize.py`` on PYTHONPATH, in every Python subprocess."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

NETGUARD = Path(__file__).parent / "netguard"
sys.path.insert(0, str(NETGUARD))
import sitecustomize  # noqa: E402  (the guard installs itself on import)

os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(NETGUARD), os.environ.get("PYTHONPATH", "")) if p
)
sitecustomize.install()

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
TEST_DATA = Path(__file__).parent / "data"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--benchmarks", action="store_true", help="also collect tests/benchmarks (slow)"
    )


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """Benchmarks run in one process: parallel test workers would disturb their timings."""
    if config.getoption("--benchmarks") and hasattr(config.option, "numprocesses"):
        config.option.numprocesses = 0


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path.name == "benchmarks" and not config.getoption("--benchmarks"):
        return True
    return None


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never inherit the developer's MLOPS_CI_* settings or CI tokens."""
    ambient_oidc = (
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "SIGSTORE_ID_TOKEN",
    )
    for name in list(os.environ):
        # A CI's own OIDC credential must never reach keyless signing in a test.
        tokens = ("GITHUB_TOKEN", "GH_TOKEN", "GITLAB_TOKEN", *ambient_oidc)
        if name.startswith("MLOPS_CI_") or name in tokens:
            monkeypatch.delenv(name, raising=False)
    for name in ("GITHUB_ACTIONS", "GITLAB_CI"):  # they turn colour on in captured output
        monkeypatch.delenv(name, raising=False)
    # One second of benchmarking per model unless a test asks for more (flags win over this):
    # bench now runs alone after the other gates, so the demo's 3 s would be 3 s of every test
    # that runs its check. Tests of the setting itself set or delete it.
    monkeypatch.setenv("MLOPS_CI_BENCH_BUDGET_S", "1")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test Author")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "author@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test Author")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "author@example.com")


@dataclass
class CliResult:
    """What one CLI invocation did."""

    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., CliResult]:
    """Run ``mlops-ci ARGS`` in-process from directory ``cwd``."""
    from mlops_ci.cli import main

    def run(*args: str, cwd: Path | None = None) -> CliResult:
        capsys.readouterr()
        if cwd is not None:
            monkeypatch.chdir(cwd)
        code = main(list(args))
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mlops_ci.demo import create_demo
    from mlops_ci.pipeline import CheckRequest, run_check

    template = create_demo(tmp_path_factory.mktemp("demo-template") / "repo")
    # The eval gate's result goes into the template's (git-ignored) result cache, as a CI
    # runner's cache would hold it: copies whose model, data and card are unchanged replay it
    # instead of measuring the same model again in every test of the other gates.
    run_check(CheckRequest(cwd=template, only=("eval",), offline=True))
    return template


def copy_demo(template: Path, target: Path) -> Path:
    """Copy a demo repository (history and bare origin inside ``.git``) and re-point ``origin``."""
    import shutil

    import git

    from mlops_ci.demo import ORIGIN_DIRNAME

    shutil.copytree(template, target, symlinks=True)
    with git.Repo(target) as repo:
        repo.remotes.origin.set_url(str(target / ".git" / ORIGIN_DIRNAME))
    return target


@pytest.fixture
def demo_repo(_demo_template: Path, tmp_path: Path) -> Iterator[Path]:
    """A fresh copy of the demo repository (git history and bare origin included)."""
    yield copy_demo(_demo_template, tmp_path / "demo")


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data``; tests that need it are skipped, saying so, when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"../shared/data is absent ({SHARED_DATA}); CI always has it")
    return SHARED_DATA


def first_release_demo(target: Path) -> int:
    """What ``mlops-ci demo`` does for the first release only: create the demo, check, sign,
    commit the evidence, promote 1.0.0 to dev and staging (the state the corpus is built on)."""
    from mlops_ci.demo import create_demo
    from mlops_ci.demo.lifecycle import first_release

    return first_release(create_demo(target), lambda _line: None)


def retrain_demo_model(path: Path, seed: int) -> Path:
    """A retrained demo model at ``path``: the first release's weights moved as the demo's own
    retrain moves them (``seed`` makes the bytes new), so the eval gate passes against it."""
    from mlops_ci.demo import DEMO_MODEL, RETRAIN_JITTER
    from mlops_ci.demo.model import save_mlp

    return save_mlp(
        path, (64, 32, 2), seed=7, jitter=RETRAIN_JITTER, jitter_seed=seed, name=DEMO_MODEL
    )
