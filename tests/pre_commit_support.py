"""pre-commit, for real: this checkout as a hook repository, and a demo repository that uses it.

pre-commit clones the hook repository, creates the hook's virtualenv and ``pip install``-s this
project into it, then runs the hook there, as for any user. One thing differs, so the default
test run makes no network connection: pip installs only mlops-ci itself (``PIP_NO_INDEX``,
``PIP_NO_DEPS``, no build isolation) and its dependencies come from the test environment's
site-packages on ``PYTHONPATH``, instead of from the package index (a full install took about a
minute here, with the index reachable).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

from tests.conftest import REPO_ROOT

PRE_COMMIT = str(Path(sys.executable).parent / "pre-commit")


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo``; return its output."""
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()


def git_push(repo: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``git push origin main`` in ``repo`` (its pre-push hook runs), without raising."""
    return subprocess.run(
        ["git", "push", "origin", "main"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def snapshot_checkout(target: Path) -> str:
    """Copy this checkout's files (tracked and new, not ignored) into a git repo; return its SHA."""
    listed = git(REPO_ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for name in filter(None, listed.split("\0")):
        source = REPO_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    git(target, "init", "-q", "-b", "main")
    git(target, "add", "-A")
    git(target, "commit", "-qm", "snapshot of the checkout under test")
    return git(target, "rev-parse", "HEAD")


def readme_block(marker: str) -> str:
    """The README's YAML block marked ``<!-- test: MARKER -->``."""
    readme = (REPO_ROOT / "README.md").read_text()
    match = re.search(rf"<!-- test: {marker} -->\n```yaml\n(.*?)```", readme, re.S)
    assert match, f"README.md: the usage block marked <!-- test: {marker} --> is missing"
    return match.group(1)


def use_readme_config(repo: Path, hook_repo: Path, rev: str) -> None:
    """Write the README's pre-push block into ``repo``, pointed at the snapshot of this checkout."""
    config = YAML(typ="safe").load(readme_block("pre-push"))
    (entry,) = config["repos"]
    assert entry["repo"] == "https://github.com/mlops-ci/mlops-ci"
    entry.update(repo=str(hook_repo), rev=rev)
    yaml = YAML()
    with (repo / ".pre-commit-config.yaml").open("w") as handle:
        yaml.dump(config, handle)


_NOT_SHARED = ("pip", "setuptools", "pkg_resources", "_distutils_hack", "distutils", "wheel")


def shared_dependencies(home: Path) -> Path:
    """A folder of links to the test environment's packages, less the packaging tools and
    mlops-ci itself (the hook environment brings its own, seeded by virtualenv)."""
    target = home / "shared-site-packages"
    if target.is_dir():
        return target
    target.mkdir(parents=True)
    for site in (Path(p) for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()):
        for entry in site.iterdir():
            name = entry.name.split("-")[0].split(".")[0].lower()
            skip = name in _NOT_SHARED or "mlops_ci" in entry.name or entry.suffix == ".pth"
            if not skip and not (target / entry.name).exists():
                (target / entry.name).symlink_to(entry)
    return target


def hook_environment(home: Path) -> dict[str, str]:
    """The environment pre-commit (and a ``git push`` running its hook) gets in the tests."""
    python_path = os.pathsep.join(
        [os.environ.get("PYTHONPATH", ""), str(shared_dependencies(home))]
    ).strip(os.pathsep)
    return {
        **os.environ,
        "PRE_COMMIT_HOME": str(home),
        "PIP_NO_INDEX": "1",
        "PIP_NO_DEPS": "1",
        "PIP_NO_BUILD_ISOLATION": "0",  # pip reads "0" as "no isolation": setuptools is seeded
        "PYTHONPATH": python_path,
    }


def pre_commit(
    repo: Path, home: Path, *args: str, timeout: int = 900
) -> subprocess.CompletedProcess[str]:
    """Run pre-commit in ``repo`` with ``PRE_COMMIT_HOME=home``."""
    env = hook_environment(home)
    return subprocess.run(
        [PRE_COMMIT, *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
