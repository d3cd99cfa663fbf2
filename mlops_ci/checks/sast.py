"""The ``sast`` check: bandit on the configured source paths, one finding per bandit result.

Rule ``SAST-<bandit test id>`` (e.g. ``SAST-B602``) at ``file:line:column``; the message carries
bandit's text, its confidence and the CWE. Severity is bandit's (LOW, MEDIUM, HIGH). The
fingerprint is the test id, the file and the flagged source line's text (plus its occurrence
number among identical lines), so it survives lines moving.

Cached (see :mod:`mlops_ci.cache`): keyed by every file under the source paths, the repository's
``pyproject.toml`` (bandit's configuration) and bandit's version.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from mlops_ci.checks.base import Context, Scope, result, skipped
from mlops_ci.checks.cache_keys import files_under, tool_versions
from mlops_ci.errors import MlopsCiError
from mlops_ci.findings import CheckResult, Finding, JsonValue, Location, Severity
from mlops_ci.safepath import read_bytes
from mlops_ci.scan.bandit import BanditIssue, bandit_config, run_bandit
from mlops_ci.scan.settings import scan_settings

_SEVERITIES = {"LOW": Severity.LOW, "MEDIUM": Severity.MEDIUM, "HIGH": Severity.HIGH}


class SastCheck:
    """Runs bandit (with ``[tool.bandit]`` from pyproject.toml when present)."""

    name: ClassVar[str] = "sast"
    needs: ClassVar[tuple[str, ...]] = ()
    scope: ClassVar[Scope] = "repository"
    stampable: ClassVar[bool] = False  # the key holds bandit's version, not only files

    def inputs(self, ctx: Context) -> list[Path]:
        """Every file under the source paths (bandit also reads a ``.bandit`` there, and
        follows file links) and ``pyproject.toml``; the result cache's own files are left out."""
        settings = scan_settings(ctx)
        if not settings.source:
            return []
        skip = [settings.cache_dir, ctx.root / ".mlops-ci" / "cache"]
        return [*files_under(settings.source, skip), ctx.root / "pyproject.toml"]

    def cache_material(self, ctx: Context) -> dict[str, Any]:
        """bandit's version (its rules change with it), and the source paths themselves."""
        settings = scan_settings(ctx)
        return {
            "tools": tool_versions("bandit", "stevedore"),
            "source": [str(p) for p in settings.source],
        }

    def run(self, ctx: Context) -> CheckResult:
        """Scan the source paths and map bandit's results to findings."""
        settings = scan_settings(ctx)
        if not settings.source:
            return skipped(
                ctx, self.name, "no source paths to scan (set 'scan.source' or use --source)"
            )
        run = run_bandit(list(settings.source), bandit_config(ctx.root), ctx.root)
        findings: list[Finding] = []
        seen: dict[tuple[str, str, str], int] = {}
        counts = {"high": 0, "medium": 0, "low": 0}
        for issue in run.issues:
            severity = _SEVERITIES.get(issue.severity, Severity.LOW)
            counts[severity.label] += 1
            shown = ctx.display(issue.path)
            text = _source_line(issue.path, issue.line)
            occurrence = seen.get((issue.test_id, shown, text), 0)
            seen[(issue.test_id, shown, text)] = occurrence + 1
            findings.append(
                ctx.finding(
                    f"SAST-{issue.test_id}",
                    severity,
                    _message(issue),
                    Location(shown, issue.line, issue.column),
                    text,
                    occurrence,
                )
            )
        facts: dict[str, JsonValue] = {
            "counts": counts,
            "total": len(findings),
            "errors": [{"path": ctx.display(Path(p)), "reason": r} for p, r in run.errors],
        }
        metrics = {f"{k}_issues": float(v) for k, v in counts.items()}
        return result(ctx, self.name, findings, metrics=metrics, facts=facts)


def _message(issue: BanditIssue) -> str:
    cwe = f", CWE-{issue.cwe}" if issue.cwe is not None else ""
    return (
        f"{issue.test_id} {issue.test_name}: {issue.text.rstrip('.')}"
        f" (confidence {issue.confidence.lower()}{cwe})"
    )


def _source_line(path: Path, line: int) -> str:
    try:
        data = read_bytes(path, what="source file")
    except (OSError, MlopsCiError):
        return ""
    lines = data.decode("utf-8", errors="replace").splitlines()
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""
