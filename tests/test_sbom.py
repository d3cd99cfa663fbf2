"""The CycloneDX SBOM with its ML-BOM, on the real demo repository and real cyclonedx-py runs."""

from __future__ import annotations

import hashlib
import json
import re
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import git
import onnx
import pytest

from mlops_ci.card.validate import validate_card
from mlops_ci.demo.model import save_mlp
from mlops_ci.findings import Report
from tests.conftest import CliResult

Cli = Callable[..., CliResult]
CARD = Path("models/fraud-detector/README.md")
MODEL = Path("models/fraud-detector/model.onnx")
SBOM = Path(".mlops-ci/sbom/fraud-detector.cdx.json")
COMPLETE = (Path(__file__).parent / "data" / "cards" / "complete.md").read_text()


def strict_errors(text: str) -> Any:
    """The first error of cyclonedx-python-lib's strict 1.6 validator, or None."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    return JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)


def load(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def by_type(bom: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [c for c in bom["components"] if c["type"] == kind]


def prop(entries: list[dict[str, str]], name: str) -> list[str]:
    return [p["value"] for p in entries if p["name"] == name]


def io_formats(path: Path) -> tuple[list[str], list[str]]:
    """Input and output formats read straight from the ONNX graph, independently of mlops-ci."""
    graph = onnx.load(str(path)).graph
    initializers = {t.name for t in graph.initializer}

    def fmt(value: Any) -> str:
        tensor = value.type.tensor_type
        dims = ", ".join(d.dim_param or str(d.dim_value) for d in tensor.shape.dim)
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type).name
        return f"{value.name}: {dtype}[{dims}]"

    inputs = [fmt(v) for v in graph.input if v.name not in initializers]
    return inputs, [fmt(v) for v in graph.output]


def set_sbom_config(repo: Path, line: str) -> None:
    """Replace the demo's ``sbom:`` line of mlops-ci.yaml."""
    config = repo / "mlops-ci.yaml"
    text = config.read_text()
    assert "sbom: {requirements: [requirements.txt]}" in text
    config.write_text(text.replace("sbom: {requirements: [requirements.txt]}", line))


def make_repo(root: Path, card: str, requirements: str = "numpy==2.1.3\n") -> Path:
    save_mlp(root / "model.onnx", (8, 4, 2))
    (root / "card.md").write_text(card)
    (root / "requirements.txt").write_text(requirements)
    (root / "mlops-ci.yaml").write_text(
        "models:\n  - {name: m, path: model.onnx, card: card.md}\n"
        "sbom: {requirements: [requirements.txt]}\n"
    )
    return root


def test_demo_sbom_is_strict_cyclonedx_and_its_model_card_equals_the_card(
    cli: Cli, demo_repo: Path
) -> None:
    result = cli("sbom", cwd=demo_repo)
    assert result.exit_code == 0, result.stderr
    text = (demo_repo / SBOM).read_text()
    assert strict_errors(text) is None
    bom = json.loads(text)
    assert (bom["bomFormat"], bom["specVersion"]) == ("CycloneDX", "1.6")
    card = validate_card((demo_repo / CARD).read_text(), str(CARD)).metadata
    assert card is not None and card.governance is not None
    gov = card.governance

    (model,) = by_type(bom, "machine-learning-model")
    assert model["name"] == "fraud-detector"
    assert model["version"] == gov.version
    assert model["licenses"] == [{"license": {"id": "Apache-2.0"}}]
    assert card.license == "apache-2.0"
    digest = hashlib.sha256((demo_repo / MODEL).read_bytes()).hexdigest()
    assert model["hashes"] == [{"alg": "SHA-256", "content": digest}]
    assert [(f["name"], f["hashes"][0]["content"]) for f in model["components"]] == [
        ("model.onnx", digest)
    ]

    model_card = model["modelCard"]
    params = model_card["modelParameters"]
    assert params["task"] == card.pipeline_tag
    assert params["architectureFamily"] == gov.architecture
    inputs, outputs = io_formats(demo_repo / MODEL)
    assert [i["format"] for i in params["inputs"]] == inputs == ["input: float32[batch, 64]"]
    assert [o["format"] for o in params["outputs"]] == outputs == ["output: float32[batch, 2]"]

    datasets = [*gov.training_data, *gov.evaluation_data]
    data = by_type(bom, "data")
    # The card's two datasets, then the evaluation set the eval gate measured, by its digest.
    *data, measured_on = data
    assert len(data) == len(datasets) == 2
    assert measured_on["name"] == "data/fraud-eval.parquet"
    eval_data = (demo_repo / "data/fraud-eval.parquet").read_bytes()
    assert measured_on["hashes"] == [
        {"alg": "SHA-256", "content": hashlib.sha256(eval_data).hexdigest()}
    ]
    assert [d["ref"] for d in params["datasets"]][:2] == [d["bom-ref"] for d in data]
    for component, source in zip(data, datasets, strict=True):
        assert component["name"] == source.name
        assert component["version"] == source.version
        assert component["licenses"] == [{"license": {"id": "CC-BY-4.0"}}]
        assert source.license == "cc-by-4.0"
        assert component["externalReferences"] == [{"type": "distribution", "url": source.source}]
        assert component["data"][0]["contents"] == {"url": source.source}
        assert component["data"][0]["type"] == "dataset"

    metrics = model_card["quantitativeAnalysis"]["performanceMetrics"]
    expected = [
        {"type": m.name, "value": str(m.value), "slice": m.dataset} for m in gov.evaluation_metrics
    ]
    for index in card.model_index or []:
        for evaluation in index.results:
            assert evaluation.dataset is not None
            for metric in evaluation.metrics:
                expected.append(
                    {
                        "type": metric.type,
                        "value": str(metric.value),
                        "slice": f"{evaluation.dataset.name} ({evaluation.dataset.split} split)",
                    }
                )
    # The card's claims as it states them, then what the eval gate measured, marked as such.
    claims, measured = metrics[:3], metrics[3:]
    assert claims == expected
    measured_slice = "measured by mlops-ci on data/fraud-eval.parquet"
    assert [m["type"] for m in measured if m["slice"] == measured_slice] == [
        "roc_auc",
        "accuracy",
        "f1",
    ]

    considerations = model_card["considerations"]
    assert considerations["users"] == gov.intended_users == ["Fraud analysts"]
    assert considerations["useCases"] == [gov.intended_use]
    assert considerations["technicalLimitations"] == [gov.limitations]
    assert gov.fairness is not None
    assert considerations["fairnessAssessments"] == [{"mitigationStrategy": gov.fairness.statement}]
    properties = model_card["properties"]
    assert prop(properties, "mlops-ci:risk-level") == [gov.risk_level]
    assert prop(properties, "mlops-ci:out-of-scope-use") == [gov.out_of_scope_use]
    assert prop(properties, "mlops-ci:owner") == ["Risk ML team <risk-ml@example.com>"]

    metadata = bom["metadata"]
    tools = [t["name"] for t in metadata["tools"]["components"]]
    assert tools[0] == "mlops-ci" and "cyclonedx-py" in tools
    with git.Repo(demo_repo) as repo:
        head = repo.head.commit.hexsha
    assert prop(metadata["properties"], "mlops-ci:git:commit") == [head]
    assert prop(metadata["properties"], "mlops-ci:git:repository") != []

    libraries = {c["name"]: c for c in by_type(bom, "library")}
    assert set(libraries) == {"requests", "pyyaml", "jinja2", "numpy"}
    assert libraries["numpy"]["purl"] == "pkg:pypi/numpy@2.1.3"
    depends = [d["bom-ref"] for d in (*data, measured_on)]
    assert {"ref": model["bom-ref"], "dependsOn": depends} in bom["dependencies"]


def test_demo_writes_the_sbom_in_its_check_run(cli: Cli, tmp_path: Path) -> None:
    result = cli("demo", str(tmp_path / "d"))
    assert re.search(r"^sbom +fraud-detector +passed ", result.stdout, re.M)
    assert strict_errors((tmp_path / "d" / SBOM).read_text()) is None


def test_check_run_writes_the_sbom_and_reports_facts(cli: Cli, demo_repo: Path) -> None:
    result = cli("check", "--only", "sbom", "--format", "json", cwd=demo_repo)
    assert result.exit_code == 0, result.stderr
    report = Report.from_dict(json.loads(result.stdout))
    (sbom,) = [r for r in report.results if r.check == "sbom"]
    assert sbom.status == "passed"
    text = (demo_repo / SBOM).read_bytes()
    assert sbom.facts == {
        "digest": "sha256:" + hashlib.sha256(text).hexdigest(),
        "components": 8,  # model + its file + 2 datasets + 4 requirements
        "licenses": ["Apache-2.0", "CC-BY-4.0"],
        "model_card": True,
        "path": SBOM.as_posix(),
    }
    assert sbom.artifacts == (SBOM.as_posix(),)
    facts = cli("policy", "facts", "--model", "fraud-detector", cwd=demo_repo)
    assert json.loads(facts.stdout)["sbom"]["model_card"] is True


def test_reproducible_with_source_date_epoch(
    cli: Cli, demo_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    first = cli("sbom", "--output", "a.cdx.json", cwd=demo_repo)
    second = cli("sbom", "--output", "b.cdx.json", cwd=demo_repo)
    assert first.exit_code == second.exit_code == 0, first.stderr + second.stderr
    a, b = (demo_repo / "a.cdx.json").read_bytes(), (demo_repo / "b.cdx.json").read_bytes()
    assert a == b
    bom = json.loads(a)
    assert bom["metadata"]["timestamp"] == "2026-01-01T00:00:00Z"
    assert bom["serialNumber"].startswith("urn:uuid:")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "tomorrow")
    bad = cli("sbom", cwd=demo_repo)
    assert bad.exit_code == 2
    assert "SOURCE_DATE_EPOCH='tomorrow' is not a whole number" in bad.stderr


def test_diff_of_a_changed_pin_lists_exactly_that_change(cli: Cli, demo_repo: Path) -> None:
    assert cli("sbom", "-o", "old.cdx.json", cwd=demo_repo).exit_code == 0
    requirements = demo_repo / "requirements.txt"
    requirements.write_text(requirements.read_text().replace("numpy==2.1.3", "numpy==2.1.2"))
    assert cli("sbom", "-o", "new.cdx.json", cwd=demo_repo).exit_code == 0
    result = cli("sbom", "diff", "old.cdx.json", "new.cdx.json", "--format", "json", cwd=demo_repo)
    assert result.exit_code == 0, result.stderr
    diff = json.loads(result.stdout)
    assert diff["added"] == diff["removed"] == []
    assert diff["changed"] == [
        {
            "name": "numpy",
            "type": "library",
            "changes": [{"field": "version", "before": "2.1.3", "after": "2.1.2"}],
        }
    ]
    markdown = cli("sbom", "diff", "old.cdx.json", "new.cdx.json", cwd=demo_repo).stdout
    assert markdown.startswith("<!-- mlops-ci:sbom-diff -->\n")
    assert "0 added, 0 removed, 1 changed (9 → 9 components)" in markdown
    assert "| numpy | version | 2.1.3 | 2.1.2 |" in markdown
    same = cli("sbom", "diff", "old.cdx.json", "old.cdx.json", cwd=demo_repo).stdout
    assert "No component was added, removed or changed." in same


def test_complete_card_maps_every_governance_field(cli: Cli, tmp_path: Path) -> None:
    card = COMPLETE.replace(
        "  risk_level: high\n", "  risk_level: high\n  intended_users: [fraud analysts]\n"
    )
    repo = make_repo(tmp_path, card)
    assert cli("sbom", cwd=repo).exit_code == 0
    text = (repo / ".mlops-ci/sbom/m.cdx.json").read_text()
    assert strict_errors(text) is None
    bom = json.loads(text)
    (model,) = by_type(bom, "machine-learning-model")
    considerations = model["modelCard"]["considerations"]
    assert considerations["users"] == ["fraud analysts"]
    assert considerations["ethicalConsiderations"] == [
        {"name": "False positives inconvenience customers; analysts review every alert."}
    ]
    assert considerations["fairnessAssessments"] == [
        {"groupAtRisk": "card type"},
        {"groupAtRisk": "region"},
        {"mitigationStrategy": "Largest recall gap between slices is 2 points."},
    ]
    metrics = model["modelCard"]["quantitativeAnalysis"]["performanceMetrics"]
    assert {"type": "recall", "value": "0.81", "slice": "card type"} in metrics
    assert {
        "type": "false_positive_rate",
        "value": "0.02",
        "slice": "transactions-2026q3-holdout",
    } in metrics
    training, evaluation = by_type(bom, "data")
    assert training["hashes"] == [
        {
            "alg": "SHA-256",
            "content": "9f2c4d1e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d",
        }
    ]
    assert "version" not in training
    assert training["licenses"] == [{"license": {"name": "proprietary"}}]
    assert training["data"][0]["governance"] == {
        "owners": [{"contact": {"email": "data-platform@example.com"}}]
    }
    assert training["externalReferences"][0]["url"] == "s3://acme-data/transactions/2026q3/"
    assert evaluation["version"] == "2026.10"
    assert len(prop(model["modelCard"]["properties"], "mlops-ci:approval")) == 2


def test_free_text_where_the_schema_wants_a_url_stays_valid(cli: Cli, tmp_path: Path) -> None:
    card = COMPLETE.replace(
        "source: s3://acme-data/transactions/2026q3/", "source: the data warehouse, table tx"
    ).replace("owners: [data-platform@example.com]", "owners: [Data platform team]")
    repo = make_repo(tmp_path, card)
    assert cli("sbom", cwd=repo).exit_code == 0
    bom = load(repo / ".mlops-ci/sbom/m.cdx.json")
    training = by_type(bom, "data")[0]
    assert "externalReferences" not in training
    assert prop(training["properties"], "mlops-ci:data:source") == ["the data warehouse, table tx"]
    assert training["data"][0]["governance"] == {
        "owners": [{"organization": {"name": "Data platform team"}}]
    }


def test_model_directory_hashes_every_file(cli: Cli, tmp_path: Path) -> None:
    repo = make_repo(tmp_path, COMPLETE)
    model_dir = repo / "models" / "m"
    save_mlp(model_dir / "encoder.onnx", (8, 4), name="encoder")
    save_mlp(model_dir / "head.onnx", (4, 2), name="head", input_name="features")
    (model_dir / "vocab.txt").write_text("a\nb\n")
    (model_dir / ".gitattributes").write_text("*.onnx filter=lfs\n")
    (repo / "mlops-ci.yaml").write_text(
        "models:\n  - {name: m, path: models/m, card: card.md}\n"
        "sbom: {requirements: [requirements.txt]}\n"
    )
    assert cli("sbom", cwd=repo).exit_code == 0
    (model,) = by_type(load(repo / ".mlops-ci/sbom/m.cdx.json"), "machine-learning-model")
    files = {f["name"]: f["hashes"][0]["content"] for f in model["components"]}
    assert files == {
        name: hashlib.sha256((model_dir / name).read_bytes()).hexdigest()
        for name in (".gitattributes", "encoder.onnx", "head.onnx", "vocab.txt")
    }
    assert "hashes" not in model  # one digest per file; no single file stands for the model
    assert [i["format"] for i in model["modelCard"]["modelParameters"]["inputs"]] == [
        "encoder.onnx: input: float32[batch, 8]",
        "head.onnx: features: float32[batch, 4]",
    ]


def test_oms_digest_hook_fills_the_property_when_signing_exists(
    cli: Cli, demo_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops_ci.sbom.generate import oms_model_digest
    from mlops_ci.sbom.mlbom import OMS_DIGEST_PROPERTY

    try:
        import mlops_ci.signing.oms  # noqa: F401
    except ImportError:
        assert oms_model_digest(demo_repo / MODEL) is None
    fake = types.ModuleType("mlops_ci.signing.oms")
    fake.model_digest = lambda path: "sha256:" + "ab" * 32  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "mlops_ci.signing.oms", fake)
    assert cli("sbom", cwd=demo_repo).exit_code == 0
    (model,) = by_type(load(demo_repo / SBOM), "machine-learning-model")
    assert prop(model["properties"], OMS_DIGEST_PROPERTY) == ["sha256:" + "ab" * 32]


def test_gitlab_naming_and_output_choices(cli: Cli, demo_repo: Path) -> None:
    result = cli("sbom", "--gitlab", "--output", "reports", cwd=demo_repo)
    assert result.exit_code == 0, result.stderr
    assert (demo_repo / "reports" / "gl-sbom-fraud-detector.cdx.json").is_file()
    assert "fraud-detector: wrote reports/gl-sbom-fraud-detector.cdx.json" in result.stdout
    result = cli("sbom", "--output", "out/", "--format", "json", cwd=demo_repo)
    assert result.exit_code == 0
    assert (demo_repo / "out" / "fraud-detector.cdx.json").is_file()
    # The eval check runs first (the ML-BOM carries its measured metrics), then the SBOM.
    checks = [r["check"] for r in json.loads(result.stdout)["results"]]
    assert checks == ["eval", "sbom"]
    config = demo_repo / "mlops-ci.yaml"
    config.write_text(
        config.read_text().replace(
            "\nsbom:",
            "\n  - {name: second, path: models/fraud-detector/model.onnx}\nsbom:",
            1,
        )
    )
    many = cli("sbom", "--output", "one.cdx.json", cwd=demo_repo)
    assert many.exit_code == 2
    assert "--output names one file but 2 models are selected" in many.stderr
    second = cli("sbom", "--model", "second", cwd=demo_repo)
    assert second.exit_code == 0
    assert "no modelCard" in second.stdout
    bom = load(demo_repo / ".mlops-ci/sbom/second.cdx.json")
    assert "modelCard" not in by_type(bom, "machine-learning-model")[0]


def test_invalid_document_is_an_internal_error_and_is_never_written(
    cli: Cli, demo_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops_ci.sbom import generate

    real = generate.model_component

    def broken(*args: Any) -> dict[str, Any]:
        return {**real(*args), "modelCardd": {}}

    monkeypatch.setattr(generate, "model_component", broken)
    result = cli("sbom", cwd=demo_repo)
    assert result.exit_code == 3
    assert result.stderr.startswith("internal error: InvalidSbomError: the generated SBOM is not")
    assert not (demo_repo / SBOM).exists()
    assert list(demo_repo.rglob("*.tmp")) == []


def test_environment_source_inventories_the_installed_packages(cli: Cli, demo_repo: Path) -> None:
    set_sbom_config(demo_repo, "sbom: {source: environment}")
    result = cli("sbom", cwd=demo_repo)
    assert result.exit_code == 0, result.stderr
    bom = load(demo_repo / SBOM)
    purls = {c.get("purl", "").split("@")[0] for c in by_type(bom, "library")}
    assert {"pkg:pypi/cyclonedx-bom", "pkg:pypi/onnx", "pkg:pypi/pydantic"} <= purls
    licensed = [c for c in by_type(bom, "library") if c.get("licenses")]
    assert len(licensed) > len(by_type(bom, "library")) / 2
    assert any(d.get("dependsOn") for d in bom["dependencies"])
    assert prop(bom["metadata"]["properties"], "mlops-ci:sbom:software-source") == ["environment"]


def test_benchmark_results_stay_out_of_the_sbom(demo_repo: Path) -> None:
    """Latencies vary from run to run: they are in the report, never in the signed SBOM."""
    import datetime as dt

    from mlops_ci.checks.base import Context
    from mlops_ci.checks.sbom import SbomCheck
    from mlops_ci.config import load_config
    from mlops_ci.findings import CheckResult

    loaded = load_config(demo_repo / "mlops-ci.yaml")
    bench = CheckResult(
        "bench",
        "passed",
        "fraud-detector",
        facts={"p50_ms": 0.0123, "p90_ms": 0.02, "provider": "CPUExecutionProvider"},
    )
    ctx = Context(
        loaded=loaded,
        model=loaded.config.models[0],
        needs={"bench": bench},
        now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )
    result = SbomCheck().run(ctx)
    assert result.facts["model_card"] is True
    # Only eval's measured (seeded, reproducible) figures reach the SBOM, never bench's.
    assert SbomCheck.needs == ("eval",)
    text = (demo_repo / SBOM).read_text()
    assert "latency" not in text
    assert "0.0123" not in text


def test_a_policy_can_forbid_gpl_through_the_sbom_licences(cli: Cli, demo_repo: Path) -> None:
    card = demo_repo / CARD
    card.write_text(card.read_text().replace("license: cc-by-4.0", "license: gpl-3.0-only", 1))
    (demo_repo / "local.yaml").write_text(
        "name: local\nversion: '1'\ndescription: d\nrules:\n"
        "  - id: LOCAL-NO-GPL\n    description: no GPL\n    severity: high\n"
        '    expr: \'!lookup("sbom.licenses", []).exists(l, l.startsWith("GPL"))\'\n'
        '    message: "GPL in the SBOM: {{ sbom.licenses }}"\n    remediation: r\n'
    )
    config = demo_repo / "mlops-ci.yaml"
    config.write_text(
        config.read_text().replace("policies: [baseline]", "policies: [./local.yaml]")
    )
    result = cli("check", "--format", "json", cwd=demo_repo)
    assert result.exit_code == 1, result.stderr
    report = Report.from_dict(json.loads(result.stdout))
    (finding,) = [f for _, f in report.all_findings() if f.rule_id == "LOCAL-NO-GPL"]
    assert "GPL-3.0-only" in finding.message
