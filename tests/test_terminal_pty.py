"""Acceptance (issue 15, item 1): ``mlops-ci check`` as a person meets it, in a terminal.

The CLI runs in a pseudo-terminal (its stdout and stderr both a TTY, ``TERM=xterm-256color``):
the output carries no Markdown or HTML markup, the verdict is coloured, and the live view
(stderr) ends with every check that ran shown finished. The same run piped prints plain text,
and ``NO_COLOR=1`` in the terminal turns colour off.
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO_ROOT

ARGS = ("check", "--offline", "--only", "card", "--only", "policy")
SGR = re.compile(r"\x1b\[([0-9;]*)m")
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
COLOUR_CODES = {*range(30, 39), *range(40, 49), *range(90, 98), *range(100, 108)}


def _environ(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "GITHUB_ACTIONS")}
    env.pop("GITLAB_CI", None)
    env.pop("CI", None)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    return {**env, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40", **extra}


def _in_pty(cwd: Path, *args: str, **extra: str) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as stdin, stdout and stderr; all it wrote."""
    leader, follower = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlops_ci", *args],
        cwd=cwd,
        env=_environ(**extra),
        stdin=follower,
        stdout=follower,
        stderr=follower,
        close_fds=True,
    )
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 1.0)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(leader)
        code = proc.wait(timeout=30)
    return code, b"".join(chunks).decode("utf-8", "replace")


def _colours(output: str) -> set[int]:
    return {
        int(p) for params in SGR.findall(output) for p in params.split(";") if p.isdigit()
    } & COLOUR_CODES


def test_check_in_a_terminal_then_piped(demo_repo: Path) -> None:
    code, output = _in_pty(demo_repo, *ARGS, "--format", "json=report.json")
    assert code == 0, output
    plain = ANSI.sub("", output).replace("\r", "")
    for markup in ("<!--", "<details>", "<sub>", "**", "| ---"):
        assert markup not in plain, markup
    # The verdict is coloured (green PASS), and the summary says where the report went.
    assert re.search(r"\x1b\[[0-9;]*3[2]m(mlops-ci: )?PASS", output), output
    assert "reports written to: report.json" in plain
    # The live view's last frame: every check that ran, finished.
    results = json.loads((demo_repo / "report.json").read_text())["results"]
    ran = [r for r in results if r["check"] in ("card", "policy")]
    assert len(ran) >= 2
    frame = plain.rsplit(f"mlops-ci check: {len(ran)} of {len(ran)} checks finished\n", 1)
    assert len(frame) == 2, plain
    for result in ran:
        name = f"{result['check']} [{result['model']}]" if result["model"] else result["check"]
        assert re.search(rf"✔ {result['status']}\s+{re.escape(name)}\s", frame[1]), frame[1]

    piped = subprocess.run(
        [sys.executable, "-m", "mlops_ci", *ARGS],
        cwd=demo_repo,
        env=_environ(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert piped.returncode == 0, piped.stderr
    assert "\x1b" not in piped.stdout + piped.stderr
    assert piped.stdout.startswith("mlops-ci: PASS  every gate passed (exit 0)\n")
    assert "checks finished" not in piped.stdout + piped.stderr  # no live view in a pipe


def test_no_color_in_a_terminal(demo_repo: Path) -> None:
    code, output = _in_pty(demo_repo, *ARGS, NO_COLOR="1")
    assert code == 0, output
    assert "mlops-ci: PASS" in ANSI.sub("", output)
    assert not _colours(output), output
