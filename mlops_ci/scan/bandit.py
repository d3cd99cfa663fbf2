"""Running bandit on source paths and reading its JSON report.

bandit runs as ``sys.executable -m bandit -r PATHS -f json`` (its command line is its stable
interface). When the repository's ``pyproject.toml`` has a ``[tool.bandit]`` table it is passed
with ``-c``, so the project's own skips, tests and excludes apply. bandit exits 1 when it found
issues; anything else but 0 or 1, or no report, is an error the user must see (exit 2).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from mlops_ci.errors import InputError, SourcePosition
from mlops_ci.safepath import confine, read_bytes, refuse_escaping_links
from mlops_ci.scrub import excerpt, subprocess_environ

_RUN_LIMIT_S = 600


@dataclass(frozen=True)
class BanditIssue:
    """One bandit result."""

    test_id: str
    test_name: str
    path: Path
    line: int
    column: int | None
    severity: str
    confidence: str
    cwe: int | None
    text: str
    more_info: str


@dataclass(frozen=True)
class BanditRun:
    """Every issue bandit reported, and the files it could not scan."""

    issues: tuple[BanditIssue, ...]
    errors: tuple[tuple[str, str], ...]


def bandit_config(root: Path) -> Path | None:
    """``root/pyproject.toml`` when it has a ``[tool.bandit]`` table."""
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return None
    try:
        # Inside the repository and a regular file, or it is not bandit's configuration.
        real = confine("pyproject.toml", root, what="pyproject.toml")
        data = tomllib.loads(read_bytes(real, what="pyproject.toml").decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, InputError):
        return None
    return pyproject if "bandit" in data.get("tool", {}) else None


def run_bandit(
    paths: list[Path], config: Path | None = None, root: Path | None = None
) -> BanditRun:
    """Run bandit recursively on ``paths``; each must exist, and no symlink under them may lead
    outside ``root`` (bandit follows file links and quotes the lines it flags)."""
    for path in paths:
        if not path.exists():
            raise InputError(
                "source path does not exist; fix 'scan.source' or --source",
                SourcePosition(str(path)),
            )
        if root is not None:
            refuse_escaping_links(path, root, what="source file")
    with tempfile.TemporaryDirectory(prefix="mlops-ci-bandit-") as work:
        report = Path(work) / "bandit.json"
        command = [sys.executable, "-m", "bandit", "-r", "-q", "-f", "json", "-o", str(report)]
        if config is not None:
            command += ["-c", str(config)]
        command += [str(p) for p in paths]
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=_RUN_LIMIT_S,
                check=False,
                env=subprocess_environ(),  # bandit needs no credential of this runner
            )
        except subprocess.TimeoutExpired:
            raise InputError(f"bandit did not finish in {_RUN_LIMIT_S} s") from None
        if done.returncode not in (0, 1) or not report.is_file():
            lines = [ln for ln in (done.stderr or done.stdout).splitlines() if ln.strip()]
            detail = excerpt(lines[-1], 200) if lines else f"exit code {done.returncode}"
            where = SourcePosition(str(config)) if config is not None else None
            raise InputError(f"bandit failed: {detail}", where)
        data = json.loads(report.read_text(encoding="utf-8"))
    issues = tuple(
        BanditIssue(
            test_id=str(item["test_id"]),
            test_name=str(item.get("test_name", "")),
            path=Path(item["filename"]),
            line=int(item.get("line_number") or 1),
            column=int(item["col_offset"]) + 1 if item.get("col_offset") is not None else None,
            severity=str(item.get("issue_severity", "UNDEFINED")).upper(),
            confidence=str(item.get("issue_confidence", "UNDEFINED")).upper(),
            cwe=_cwe(item.get("issue_cwe")),
            text=str(item.get("issue_text", "")),
            more_info=str(item.get("more_info", "")),
        )
        for item in data.get("results", [])
    )
    errors = tuple(
        (str(e.get("filename", "")), str(e.get("reason", ""))) for e in data.get("errors", [])
    )
    return BanditRun(issues, errors)


def _cwe(value: object) -> int | None:
    if isinstance(value, dict) and isinstance(value.get("id"), int) and value["id"] > 0:
        return int(value["id"])
    return None
