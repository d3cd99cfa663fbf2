"""Real git repositories with bare remotes, for promotion tests."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` and return its output."""
    out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def bare_remote(
    tmp: Path, files: dict[str, str | bytes], name: str = "origin.git"
) -> tuple[Path, Path]:
    """A bare remote whose main branch holds ``files``, and a clone of it. Returns (bare, clone)."""
    bare = tmp / name
    seed = tmp / f"{name}-seed"
    git(tmp, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    git(tmp, "init", "--quiet", "--initial-branch=main", str(seed))
    for rel, content in files.items():
        path = seed / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    git(seed, "add", "-A")
    git(seed, "commit", "--quiet", "-m", "initial")
    git(seed, "remote", "add", "origin", str(bare))
    git(seed, "push", "--quiet", "origin", "main")
    return bare, clone(bare, tmp / f"{name}-clone")


def clone(bare: Path, target: Path) -> Path:
    """A fresh clone of ``bare`` at ``target``."""
    git(target.parent, "clone", "--quiet", str(bare), str(target))
    return target
