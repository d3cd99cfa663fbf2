"""Fixed, hand-built reports for formatter tests (no clock, no git)."""

from __future__ import annotations

from mlops_ci.findings import CheckResult, Finding, GitInfo, Location, ModelRef, Report, Severity


def sample_report() -> Report:
    """A report with every status, every severity, a waived finding and an errored check."""
    findings = (
        Finding(
            "ONNX001",
            Severity.HIGH,
            "models/a.onnx: not a loadable ONNX model (DecodeError)",
            Location("models/a.onnx"),
            "f" * 32,
        ),
        Finding(
            "CARD002",
            Severity.MEDIUM,
            "card has no front matter | use ---",
            Location("models/README.md", 1, 1),
            "e" * 32,
            suppressed_by="waiver-7",
        ),
        Finding(
            "DEP-PYSEC-2018-28",
            Severity.CRITICAL,
            "requests 2.19.0 <fix> 2.20.0",
            Location("requirements.txt", 3),
            "d" * 32,
        ),
        Finding("X-INFO", Severity.INFO, "informational", None, "c" * 32),
    )
    results = (
        CheckResult("card", "failed", "fraud", findings[1:2] + findings[3:], duration_s=0.012),
        CheckResult(
            "onnx-model",
            "failed",
            "fraud",
            findings[:1],
            metrics={"opset": 17.0, "parameters": 2146.0},
            duration_s=0.2,
        ),
        CheckResult("deps", "failed", None, findings[2:3], duration_s=1.5),
        CheckResult("bench", "skipped", "fraud", detail="no GPU"),
        CheckResult(
            "boom", "errored", "fraud", detail="RuntimeError: kaboom", error_kind="internal"
        ),
    )
    return Report(
        tool_version="0.1.0",
        started_at="2026-11-22T12:00:00+00:00",
        git=GitInfo(
            commit="0123456789abcdef0123",
            branch="main",
            dirty=False,
            remote_url="https://example.com/org/repo.git",
        ),
        models=(ModelRef("fraud", "models/a.onnx", "models/README.md"),),
        results=results,
        fail_on=Severity.HIGH,
        duration_s=1.75,
        config_path="mlops-ci.yaml",
    )
