"""Run a README shell block, marked ``<!-- test: NAME -->``, exactly as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def run_readme_block(name: str, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """Run the ``sh`` block under ``<!-- test: NAME -->`` with ``bash -euo pipefail`` in ``cwd``,
    with this virtualenv's ``mlops-ci`` first on PATH and this checkout importable."""
    match = re.search(
        rf"<!-- test: {re.escape(name)} -->\n```sh\n(.*?)```", README.read_text(), re.S
    )
    assert match, f"README.md: the block marked <!-- test: {name} --> is missing"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(README.parent), os.environ.get("PYTHONPATH", "")) if p
        ),
    }
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", match.group(1)],
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_mlops_ci(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """This virtualenv's ``mlops-ci ARGS`` in ``cwd`` (a separate process, as a user runs it)."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "mlops-ci"), *args],
        check=False,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
