"""Hand-built reports with ``bench`` and ``eval`` facts, for the chart and HTML tests."""

from __future__ import annotations

from typing import Any

from mlops_ci.findings import CheckResult, Finding, GitInfo, Location, ModelRef, Report, Severity

ATTACK = '"]`\n```\n<script>alert(1)</script> "><img src=x onerror=alert(2)> </style>%%{init}%%'


def bench_facts(baseline: bool = True) -> dict[str, Any]:
    """The facts of a bench result (with the baseline's percentiles when ``baseline``)."""
    facts: dict[str, Any] = {
        "verdict": "fail" if baseline else "none",
        "provider": "CPUExecutionProvider",
        "loaded": True,
        "notes": [],
        "p50_ms": 1.25,
        "p90_ms": 1.5,
        "p95_ms": 1.75,
        "p99_ms": 2.5,
        "mean_ms": 1.3,
        "max_ms": 3.0,
        "samples": 400,
        "throughput_per_s": 769.2,
        "unstable": False,
    }
    if baseline:
        facts.update(
            baseline="HEAD~1",
            ratio=1.2,
            ratio_ci=[1.15, 1.25],
            baseline_p50_ms=1.0,
            baseline_p90_ms=1.25,
            baseline_p95_ms=1.5,
            baseline_p99_ms=0.00001234,
        )
    return facts


def eval_facts(baseline: bool = True) -> dict[str, Any]:
    """The facts of an eval result: two rate metrics, one error in thousands, three slices."""
    facts: dict[str, Any] = {
        "verdict": "fail" if baseline else "none",
        "task": "classification",
        "rows": 2000,
        "data": "data/eval.csv",
        "data_digest": "sha256:" + "ab" * 32,
        "metrics": {"accuracy": 0.91, "f1": 0.85, "mae": 1234.5},
        "baseline": {},
        "delta": {},
        "gate": {},
        "slice_results": [],
        "confidence": 0.95,
    }
    if baseline:
        facts.update(
            baseline_label="HEAD~1",
            baseline={"accuracy": 0.93, "f1": 0.84, "mae": 1100.0},
            delta={"accuracy": {"value": -0.02, "low": -0.03, "high": -0.01}},
            gate={"accuracy": {"limit": 0.01, "verdict": "fail", "higher_is_better": True}},
            slice_results=[
                {
                    "column": "region",
                    "group": "north",
                    "rows": 500,
                    "metric": "accuracy",
                    "verdict": "fail",
                    "value": -0.08,
                    "low": -0.1,
                    "high": -0.05,
                    "candidate": 0.82,
                    "baseline": 0.9,
                },
                {
                    "column": "region",
                    "group": "south",
                    "rows": 700,
                    "metric": "accuracy",
                    "verdict": "pass",
                    "value": 0.01,
                    "candidate": 0.94,
                    "baseline": 0.93,
                },
                {
                    "column": "region",
                    "group": ATTACK,
                    "rows": 30,
                    "metric": "accuracy",
                    "verdict": "pass",
                    "value": 0.05,
                    "candidate": 0.95,
                    "baseline": 0.9,
                },
            ],
        )
    return facts


def charted_report(model: str = "fraud", baseline: bool = True, message: str = "slow") -> Report:
    """A failing report with a bench and an eval result (and ``message`` in a finding)."""
    finding = Finding(
        "BENCH-REGRESSION", Severity.HIGH, message, Location("models/a.onnx", 3, 1), "a" * 32
    )
    minor = Finding("CARD004", Severity.LOW, "card lacks a license", None, "b" * 32)
    results = (
        CheckResult(
            "bench",
            "failed" if baseline else "passed",
            model,
            (finding,) if baseline else (),
            metrics={"p50_ms": 1.25, "p90_ms": 1.5},
            facts=bench_facts(baseline),
            summary={"p50": "1.25 ms", "p90": "1.5 ms"},
            duration_s=4.5,
        ),
        CheckResult("eval", "passed", model, facts=eval_facts(baseline), duration_s=2.0),
        CheckResult("card", "passed", model, (minor,), duration_s=0.01),
    )
    return Report(
        tool_version="0.1.0",
        started_at="2026-11-22T12:00:00+00:00",
        git=GitInfo(commit="0123456789abcdef0123", branch="main"),
        models=(ModelRef(model, "models/a.onnx", "models/README.md"),),
        results=results,
        fail_on=Severity.HIGH,
        duration_s=6.5,
        config_path="mlops-ci.yaml",
    )
