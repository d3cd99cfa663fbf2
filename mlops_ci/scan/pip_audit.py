"""Running pip-audit through its command line and reading its JSON report.

pip-audit audits a temporary requirements file holding each pinned ``name==version`` once, with
``--no-deps --disable-pip``: nothing is resolved, downloaded or installed, and pip never runs.
The subprocess runs with ``sys.executable -m pip_audit`` (the pip-audit installed beside
mlops-ci). When the service is the loopback OSV server, proxy variables are removed from its
environment and ``NO_PROXY`` covers loopback, so the audit cannot leave the machine through a
proxy either.

pip-audit imports pip-api, which runs ``python -m pip --version`` when it is imported (about half
a second: pip imports most of itself). With ``--disable-pip`` pip-audit never uses pip or that
version, so on POSIX pip-api is pointed (``PIPAPI_PYTHON_LOCATION``, its own setting) at a
two-line shell script that prints the version of the pip installed here, read from its metadata.

pip-audit's outcome is never trusted to mean "clean" by itself: a run that crashed (an
unreachable service makes pip-audit exit with a traceback), a dependency it skipped, and a
dependency missing from its report are all returned as unaudited, with the reason.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Literal

from packaging.utils import canonicalize_name

from mlops_ci.scan.osv import parse_version
from mlops_ci.scrub import excerpt, subprocess_environ

Service = Literal["pypi", "osv"]
DEFAULT_TIMEOUT_S = 15
# A loopback server may still be building its index when pip-audit's first query arrives.
LOOPBACK_TIMEOUT_S = 120
_RUN_LIMIT_S = 600
_KEPT_VARIABLES = frozenset(
    {
        "PATH",
        "HOME",
        "LANG",
        "TMPDIR",
        "TEMP",
        "TMP",
        "PYTHONPATH",
        "PYTHONHOME",
        "SYSTEMROOT",
        "VIRTUAL_ENV",
        "SSL_CERT_FILE",
        "REQUESTS_CA_BUNDLE",
    }
)
_URL_CREDENTIALS = re.compile(r"(?<=//)[^/@\s:]+:[^/@\s]+@")
# A version as pip publishes them: safe inside single quotes in a shell script.
_PIP_VERSION = re.compile(r"[0-9A-Za-z.+!-]+")


@dataclass(frozen=True)
class Vulnerability:
    """One result of pip-audit for one dependency."""

    id: str
    aliases: tuple[str, ...]
    fix_versions: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class AuditRun:
    """What pip-audit said: vulnerabilities per ``(name, version)``, and what it could not audit."""

    vulnerabilities: Mapping[tuple[str, str], tuple[Vulnerability, ...]] = field(
        default_factory=dict
    )
    unaudited: Mapping[tuple[str, str], str] = field(default_factory=dict)
    error: str | None = None


def dependency_key(name: str, version: str) -> tuple[str, str]:
    """The key under which a dependency's results are kept: normalised name and version."""
    parsed = parse_version(version)
    return canonicalize_name(name), str(parsed) if parsed is not None else version


class PendingAudit:
    """A pip-audit process started by :func:`start_pip_audit`; :meth:`wait` reads its report.

    Starting pip-audit before the vulnerability data is ready overlaps its start-up (about
    0.4 s of imports) with loading the index: its first query simply waits in the loopback
    server's accept queue.
    """

    def __init__(
        self, wanted: list[tuple[str, str]], command: list[str], work: Path, env: dict[str, str]
    ) -> None:
        self._wanted = wanted
        self._work = work
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
        )

    def wait(self) -> AuditRun:
        """Wait for pip-audit and read what it reported (a crash makes everything unaudited)."""
        try:
            _, stderr = self._process.communicate(timeout=_RUN_LIMIT_S)
        except subprocess.TimeoutExpired:
            self.cancel()
            return _all_unaudited(self._wanted, f"pip-audit did not finish in {_RUN_LIMIT_S} s")
        try:
            report = self._work / "report.json"
            if self._process.returncode not in (0, 1) or not report.is_file():
                reason = f"pip-audit failed: {_last_line(stderr)}"
                return _all_unaudited(self._wanted, reason)
            try:
                data = json.loads(report.read_text(encoding="utf-8"))
            except ValueError:
                return _all_unaudited(self._wanted, "pip-audit wrote an unreadable report")
            return _read_report(data, self._wanted)
        finally:
            shutil.rmtree(self._work, ignore_errors=True)

    def cancel(self) -> None:
        """Stop pip-audit (the audit is abandoned) and remove its files."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.communicate()
        shutil.rmtree(self._work, ignore_errors=True)


def start_pip_audit(
    dependencies: Iterable[tuple[str, str]],
    *,
    service: Service,
    osv_url: str | None = None,
    timeout_s: int = DEFAULT_TIMEOUT_S,
) -> PendingAudit | AuditRun:
    """Start auditing the pinned ``(name, version)`` pairs; ``osv_url`` selects a local OSV
    server. Returns a finished (empty) run when there is nothing to audit."""
    wanted = sorted({dependency_key(n, v) for n, v in dependencies})
    if not wanted:
        return AuditRun()
    work = Path(tempfile.mkdtemp(prefix="mlops-ci-pip-audit-"))
    requirements = work / "requirements.txt"
    requirements.write_text("".join(f"{n}=={v}\n" for n, v in wanted), encoding="utf-8")
    command = [
        sys.executable, "-m", "pip_audit",
        "--requirement", str(requirements),
        "--no-deps", "--disable-pip",
        "--format", "json", "--output", str(work / "report.json"),
        "--desc", "on", "--aliases", "on",
        "--progress-spinner", "off",
        "--cache-dir", str(work / "cache"),
        "--timeout", str(timeout_s),
        "--vulnerability-service", service,
    ]  # fmt: skip
    if osv_url is not None:
        command += ["--osv-url", osv_url]
    env = _environment(loopback_only=osv_url is not None)
    shim = _pip_version_shim(work)
    if shim is not None:
        env["PIPAPI_PYTHON_LOCATION"] = str(shim)
    return PendingAudit(wanted, command, work, env)


def run_pip_audit(
    dependencies: Iterable[tuple[str, str]],
    *,
    service: Service,
    osv_url: str | None = None,
    timeout_s: int = DEFAULT_TIMEOUT_S,
) -> AuditRun:
    """Audit the pinned ``(name, version)`` pairs and wait for the result."""
    pending = start_pip_audit(dependencies, service=service, osv_url=osv_url, timeout_s=timeout_s)
    return pending if isinstance(pending, AuditRun) else pending.wait()


def _environment(*, loopback_only: bool) -> dict[str, str]:
    """pip-audit's environment. Against the loopback server it gets only what a Python process
    needs (no proxy settings, no tokens): nothing can route it off the machine, and requests'
    per-query scan of the environment for proxies stays cheap."""
    if not loopback_only:
        return subprocess_environ()  # PyPI's JSON API needs no credential of this runner
    env = {
        name: value
        for name, value in os.environ.items()
        if name in _KEPT_VARIABLES or name.startswith("LC_")
    }
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost,::1"
    return env


def _pip_version_shim(work: Path) -> Path | None:
    """An executable in ``work`` that answers pip-api's ``-m pip --version`` as pip would; None
    (pip-api runs pip) off POSIX, without pip's metadata, or where ``work`` cannot hold
    programs (a ``noexec`` temporary directory)."""
    if os.name != "posix":
        return None
    try:
        version = metadata.version("pip")
    except metadata.PackageNotFoundError:
        return None  # pip-api's own call fails too: pip-audit reports why
    if not _PIP_VERSION.fullmatch(version):
        return None
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    shim = work / "pip-version"
    # pip-api reads the second word of "pip <version> from <directory> (python <version>)".
    shim.write_text(
        f"#!/bin/sh\nprintf '%s\\n' 'pip {version} from mlops-ci (python {python})'\n",
        encoding="utf-8",
    )
    shim.chmod(0o700)
    return shim if os.access(shim, os.X_OK) else None


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    last = excerpt(lines[-1], 200) if lines else "no error output"
    if "ConnectionError" in last or "Max retries exceeded" in last:
        last = "the vulnerability service could not be reached (no network?)"
    return _URL_CREDENTIALS.sub("***@", last)[:300]


def _all_unaudited(wanted: list[tuple[str, str]], reason: str) -> AuditRun:
    return AuditRun(unaudited=dict.fromkeys(wanted, reason), error=reason)


def _read_report(data: object, wanted: list[tuple[str, str]]) -> AuditRun:
    entries = data.get("dependencies", []) if isinstance(data, dict) else []
    vulnerabilities: dict[tuple[str, str], tuple[Vulnerability, ...]] = {}
    unaudited: dict[tuple[str, str], str] = {}
    for entry in entries:
        name = str(entry.get("name", ""))
        if "skip_reason" in entry or "version" not in entry:
            reason = str(entry.get("skip_reason") or "skipped by pip-audit")
            matches = [k for k in wanted if k[0] == canonicalize_name(name)]
            for key in matches:
                unaudited[key] = f"pip-audit could not audit it: {reason}"
            continue
        key = dependency_key(name, str(entry["version"]))
        vulnerabilities[key] = tuple(
            Vulnerability(
                id=str(vuln["id"]),
                aliases=tuple(str(a) for a in vuln.get("aliases") or ()),
                fix_versions=tuple(str(v) for v in vuln.get("fix_versions") or ()),
                description=str(vuln.get("description") or ""),
            )
            for vuln in entry.get("vulns") or ()
        )
    for key in wanted:
        if key not in vulnerabilities and key not in unaudited:
            unaudited[key] = "pip-audit's report does not mention it"
    return AuditRun(vulnerabilities, unaudited)
