"""The ``signature`` check and the gate-report attestation, on the real demo repository."""

from __future__ import annotations

import base64
import json
import re
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlops_ci.demo import PRIVATE_KEY, PUBLIC_KEY
from mlops_ci.findings import CheckResult, Report
from mlops_ci.signing import model_digest, policy_from_config, verify_attestation
from mlops_ci.signing.targets import load_signing_config
from tests.conftest import CliResult

Cli = Callable[..., CliResult]
MODEL = Path("models/fraud-detector/model.onnx")
SIGNATURE = Path("models/fraud-detector/model.onnx.sig")
ATTESTATION = Path("models/fraud-detector/model.onnx.attestation.sigstore.json")
REPORT = Path("reports/mlops-ci.json")


def signature_result(cli: Cli, repo: Path) -> tuple[CliResult, CheckResult]:
    result = cli("check", "--only", "signature", "--format", "json", cwd=repo)
    report = Report.from_dict(json.loads(result.stdout))
    (found,) = [r for r in report.results if r.check == "signature"]
    return result, found


def test_unsigned_model_reports_facts_without_a_finding(cli: Cli, demo_repo: Path) -> None:
    result, check = signature_result(cli, demo_repo)
    assert result.exit_code == 0
    assert check.status == "passed"
    assert check.findings == ()
    assert check.facts == {
        "signed": False,
        "verified": False,
        "mode": None,
        "identity": None,
        "issuer": None,
        "digest": model_digest(demo_repo / MODEL),
        "attestation_verified": False,
        "stale_digest": None,
    }


def test_signed_model_verifies(cli: Cli, demo_repo: Path) -> None:
    assert cli("sign", cwd=demo_repo).exit_code == 0
    result, check = signature_result(cli, demo_repo)
    assert result.exit_code == 0, result.stderr
    assert check.facts["signed"] is True
    assert check.facts["verified"] is True
    assert check.facts["mode"] == "key"
    assert str(check.facts["identity"]).startswith("sha256:")
    assert check.facts["digest"] == model_digest(demo_repo / MODEL)


def test_stale_signature_is_a_fact_not_a_finding(cli: Cli, demo_repo: Path) -> None:
    """A valid signature of an older model: unsigned, with the old digest and an INFO note."""
    assert cli("sign", cwd=demo_repo).exit_code == 0
    model = demo_repo / MODEL
    old_digest = model_digest(model)
    model.write_bytes(model.read_bytes() + b"\x00")
    result, check = signature_result(cli, demo_repo)
    assert result.exit_code == 0, result.stderr
    assert check.status == "passed"
    (note,) = check.findings
    assert (note.rule_id, note.severity.label) == ("SIG005", "info")
    assert note.location is not None and note.location.path == SIGNATURE.as_posix()
    assert "older model" in note.message
    assert check.facts["signed"] is False
    assert check.facts["verified"] is False
    assert check.facts["stale_digest"] == old_digest
    assert check.facts["mode"] is None and check.facts["identity"] is None
    assert check.facts["digest"] == model_digest(model)
    verified = cli("verify", cwd=demo_repo)  # verify still refuses it
    assert verified.exit_code == 1
    assert "the file's content changed" in verified.stderr


def test_forged_signature_is_still_a_high_finding(cli: Cli, demo_repo: Path) -> None:
    """Signature bytes that do not verify are not "stale": SIG001, exit 1."""
    assert cli("sign", cwd=demo_repo).exit_code == 0
    bundle = demo_repo / SIGNATURE
    data = json.loads(bundle.read_text())
    envelope = data["dsseEnvelope"]["signatures"][0]
    raw = bytearray(base64.b64decode(envelope["sig"]))
    raw[-1] ^= 1
    envelope["sig"] = base64.b64encode(bytes(raw)).decode()
    bundle.write_text(json.dumps(data))
    result, check = signature_result(cli, demo_repo)
    assert result.exit_code == 1
    assert [f.rule_id for f in check.findings] == ["SIG001"]
    assert check.facts["stale_digest"] is None


def test_signature_without_trust_policy(cli: Cli, demo_repo: Path) -> None:
    assert cli("sign", cwd=demo_repo).exit_code == 0
    config = demo_repo / "mlops-ci.yaml"
    config.write_text(config.read_text().replace("  public_key: keys/signing-key.pub", ""))
    result, check = signature_result(cli, demo_repo)
    assert result.exit_code == 1
    assert [f.rule_id for f in check.findings] == ["SIG002"]
    assert "--public-key PATH or set signing.public_key" in check.findings[0].message


def sign_with_report(cli: Cli, repo: Path) -> None:
    assert cli("sign", cwd=repo).exit_code == 0
    checked = cli("check", "--format", f"json={REPORT}", cwd=repo)
    assert checked.exit_code == 0, checked.stderr
    signed = cli("sign", cwd=repo)
    assert signed.exit_code == 0, signed.stderr
    assert f"attestation  fraud-detector -> {ATTESTATION}" in signed.stdout
    assert f"report       {REPORT} -> {REPORT}.sigstore.json" in signed.stdout


def test_attestation_verifies_in_check_and_verify(cli: Cli, demo_repo: Path) -> None:
    sign_with_report(cli, demo_repo)
    _, check = signature_result(cli, demo_repo)
    assert check.facts["attestation_verified"] is True
    verified = cli("verify", cwd=demo_repo)
    assert verified.exit_code == 0, verified.stderr
    assert [line.split()[1] for line in verified.stdout.splitlines()] == [
        "model",
        "attestation",
        "sbom",  # written by the sbom check of the same run
        "report",
    ]


def test_report_changed_after_signing_fails_verify(cli: Cli, demo_repo: Path) -> None:
    sign_with_report(cli, demo_repo)
    report = demo_repo / REPORT
    report.write_text(report.read_text().replace('"verdict": "pass"', '"verdict": "fail"'))
    result = cli("verify", cwd=demo_repo)
    assert result.exit_code == 1
    assert f"FAILED    report       {REPORT}: the report does not match" in result.stderr


def test_stale_attestation_is_a_finding(cli: Cli, demo_repo: Path, tmp_path: Path) -> None:
    sign_with_report(cli, demo_repo)
    shutil.copy(demo_repo / ATTESTATION, tmp_path / "old.json")
    model = demo_repo / MODEL
    model.write_bytes(model.read_bytes() + b"\x00")
    (demo_repo / REPORT).unlink()
    assert cli("sign", cwd=demo_repo).exit_code == 0  # the model alone: no report, no attestation
    shutil.copy(tmp_path / "old.json", demo_repo / ATTESTATION)
    result, check = signature_result(cli, demo_repo)
    assert check.facts["verified"] is True
    assert check.facts["attestation_verified"] is False
    assert [f.rule_id for f in check.findings] == ["SIG003"]
    assert "the model changed after the gates ran" in check.findings[0].message
    assert result.exit_code == 1


def test_sign_refuses_a_report_about_other_model_bytes(cli: Cli, demo_repo: Path) -> None:
    sign_with_report(cli, demo_repo)
    model = demo_repo / MODEL
    before = (demo_repo / SIGNATURE).read_bytes()
    model.write_bytes(model.read_bytes() + b"\x00")
    result = cli("sign", cwd=demo_repo)
    assert result.exit_code == 2
    assert "model 'fraud-detector' changed after the gate report was made" in result.stderr
    assert (demo_repo / SIGNATURE).read_bytes() == before  # nothing was (re)written


def write_report_with_facts(repo: Path, sbom: Path) -> None:
    """A report as the other checks will write it, facts included (COMMON.md's agreed names)."""
    report = json.loads((repo / REPORT).read_text())
    facts: dict[str, dict[str, Any]] = {
        "deps": {
            "vulnerabilities": {"critical": 0, "high": 1, "medium": 2, "low": 0, "unknown": 0},
            "total": 3,
            "unaudited": 0,
        },
        "sast": {"counts": {"high": 0, "medium": 1, "low": 4}, "total": 5},
        "bench": {
            "p50_ms": 0.01,
            "p90_ms": 0.02,
            "ratio": 1.01,
            "verdict": "PASS",
            "provider": "cpu",
        },
        "sbom": {"digest": "sha256:" + "ab" * 32, "components": 42, "path": sbom.name},
        "policy": {"packs": [{"name": "production", "version": "1.2.0", "rules": 9}]},
    }
    report["results"] = [r for r in report["results"] if r["check"] not in facts]
    for check, values in facts.items():
        model = None if check in ("deps", "sast") else "fraud-detector"
        report["results"].append(
            {"check": check, "model": model, "status": "passed", "facts": values}
        )
    (repo / REPORT).write_text(json.dumps(report))


def test_attestation_predicate_summarises_the_report(cli: Cli, demo_repo: Path) -> None:
    assert cli("check", "--format", f"json={REPORT}", cwd=demo_repo).exit_code == 0
    sbom = demo_repo / "fraud.cdx.json"
    sbom.write_text('{"bomFormat": "CycloneDX"}')
    write_report_with_facts(demo_repo, sbom)
    signed = cli("sign", cwd=demo_repo)
    assert signed.exit_code == 0, signed.stderr
    assert "sbom         fraud.cdx.json -> fraud.cdx.json.sigstore.json" in signed.stdout
    loaded = load_signing_config(cwd=demo_repo)
    attestation = verify_attestation(
        demo_repo / ATTESTATION,
        policy_from_config(loaded),
        expected_digest=model_digest(demo_repo / MODEL),
    )
    predicate = attestation.predicate
    assert predicate["model"] == {"name": "fraud-detector", "verdict": "pass"}
    assert predicate["vulnerabilities"]["vulnerabilities"]["high"] == 1
    assert isinstance(predicate["vulnerabilities"]["total"], int)
    assert predicate["sast"]["counts"] == {"high": 0, "medium": 1, "low": 4}
    assert predicate["benchmark"]["verdict"] == "PASS"
    assert predicate["sbom"] == {"digest": "sha256:" + "ab" * 32, "components": 42}
    assert predicate["policies"] == [{"name": "production", "version": "1.2.0"}]
    assert {c["check"]: c["status"] for c in predicate["checks"]}["card"] == "passed"
    assert predicate["report"]["digest"].startswith("sha256:")
    verified = cli("verify", cwd=demo_repo)
    assert verified.exit_code == 0, verified.stderr
    assert "verified  sbom         fraud.cdx.json" in verified.stdout


def test_sbom_path_template(cli: Cli, demo_repo: Path) -> None:
    config = demo_repo / "mlops-ci.yaml"
    text = config.read_text()
    anchor = "  public_key: keys/signing-key.pub"
    config.write_text(text.replace(anchor, anchor + "\n  sbom: sboms/{name}.cdx.json", 1))
    (demo_repo / "sboms").mkdir()
    (demo_repo / "sboms" / "fraud-detector.cdx.json").write_text("{}")
    signed = cli("sign", cwd=demo_repo)
    assert signed.exit_code == 0, signed.stderr
    assert (demo_repo / "sboms" / "fraud-detector.cdx.json.sigstore.json").is_file()


def test_demo_signs_and_verifies_with_its_own_key(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "demo"
    result = cli("demo", str(target))
    assert result.exit_code == 0, result.stderr
    assert re.search(r"^signature +fraud-detector +passed ", result.stdout, re.M)
    for role in ("model", "attestation", "report"):
        assert f"verified  {role}" in result.stdout
    private = target / PRIVATE_KEY
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    body = "".join(private.read_text().splitlines()[1:-1])
    assert body[:40] not in result.stdout + result.stderr
    assert (target / PUBLIC_KEY).is_file()
    report = Report.from_dict(json.loads((target / REPORT).read_text()))
    (check,) = [r for r in report.results if r.check == "signature"]
    # check -> sign: the gates ran on the unsigned bytes that 'sign' then signed and attested.
    assert check.facts["signed"] is False
    assert check.facts["digest"] == model_digest(target / MODEL)
    assert "$ mlops-ci check" in result.stdout.split("$ mlops-ci sign")[0]
