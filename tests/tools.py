"""Where the optional tier's tools live, and the skip that names how to get them.

``.ci/install-tools`` (run by ``.ci/run``) installs them under ``.tools/`` (or, for Chromium,
from Debian's packages); the test run itself installs nothing. A test that needs a tool calls
:func:`require` and is skipped, saying which tool and how to install it, when it is absent.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
TOOLS = REPO_ROOT / ".tools"

#: tool name -> where .ci/install-tools puts it (checked first), then the PATH name.
_LOCATIONS: dict[str, tuple[Path, str]] = {
    "act": (TOOLS / "act" / "bin" / "act", "act"),
    "sarif-multitool": (
        TOOLS / "sarif-multitool" / "node_modules" / ".bin" / "sarif-multitool",
        "sarif-multitool",
    ),
    "gitlab-ci-local": (
        TOOLS / "gitlab-ci-local" / "node_modules" / ".bin" / "gitlab-ci-local",
        "gitlab-ci-local",
    ),
    "chromium": (Path("/usr/bin/chromium"), "chromium"),
    "docker-registry": (Path("/usr/bin/docker-registry"), "docker-registry"),
    "skopeo": (Path("/usr/bin/skopeo"), "skopeo"),
}


def find(name: str) -> str | None:
    """The path of tool ``name`` (its ``.tools`` install first, then PATH), or None."""
    local, on_path = _LOCATIONS[name]
    if local.is_file():
        return str(local)
    return shutil.which(on_path)


def require(name: str) -> str:
    """The path of tool ``name``; skip the calling test, saying how to install it, when absent."""
    found = find(name)
    if found is None:
        pytest.skip(
            f"{name} is not installed: run .ci/install-tools (.ci/run does) for the optional tier"
        )
    return found
