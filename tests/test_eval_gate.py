"""The ``eval`` gate's decision layer: an EvalOutcome becomes findings, facts, key figures,
Markdown, attestation and ML-BOM evidence; the default baseline in a real git repository; the
opt-in skip, configuration errors and the command's usage errors.

The outcomes are built by hand (this is the mapping layer, not the measurement): the end-to-end
tests with real models and data live with the engine.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlops_ci.checks.base import Context
from mlops_ci.checks.eval import EvalCheck, default_baseline, resolve_eval_baseline
from mlops_ci.checks.eval_report import conclude
from mlops_ci.config import LoadedConfig, load_config
from mlops_ci.errors import ConfigError, InputError, UsageError
from mlops_ci.eval.types import (
    EvalOutcome,
    FairnessResult,
    Importance,
    MetricResult,
    SliceResult,
)
from mlops_ci.findings import CheckResult, GitInfo, ModelRef, Report, Severity
from tests.conftest import CliResult
from tests.gitrepos import git

Cli = Callable[..., CliResult]
DIGEST = "sha256:" + "d" * 64
CONFIG = """\
environments: [dev, prod]
models:
  - name: churn
    path: models/churn.onnx
    card: models/README.md
    eval:
      data: data/eval.csv
      label: churned
      features: [tenure, spend]
      gate: {roc_auc: {max_drop: 0.005}, accuracy: {max_drop: 0.01}}
      thresholds: {accuracy: 0.9}
      claim_tolerance: 0.02
  - name: plain
    path: models/churn.onnx
"""
CARD = """\
---
license: apache-2.0
governance:
  evaluation_metrics:
    - {name: roc_auc, value: 0.99, threshold: 0.97}
    - {name: f1, value: 0.5}
    - {name: log_loss, value: 0.3, threshold: 0.2, higher_is_better: false}
    - {name: accuracy, value: 0.99, dataset: holdout-2025}
    - {name: roc_auc, value: 0.8, dataset: eval.csv}
---
# churn
"""


def _repo(root: Path, config: str = CONFIG) -> LoadedConfig:
    (root / "models").mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(exist_ok=True)
    (root / "models" / "churn.onnx").write_bytes(b"candidate bytes")
    (root / "models" / "README.md").write_text(CARD)
    (root / "data" / "eval.csv").write_text("tenure,spend,churned\n1,2,0\n")
    (root / "mlops-ci.yaml").write_text(config)
    return load_config(root / "mlops-ci.yaml", cwd=root)


def _ctx(loaded: LoadedConfig, model: str = "churn", **options: Any) -> Context:
    return Context(
        loaded=loaded,
        model=loaded.config.model(model),
        needs={},
        now=dt.datetime(2026, 12, 2, tzinfo=dt.UTC),
        options=options,
    )


def _outcome(**changes: Any) -> EvalOutcome:
    fields: dict[str, Any] = {
        "task": "binary",
        "rows": 5000,
        "data_digest": DIGEST,
        "data_display": "data/eval.csv",
        "metrics": (
            MetricResult("roc_auc", True, 0.93, 0.95, -0.02, -0.03, -0.012, 0.005, "fail"),
            MetricResult(
                "accuracy", True, 0.88, 0.885, -0.005, -0.015, 0.004, 0.01, "inconclusive"
            ),
            MetricResult("f1", True, 0.51, 0.50, 0.01, -0.01, 0.03),
            MetricResult("log_loss", False, float("nan")),
        ),
        "slices": (
            SliceResult("region", "north", 600, "roc_auc", 0.80, 0.90, -0.10, -0.14, -0.06, "fail"),
            SliceResult(
                "region", "south", 4400, "roc_auc", 0.95, 0.951, -0.001, -0.01, 0.01, "pass"
            ),
            SliceResult("region", "tiny", 5, "roc_auc", float("nan")),
        ),
        "fairness": (
            FairnessResult("equalized_odds_difference", "gender", 0.15, 0.05, max=0.1),
            FairnessResult("demographic_parity_ratio", "gender", 0.9, 0.92, min=0.8),
        ),
        "importance": (
            Importance("tenure", 0.12, 0.01, 0.02, 0.01),
            Importance("spend", 0.05, 0.005, 0.06, 0.004),
        ),
        "importance_metric": "roc_auc",
        "baseline_label": "env:dev (churn 1.0.0, 0123456789ab)",
        "baseline_digest": "sha256:" + "b" * 64,
        "candidate_digest": "sha256:" + "c" * 64,
        "verdict": "fail",
        "notes": ("engine note",),
    }
    fields.update(changes)
    return EvalOutcome(**fields)


def _conclude(tmp_path: Path, outcome: EvalOutcome | None = None) -> CheckResult:
    loaded = _repo(tmp_path)
    ctx = _ctx(loaded)
    settings = loaded.config.model("churn").eval
    assert settings is not None
    return conclude(ctx, "eval", settings, outcome or _outcome(), ["a note"])


def test_findings_map_every_verdict_to_its_rule(tmp_path: Path) -> None:
    result = _conclude(tmp_path)
    by_rule: dict[str, list[Any]] = {}
    for finding in result.findings:
        by_rule.setdefault(finding.rule_id, []).append(finding)
    (regression,) = by_rule["EVAL-REGRESSION"]
    assert regression.severity == Severity.HIGH and regression.location.path == "data/eval.csv"
    assert "roc_auc regressed: 0.93 vs 0.95 on env:dev (churn 1.0.0, 0123456789ab)" in (
        regression.message
    )
    assert "95% CI -0.03 to -0.012" in regression.message and "drop 0.005" in regression.message
    (inconclusive,) = by_rule["EVAL-INCONCLUSIVE"]
    assert inconclusive.severity == Severity.MEDIUM and "accuracy" in inconclusive.message
    (group,) = by_rule["EVAL-SLICE-REGRESSION"]
    assert "region=north (600 rows)" in group.message
    (fair,) = by_rule["EVAL-FAIRNESS"]
    assert "equalized_odds_difference by gender is 0.15 (baseline 0.05)" in fair.message
    # Thresholds: accuracy 0.88 < 0.9 (config); roc_auc 0.93 < 0.97 (card, at its line).
    thresholds = {f.message.split()[0]: f for f in by_rule["EVAL-THRESHOLD"]}
    assert set(thresholds) == {"accuracy", "roc_auc"}
    assert thresholds["roc_auc"].location.path == "models/README.md"
    assert thresholds["roc_auc"].location.line == 5
    assert thresholds["accuracy"].location.path == "data/eval.csv"
    # Claims: roc_auc 0.99 vs 0.93 is a mismatch; f1 0.5 vs 0.51 is within 0.02.
    # accuracy 0.99 was measured on another dataset: a note. roc_auc 0.8 names this file.
    claim, named = by_rule["EVAL-CLAIM-MISMATCH"]
    assert "claims roc_auc 0.99, measured 0.93" in claim.message
    assert claim.location.line == 5 and named.location.line == 9
    assert any("accuracy 0.99 was measured on 'holdout-2025'" in n for n in result.facts["notes"])
    assert len({f.fingerprint for f in result.findings}) == len(result.findings)


def test_facts_follow_the_documented_layout(tmp_path: Path) -> None:
    facts = _conclude(tmp_path).facts
    assert facts["verdict"] == "fail" and facts["rows"] == 5000 and facts["task"] == "binary"
    assert facts["data_digest"] == DIGEST and facts["data"] == "data/eval.csv"
    assert facts["metrics"] == {"roc_auc": 0.93, "accuracy": 0.88, "f1": 0.51}  # NaN is absent
    assert facts["baseline"]["roc_auc"] == 0.95
    assert facts["delta"]["roc_auc"] == {"value": -0.02, "low": -0.03, "high": -0.012}
    assert facts["gate"]["accuracy"] == {
        "limit": 0.01,
        "verdict": "inconclusive",
        "higher_is_better": True,
    }
    assert facts["slices"] == {"region": {"north": {"roc_auc": 0.80}, "south": {"roc_auc": 0.95}}}
    assert facts["fairness"] == {
        "equalized_odds_difference": 0.15,
        "demographic_parity_ratio": 0.9,
    }
    assert facts["importance"] == {"tenure": 0.12, "spend": 0.05}
    assert facts["baseline_label"].startswith("env:dev") and facts["candidate_digest"]
    # log_loss has a card threshold but was not measured (NaN): a note, not a finding.
    assert any("log_loss, which was not measured" in n for n in facts["notes"])
    assert facts["notes"][:2] == ["a note", "engine note"]
    json.dumps(facts, allow_nan=False)  # strict JSON: no NaN anywhere


def test_summary_markdown_and_attestation(tmp_path: Path) -> None:
    from mlops_ci.formats.markdown import render
    from mlops_ci.signing.attestation import gate_predicate

    result = _conclude(tmp_path)
    assert result.summary["verdict"] == "FAIL" and result.summary["rows"] == "5,000"
    assert result.summary["roc_auc"] == "0.93 (-0.02)"
    report = Report(
        results=(result.with_status(Severity.HIGH),),
        started_at="2026-12-02T00:00:00+00:00",
        duration_s=1.0,
        fail_on=Severity.HIGH,
        git=GitInfo(),
        models=(ModelRef("churn", "models/churn.onnx"),),
        tool_version="0",
    )
    text = render(report)
    assert "### Evaluation: churn" in text
    assert "| roc_auc | 0.95 | 0.93 | -0.02 [-0.03, -0.012] | ❌ fail |" in text
    assert "| region=north | 600 | roc_auc | 0.9 | 0.8 | -0.1 [-0.14, -0.06] | ❌ fail |" in text
    assert "| equalized_odds_difference | gender | 0.05 | 0.15 | max 0.1 | ❌ |" in text
    assert "| tenure | 0.12 | 0.02 |" in text  # the top feature; it also moved most
    predicate = gate_predicate(report, "churn", "r.json", b"{}")
    evaluation = predicate["evaluation"]
    assert evaluation["verdict"] == "fail" and evaluation["data_digest"] == DIGEST
    assert evaluation["rows"] == 5000 and evaluation["baseline_digest"] == "sha256:" + "b" * 64
    assert evaluation["metrics"]["roc_auc"] == {
        "candidate": 0.93,
        "baseline": 0.95,
        "delta": {"value": -0.02, "low": -0.03, "high": -0.012},
        "gate": {"limit": 0.005, "verdict": "fail", "higher_is_better": True},
    }


def test_no_baseline_reads_as_none(tmp_path: Path) -> None:
    outcome = _outcome(
        metrics=(MetricResult("accuracy", True, 0.95),),
        slices=(),
        fairness=(),
        importance=(),
        baseline_label=None,
        baseline_digest=None,
        verdict="none",
    )
    result = _conclude(tmp_path, outcome)
    assert result.findings == ()  # accuracy meets 0.9; the card's roc_auc was not measured
    assert any("roc_auc, which was not measured" in n for n in result.facts["notes"])
    assert "baseline_label" not in result.facts and result.facts["delta"] == {}
    assert result.summary["verdict"] == "no baseline"


def test_ml_bom_carries_measured_metrics_apart_from_claims(tmp_path: Path) -> None:
    from mlops_ci.card.validate import read_card_text, validate_card
    from mlops_ci.sbom import document
    from mlops_ci.sbom.evaluation import evaluation_component, measured_evaluation
    from mlops_ci.sbom.mlbom import ModelFacts, model_component

    facts = _conclude(tmp_path).facts
    evaluation = measured_evaluation(facts)
    assert evaluation is not None and evaluation.rows == 5000
    assert measured_evaluation({}) is None and measured_evaluation({"rows": 1}) is None
    card = validate_card(read_card_text(tmp_path / "models/README.md", "c"), "c").metadata
    data = evaluation_component(evaluation, "churn")
    assert data["hashes"] == [{"alg": "SHA-256", "content": "d" * 64}]
    model = model_component(
        ModelFacts("churn", [("model.onnx", "a" * 64)], card, evaluation=evaluation),
        [data["bom-ref"]],
    )
    metrics = model["modelCard"]["quantitativeAnalysis"]["performanceMetrics"]
    claimed = [m for m in metrics if not m.get("slice", "").startswith("measured")]
    measured = [m for m in metrics if m.get("slice", "").startswith("measured")]
    assert [m["type"] for m in claimed] == ["roc_auc", "f1", "log_loss", "accuracy", "roc_auc"]
    assert measured[0] == {
        "type": "roc_auc",
        "value": "0.93",
        "slice": "measured by mlops-ci on data/eval.csv",
    }
    assert measured[-1]["slice"].endswith(", by gender")
    properties = {p["name"]: p["value"] for p in model["modelCard"]["properties"]}
    assert properties["mlops-ci:eval:data-digest"] == DIGEST
    bom = document.assemble(
        timestamp=None,
        tool_version="0",
        tools=[],
        git=GitInfo(),
        source="none",
        model=model,
        data=[data],
        software=[],
        dependencies=[],
    )
    text = document.render(bom)
    document.validate(text)  # strict CycloneDX 1.6
    again = document.render(
        document.assemble(
            timestamp=None,
            tool_version="0",
            tools=[],
            git=GitInfo(),
            source="none",
            model=model_component(
                ModelFacts(
                    "churn",
                    [("model.onnx", "a" * 64)],
                    card,
                    evaluation=measured_evaluation(_conclude(tmp_path).facts),
                ),
                [data["bom-ref"]],
            ),
            data=[data],
            software=[],
            dependencies=[],
        )
    )
    assert again == text  # byte-identical for unchanged inputs


def test_policy_facts_show_the_eval_section(tmp_path: Path) -> None:
    from mlops_ci.policy.facts import build_facts

    loaded = _repo(tmp_path)
    result = _conclude(tmp_path)
    facts = build_facts(loaded.config.model("churn"), {"eval": result}, git=GitInfo())
    assert facts["model"]["eval"] is True and facts["eval"]["verdict"] == "fail"
    assert facts["checks"]["eval"]["findings"]["high"] >= 1
    empty = build_facts(loaded.config.model("plain"), {}, git=GitInfo())
    assert empty["eval"] == {} and "eval" not in empty["model"]


def test_without_an_eval_section_the_check_is_skipped(tmp_path: Path) -> None:
    loaded = _repo(tmp_path)
    result = EvalCheck().run(_ctx(loaded, "plain"))
    assert result.status == "skipped" and "add one (data, label, features" in str(result.detail)
    with pytest.raises(UsageError, match="has no eval: section"):
        EvalCheck().run(_ctx(loaded, "plain", eval={"data": None, "baseline": None}))


def test_the_check_runs_the_engine_and_maps_value_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlops_ci.checks.eval as module

    loaded = _repo(tmp_path)
    seen: dict[str, Any] = {}

    def fake_run(candidate: Path, display: str, baseline: Any, label: Any, *rest: Any) -> Any:
        seen.update(candidate=candidate, baseline=baseline, label=label, data=rest[1])
        return _outcome()

    monkeypatch.setattr(module, "_run", fake_run)
    result = EvalCheck().run(_ctx(loaded, eval={"baseline": "models/churn.onnx"}))
    assert seen["data"] == "data/eval.csv" and seen["label"] == "models/churn.onnx"
    assert result.facts["verdict"] == "fail"

    def bad_metric(*args: Any) -> Any:
        raise ValueError("unknown metric 'roc_acu' (did you mean roc_auc?)")

    monkeypatch.setattr(module, "_run", bad_metric)
    with pytest.raises(ConfigError, match=r"roc_acu.*fix eval.metrics") as raised:
        EvalCheck().run(_ctx(loaded, eval={"baseline": "models/churn.onnx"}))
    assert raised.value.position is not None and raised.value.position.line == 6


def test_bad_baselines_and_missing_data_are_input_errors(tmp_path: Path) -> None:
    loaded = _repo(tmp_path)
    (tmp_path / "stored.json").write_text("{}")
    ctx = _ctx(loaded)
    candidate = tmp_path / "models/churn.onnx"
    with pytest.raises(InputError, match="stored results file holds latencies"):
        resolve_eval_baseline(ctx, "stored.json", candidate, "models/churn.onnx")
    with pytest.raises(InputError, match="no such file"):
        resolve_eval_baseline(ctx, "missing.onnx", candidate, "models/churn.onnx")
    (tmp_path / "data/eval.csv").unlink()
    with pytest.raises(InputError, match="EVAL-DATA: the evaluation data data/eval.csv"):
        EvalCheck().run(_ctx(loaded, eval={"baseline": "models/churn.onnx"}))
    flag = {"baseline": "models/churn.onnx", "data": str(tmp_path / "other.csv")}
    with pytest.raises(InputError, match=r"EVAL-DATA: --data other.csv does not exist") as raised:
        EvalCheck().run(_ctx(loaded, eval=flag))
    assert raised.value.position is None  # a flag's path is not the configuration's


def _state(commit: str) -> str:
    return (
        "models:\n  churn:\n    version: '1.0.0'\n    artifact: models/churn.onnx\n"
        f"    digest: sha256:{'a' * 64}\n    promoted_from: {{commit: {commit}}}\n"
    )


def test_default_baseline_is_the_model_it_would_replace_next(tmp_path: Path) -> None:
    loaded = _repo(tmp_path)
    candidate = tmp_path / "models/churn.onnx"
    assert default_baseline(loaded, "churn", candidate, "m", None).label == "default branch"
    git(tmp_path, "init", "--quiet", "--initial-branch=main")
    candidate.write_bytes(b"old model")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "--quiet", "-m", "v1")
    old = git(tmp_path, "rev-parse", "HEAD")
    candidate.write_bytes(b"candidate bytes")
    # No environment runs it: the default branch's model.
    found = default_baseline(loaded, "churn", candidate, "m", None)
    assert found.label.startswith("main (") and getattr(found, "model", None) == b"old model"
    # dev runs the old model: dev is what the candidate replaces.
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy/dev.yaml").write_text(_state(old))
    found = default_baseline(loaded, "churn", candidate, "m", None)
    assert found.label.startswith("env:dev (churn 1.0.0,")
    # dev already runs the candidate: prod (which runs the old one) is next.
    candidate.write_bytes(b"old model")
    (tmp_path / "deploy/prod.yaml").write_text(_state(old))
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "--quiet", "-m", "v1 in dev and prod")
    found = default_baseline(loaded, "churn", candidate, "m", None)
    assert found.label.startswith("main (")  # every environment runs it: the default branch
    new = git(tmp_path, "rev-parse", "HEAD")
    candidate.write_bytes(b"v2")
    git(tmp_path, "commit", "--quiet", "-am", "v2")
    (tmp_path / "deploy/dev.yaml").write_text(_state(git(tmp_path, "rev-parse", "HEAD")))
    found = default_baseline(loaded, "churn", candidate, "m", None)
    assert found.label.startswith("env:prod") and getattr(found, "model", None) == b"old model"
    assert new
    # A run for a target environment compares with what that environment runs.
    found = default_baseline(loaded, "churn", candidate, "m", "prod")
    assert found.label.startswith("env:prod")
    # origin/HEAD wins over a local main.
    git(tmp_path, "update-ref", "refs/remotes/origin/main", old)
    git(tmp_path, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
    (tmp_path / "deploy/dev.yaml").unlink()
    found = default_baseline(loaded, "churn", candidate, "m", None)
    assert found.label.startswith("origin/main (")


def test_cli_help_and_usage_errors(cli: Cli, tmp_path: Path) -> None:
    result = cli("eval", "--help")
    assert result.exit_code == 0 and "--baseline" in result.stdout and "--data" in result.stdout
    _repo(tmp_path)
    missing = cli("eval", "nope", cwd=tmp_path)
    assert missing.exit_code == 2 and "neither a configured model" in missing.stderr
    plain = cli("eval", "plain", cwd=tmp_path)
    assert plain.exit_code == 2 and "has no eval: section" in plain.stderr


def test_a_baseline_read_at_a_ref_gets_its_external_data(tmp_path: Path) -> None:
    """Baseline bytes read at a git ref that name external data are written to scratch with that
    data as committed at the ref (the graph is read without importing onnx)."""
    import subprocess

    import onnx

    from mlops_ci.bench.baseline import ModelBaseline
    from mlops_ci.checks.eval import with_external_data
    from tests.external_data import save_external

    repo = tmp_path / "repo"
    model = repo / "models" / "m.onnx"
    save_external(model)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@invalid"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "m"], check=True)
    committed = {p.name: p.read_bytes() for p in model.parent.iterdir()}
    for path in model.parent.iterdir():
        if path != model:
            path.write_bytes(b"changed in the work tree")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    baseline = ModelBaseline("HEAD", model.read_bytes(), ref="HEAD", source=model)
    written = with_external_data(baseline, scratch)
    assert isinstance(written, Path) and written.read_bytes() == committed["m.onnx"]
    data = {p.name: p.read_bytes() for p in scratch.iterdir() if p.name != "m.onnx"}
    assert data and all(committed[name] == content for name, content in data.items())
    onnx.checker.check_model(str(written), full_check=True)  # loads with its data
    assert with_external_data(ModelBaseline("x", b"not onnx", "HEAD", model), scratch) == (
        b"not onnx"
    )
