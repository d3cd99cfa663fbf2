"""The ``deps`` check end to end: real pip-audit runs against real OSV records, offline.

Every test here runs under the suite's socket guard, which also applies to the pip-audit
subprocess: a non-loopback connection there would make pip-audit fail, and the findings below
would be DEP-UNAUDITED instead of the expected advisories.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version
from ruamel.yaml import YAML

from mlops_ci.findings import Report
from tests.conftest import TEST_DATA, CliResult

Cli = Callable[..., CliResult]
FIXTURE_DB = TEST_DATA / "osv"
OSV_NOWHERE = "http://127.0.0.1:9/v1/query"  # the discard port: nothing answers there
VULNERABLE = {
    "requests": "2.19.0",
    "urllib3": "1.24.1",
    "pyyaml": "5.3",
    "jinja2": "2.10",
    "django": "2.2.0",
}
PATCHED = {
    "requests": "2.32.3",
    "urllib3": "2.2.3",
    "pyyaml": "6.0.2",
    "jinja2": "3.1.4",
    "django": "4.2.16",
}


def expected_advisories(db: Path, pins: dict[str, str]) -> set[tuple[str, str]]:
    """An independent computation: ruamel.yaml, and each ECOSYSTEM range as a SpecifierSet."""
    yaml = YAML(typ="safe", pure=True)
    found = set()
    for file in sorted(db.rglob("*.yaml")):
        text = file.read_text()
        if not any(f"name: {name}" in text.lower() for name in pins):
            continue  # cheap pre-filter, so the full database parses quickly
        record = yaml.load(text)
        if record.get("withdrawn"):
            continue
        for affected in record["affected"]:
            name = canonicalize_name(affected["package"]["name"])
            if name not in pins:
                continue
            version = Version(pins[name])
            listed = {Version(str(v)) for v in affected.get("versions", [])}
            hit = version in listed
            for rng in affected.get("ranges", []):
                if rng["type"] != "ECOSYSTEM":
                    continue
                start = None
                for event in rng["events"]:
                    if "introduced" in event:
                        start = str(event["introduced"])
                    elif start is not None and ("fixed" in event or "last_affected" in event):
                        end = (
                            f"<{event['fixed']}"
                            if "fixed" in event
                            else (f"<={event['last_affected']}")
                        )
                        spec = SpecifierSet(f">={start},{end}" if start != "0" else end)
                        hit = hit or spec.contains(version, prereleases=True)
                        start = None
                if start is not None:
                    hit = hit or start == "0" or version >= Version(start)
            if hit:
                found.add((name, record["id"]))
    return found


def write_requirements(path: Path, pins: dict[str, str], header: str = "") -> Path:
    lines = [header] if header else []
    lines += [f"{name}=={version}" for name, version in pins.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def scan_json(cli: Cli, cwd: Path, *args: str) -> tuple[CliResult, Report]:
    result = cli("scan", "--offline", "--format", "json", *args, cwd=cwd)
    assert result.exit_code in (0, 1), result.stderr
    return result, Report.from_dict(json.loads(result.stdout))


def deps_result(report: Report):  # type: ignore[no-untyped-def]
    (found,) = [r for r in report.results if r.check == "deps"]
    return found


def test_vulnerable_pins_match_independent_computation(cli: Cli, tmp_path: Path) -> None:
    requirements = write_requirements(tmp_path / "requirements.txt", VULNERABLE, "# pinned")
    result, report = scan_json(cli, tmp_path, "-r", str(requirements), "--vuln-db", str(FIXTURE_DB))
    assert result.exit_code == 1
    deps = deps_result(report)
    expected = expected_advisories(FIXTURE_DB, VULNERABLE)
    assert len(expected) > 35  # the five packages really are vulnerable in these records
    got = {(fact["package"], fact["id"]) for fact in deps.facts["findings"]}
    assert got == expected
    assert {f.rule_id for f in deps.findings} == {f"DEP-{i}" for _, i in expected}
    lines = {name: n for n, name in enumerate(VULNERABLE, start=2)}
    for finding in deps.findings:
        package = finding.message.split()[0]
        assert finding.location is not None
        assert finding.location.path == "requirements.txt"
        assert finding.location.line == lines[canonicalize_name(package)]
    assert deps.facts["unaudited"] == 0
    assert deps.facts["total"] == len(expected)
    assert deps.facts["mode"] == "offline-db"


def test_patched_pins_give_no_finding(cli: Cli, tmp_path: Path) -> None:
    requirements = write_requirements(tmp_path / "requirements.txt", PATCHED)
    assert expected_advisories(FIXTURE_DB, PATCHED) == set()
    result, report = scan_json(cli, tmp_path, "-r", str(requirements), "--vuln-db", str(FIXTURE_DB))
    assert result.exit_code == 0
    deps = deps_result(report)
    assert deps.findings == ()
    assert deps.facts["packages"] == 5 and deps.facts["unaudited"] == 0


def test_message_severity_and_fingerprint(cli: Cli, tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("urllib3==1.24.1\nrequests==2.19.0\n")
    _, report = scan_json(cli, tmp_path, "-r", str(requirements), "--vuln-db", str(FIXTURE_DB))
    by_rule = {f.rule_id: f for f in deps_result(report).findings}
    # PYSEC-2023-192: CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:N, base 8.1 (high);
    # PYSEC-2023-207: CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N, base 6.1 (medium).
    assert by_rule["DEP-PYSEC-2023-192"].severity.label == "high"
    assert by_rule["DEP-PYSEC-2023-207"].severity.label == "medium"
    # PYSEC-2018-28 has no severity: the documented default (scan.unknown_severity = high).
    requests_finding = by_rule["DEP-PYSEC-2018-28"]
    assert requests_finding.severity.label == "high"
    assert "CVE-2018-18074" in requests_finding.message
    assert "fixed in 2.20.0; upgrade to 2.20.0 or later" in requests_finding.message
    assert requests_finding.location is not None and requests_finding.location.line == 2
    facts = deps_result(report).facts
    assert facts["vulnerabilities"]["unknown"] >= 1 and facts["vulnerabilities"]["medium"] >= 1
    # The fingerprint ignores the line: moving the pin keeps it.
    requirements.write_text("# moved\n\nrequests==2.19.0\nurllib3==1.24.1\n")
    _, moved = scan_json(cli, tmp_path, "-r", str(requirements), "--vuln-db", str(FIXTURE_DB))
    moved_finding = {f.rule_id: f for f in deps_result(moved).findings}["DEP-PYSEC-2018-28"]
    assert moved_finding.fingerprint == requests_finding.fingerprint
    assert moved_finding.location is not None and moved_finding.location.line == 3


@pytest.mark.parametrize("strings_only", [True, False], ids=["osv-export", "typed-yaml"])
def test_zip_export_and_json_records(cli: Cli, tmp_path: Path, strings_only: bool) -> None:
    # The OSV export holds JSON strings; a YAML 1.2 round trip also yields datetimes and floats.
    yaml = YAML(typ="base" if strings_only else "safe", pure=True)
    export = tmp_path / "all.zip"
    with zipfile.ZipFile(export, "w") as archive:
        for file in sorted(FIXTURE_DB.rglob("*.yaml")):
            record = yaml.load(file.read_text())
            archive.writestr(f"{record['id']}.json", json.dumps(record, default=str))
    requirements = write_requirements(tmp_path / "requirements.txt", VULNERABLE)
    _, report = scan_json(cli, tmp_path, "-r", str(requirements), "--vuln-db", str(export))
    got = {(f["package"], f["id"]) for f in deps_result(report).facts["findings"]}
    assert got == expected_advisories(FIXTURE_DB, VULNERABLE)


def test_unauditable_requirements_are_findings(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "more.txt").write_text("jinja2==2.10 \\\n    --hash=sha256:" + "a" * 64 + "\n")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        "--index-url https://pypi.org/simple\n"
        "requests>=2.0\n"
        "-e ./local-package\n"
        "pyyaml @ https://example.invalid/pyyaml-5.3.tar.gz\n"
        "urllib3==1.24.1 ; python_version >= '3'\n"
        "-r more.txt\n"
    )
    result, report = scan_json(cli, tmp_path, "-r", str(requirements), "--vuln-db", str(FIXTURE_DB))
    assert result.exit_code == 1
    deps = deps_result(report)
    unaudited = {f.location.line: f for f in deps.findings if f.rule_id == "DEP-UNAUDITED"}  # type: ignore[union-attr]
    assert sorted(unaudited) == [2, 3, 4]
    assert "pin it with '=='" in unaudited[2].message
    assert deps.facts["unaudited"] == 3
    jinja = [f for f in deps.findings if f.message.startswith("jinja2")]
    assert jinja and all(f.location is not None and f.location.path == "more.txt" for f in jinja)
    assert any(f.message.startswith("urllib3") for f in deps.findings)


def test_offline_without_database_is_unaudited(cli: Cli, tmp_path: Path) -> None:
    requirements = write_requirements(tmp_path / "requirements.txt", PATCHED)
    result, report = scan_json(cli, tmp_path, "-r", str(requirements))
    assert result.exit_code == 1
    deps = deps_result(report)
    assert {f.rule_id for f in deps.findings} == {"DEP-UNAUDITED"}
    assert deps.facts["unaudited"] == 5
    assert "no vulnerability database" in deps.findings[0].message


@pytest.mark.parametrize("service", ["pypi", "osv"])
def test_online_without_network_is_unaudited_never_a_pass(
    cli: Cli, tmp_path: Path, service: str
) -> None:
    (tmp_path / "mlops-ci.yaml").write_text(
        f"version: 1\nscan:\n  requirements: [requirements.txt]\n  service: {service}\n"
        "  unaudited_severity: critical\n"
    )
    write_requirements(tmp_path / "requirements.txt", {"requests": "2.32.3"})
    result = cli("scan", "--format", "json", cwd=tmp_path)
    assert result.exit_code == 1, result.stderr
    deps = deps_result(Report.from_dict(json.loads(result.stdout)))
    (finding,) = deps.findings
    assert finding.rule_id == "DEP-UNAUDITED"
    assert finding.severity.label == "critical"
    assert finding.location is not None and finding.location.line == 1
    assert deps.facts["mode"] == f"online-{service}"


def test_bad_inputs_exit_2_with_file_and_line(cli: Cli, tmp_path: Path) -> None:
    good = write_requirements(tmp_path / "ok.txt", {"requests": "2.32.3"})
    malformed = tmp_path / "bad.txt"
    malformed.write_text("requests==2.32.3\n\nnot a requirement!!\n")
    result = cli("scan", "--offline", "-r", str(malformed), "--vuln-db", str(FIXTURE_DB))
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {malformed}:3: malformed requirement 'not a requirement!!'")

    unreadable = tmp_path / "latin1.txt"
    unreadable.write_bytes(b"caf\xe9==1.0\n")
    result = cli("scan", "--offline", "-r", str(unreadable), "--vuln-db", str(FIXTURE_DB))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: {unreadable}:1: the requirements file is not UTF-8 text; save it as UTF-8"
    )

    missing = tmp_path / "nope.txt"
    result = cli("scan", "--offline", "-r", str(missing), "--vuln-db", str(FIXTURE_DB))
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and str(missing) in result.stderr

    empty_db = tmp_path / "empty-db"
    empty_db.mkdir()
    (empty_db / "README.md").write_text("no records here\n")
    result = cli("scan", "--offline", "-r", str(good), "--vuln-db", str(empty_db))
    assert result.exit_code == 2
    assert result.stderr.strip().startswith(f"error: {empty_db}: no OSV records")

    broken_db = tmp_path / "broken-db"
    broken_db.mkdir()
    (broken_db / "X-1.yaml").write_text("id: X-1\naffected: [\n")
    result = cli("scan", "--offline", "-r", str(good), "--vuln-db", str(broken_db))
    assert result.exit_code == 2
    assert result.stderr.strip().startswith(f"error: {broken_db}/X-1.yaml:")
    assert "Traceback" not in result.stderr


@pytest.mark.shared_data
def test_full_advisory_database(cli: Cli, tmp_path: Path, shared_data: Path) -> None:
    db = shared_data / "pypa-advisory-db"
    requirements = write_requirements(tmp_path / "requirements.txt", VULNERABLE)
    result, report = scan_json(cli, tmp_path, "-r", str(requirements), "--vuln-db", str(db))
    assert result.exit_code == 1
    got = {(f["package"], f["id"]) for f in deps_result(report).facts["findings"]}
    assert got == expected_advisories(db / "vulns", VULNERABLE)
    write_requirements(requirements, PATCHED)
    result, report = scan_json(cli, tmp_path, "-r", str(requirements), "--vuln-db", str(db))
    assert result.exit_code == 0 and deps_result(report).findings == ()


def test_environment_audit(cli: Cli, tmp_path: Path) -> None:
    from importlib import metadata

    (tmp_path / "mlops-ci.yaml").write_text("version: 1\nscan:\n  environment: true\n")
    # A database outside the repository comes from the pipeline (a flag), never from the file.
    result = cli(
        "scan", "--format", "json", "--offline", "--vuln-db", str(FIXTURE_DB), cwd=tmp_path
    )
    assert result.exit_code in (0, 1), result.stderr
    deps = deps_result(Report.from_dict(json.loads(result.stdout)))
    installed = {canonicalize_name(d.metadata["Name"]) for d in metadata.distributions()}
    assert deps.facts["packages"] == len(installed)
    assert deps.facts["unaudited"] == 0


def test_pip_version_answer_matches_pip(tmp_path: Path) -> None:
    """pip-api reads the second word of ``python -m pip --version``; the stand-in that spares
    pip-audit that half second gives the same word."""
    import subprocess
    import sys

    from mlops_ci.scan.pip_audit import _pip_version_shim

    shim = _pip_version_shim(tmp_path)
    assert shim is not None
    args = ["-m", "pip", "--version"]
    real = subprocess.run([sys.executable, *args], capture_output=True, text=True, check=True)
    answer = subprocess.run([str(shim), *args], capture_output=True, text=True, check=True)
    assert answer.stdout.split(" ")[1] == real.stdout.split(" ")[1]


def test_without_the_stand_in_pip_audit_asks_pip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the stand-in cannot run (off POSIX, a ``noexec`` temporary directory), pip-audit
    runs ``python -m pip --version`` itself and the audit is the same."""
    from mlops_ci.scan import pip_audit
    from mlops_ci.scan.osv_index import load_index
    from mlops_ci.scan.osv_server import LoopbackOsvServer

    monkeypatch.setattr(pip_audit, "_pip_version_shim", lambda work: None)
    pins = [("jinja2", VULNERABLE["jinja2"]), ("requests", PATCHED["requests"])]
    with LoopbackOsvServer() as server:
        server.serve(load_index(FIXTURE_DB, None))
        run = pip_audit.run_pip_audit(pins, service="osv", osv_url=server.url)
    assert run.unaudited == {} and run.error is None
    found = {(name, v.id) for (name, _), vulns in run.vulnerabilities.items() for v in vulns}
    expected = expected_advisories(FIXTURE_DB, {"jinja2": VULNERABLE["jinja2"]})
    assert found == expected and expected
    assert run.vulnerabilities[("requests", PATCHED["requests"])] == ()


def test_a_pip_audit_that_cannot_start_leaves_everything_unaudited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fail closed: pip-api failing at import (here, its pip stand-in) crashes pip-audit."""
    from mlops_ci.scan import pip_audit

    def failing(work: Path) -> Path:
        broken = work / "broken-pip"
        broken.write_text("#!/bin/sh\nexit 3\n")
        broken.chmod(0o700)
        return broken

    monkeypatch.setattr(pip_audit, "_pip_version_shim", failing)
    run = pip_audit.run_pip_audit([("requests", "2.32.3")], service="osv", osv_url=OSV_NOWHERE)
    assert run.vulnerabilities == {}
    assert run.unaudited.keys() == {("requests", "2.32.3")}
    assert run.error is not None and run.error.startswith("pip-audit failed:")


def test_the_loopback_server_stops_at_once() -> None:
    """Leaving the block must not wait out a polling interval (socketserver's is 0.5 s)."""
    import time

    from mlops_ci.scan.osv_index import load_index
    from mlops_ci.scan.osv_server import LoopbackOsvServer

    index = load_index(FIXTURE_DB, None)
    start = time.perf_counter()
    for _ in range(5):
        with LoopbackOsvServer() as server:
            server.serve(index)
    assert time.perf_counter() - start < 1.0
