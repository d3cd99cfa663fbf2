"""``mlops-ci bench`` and the ``bench`` check end to end: real models, real git, short budgets.

Verdicts that depend on this machine's timing are only asserted where the effect is huge (a
model doing many times more work); everything else asserts behaviour, not speed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime
import pytest

from mlops_ci.demo.model import save_mlp
from tests.conftest import CliResult

Cli = Callable[..., CliResult]
MODEL = Path("models/fraud-detector/model.onnx")
RESULTS = Path(".mlops-ci/bench/fraud-detector.json")


def expected_auto_provider() -> str:
    """What ``--provider auto`` lands on here (TensorRT's libraries are rarely installed)."""
    return "cuda" if "CUDAExecutionProvider" in onnxruntime.get_available_providers() else "cpu"


def bench_result(path: Path) -> dict:  # type: ignore[type-arg]
    (result,) = [r for r in json.loads(path.read_text())["results"] if r["check"] == "bench"]
    return result  # type: ignore[no-any-return]


def decided(findings: list[dict[str, object]]) -> list[dict[str, object]]:
    """The findings less BENCH-INCONCLUSIVE: a short budget on a loaded machine may leave the
    same-run comparison undecided, which these tests of budgets do not judge."""
    return [f for f in findings if f["rule_id"] != "BENCH-INCONCLUSIVE"]


def test_check_on_the_demo_compares_with_origin_main(cli: Cli, demo_repo: Path) -> None:
    out = demo_repo / "r.json"
    result = cli("check", "--only", "bench", "--format", f"json={out}", cwd=demo_repo)
    assert result.exit_code == 0, result.stderr
    bench = bench_result(out)
    facts = bench["facts"]
    assert set(facts) >= {"p50_ms", "p90_ms", "ratio", "verdict", "provider", "samples"}
    assert facts["provider"] == expected_auto_provider() and facts["loaded"] is True
    assert facts["baseline"].startswith("origin/main (")
    assert facts["verdict"] in ("pass", "inconclusive")  # the same model on both sides
    assert 0 < facts["p50_ms"] <= facts["p90_ms"] <= facts["max_ms"]
    assert bench["artifacts"] == [RESULTS.as_posix()]
    assert set(bench["summary"]) >= {"p50", "p90", "verdict"}
    document = json.loads((demo_repo / RESULTS).read_text())
    section = document["mlops_ci"]
    assert [b["name"] for b in document["benchmarks"]] == ["candidate", "baseline"]
    assert (
        len(document["benchmarks"][0]["stats"]["data"])
        == section["measurements"]["candidate"]["summary"]["samples"]
    )
    assert section["session"]["intra_op_threads"] == 1
    assert section["fingerprint"]["onnxruntime"] and section["decision"]["method"] == "interleaved"
    assert sum(section["blocks"][i]["runs"] for i in range(len(section["blocks"]))) == len(
        document["benchmarks"][1]["stats"]["data"]
    )


def test_results_file_loads_in_pytest_benchmark_compare(cli: Cli, demo_repo: Path) -> None:
    assert cli("bench", "fraud-detector", "--budget-s", "1", cwd=demo_repo).exit_code == 0
    done = subprocess.run(
        [sys.executable, "-m", "pytest_benchmark", "compare", str(demo_repo / RESULTS)],
        capture_output=True,
        text=True,
        check=False,
        cwd=demo_repo,
    )
    assert done.returncode == 0, done.stderr
    assert "candidate" in done.stdout and "baseline" in done.stdout
    assert "Failed to load" not in done.stdout + done.stderr


def test_missing_dynamic_dimension_exits_2_naming_the_input(cli: Cli, tmp_path: Path) -> None:
    model = save_mlp(tmp_path / "m.onnx", (8, 4, 2))
    result = cli("bench", str(model), cwd=tmp_path)
    assert result.exit_code == 2
    assert "input 'input' has a dynamic dimension 'batch'" in result.stderr
    assert "--dim batch=N" in result.stderr and "Traceback" not in result.stderr
    ok = cli("bench", str(model), "--dim", "batch=3", "--budget-s", "0.5", cwd=tmp_path)
    assert ok.exit_code == 0, ok.stderr
    document = json.loads((tmp_path / ".mlops-ci/bench/m.json").read_text())
    assert document["mlops_ci"]["inputs"] == [
        {"name": "input", "dtype": "float32", "shape": [3, 8]}
    ]
    assert "bench: warming up" in ok.stderr  # line-oriented progress outside a terminal


def test_unloadable_model_is_a_finding_not_a_traceback(cli: Cli, tmp_path: Path) -> None:
    model = tmp_path / "broken.onnx"
    model.write_bytes(b"\x08\x07garbage")
    out = tmp_path / "r.json"
    result = cli("bench", str(model), "--format", f"json={out}", cwd=tmp_path)
    assert result.exit_code == 1
    assert "Traceback" not in result.stdout + result.stderr
    bench = bench_result(out)
    (finding,) = bench["findings"]
    assert finding["rule_id"] == "BENCH-LOAD" and finding["severity"] == "high"
    assert finding["message"].startswith("onnxruntime cannot load broken.onnx:")
    assert bench["facts"]["loaded"] is False and bench["facts"]["verdict"] == "none"
    assert "p50_ms" not in bench["facts"]  # unknown facts are absent: has(bench.p50_ms) is false


def test_nonexistent_git_ref_exits_2(cli: Cli, demo_repo: Path, tmp_path: Path) -> None:
    result = cli("bench", "fraud-detector", "--baseline", "origin/nope", cwd=demo_repo)
    assert result.exit_code == 2
    assert "git ref 'origin/nope' does not exist" in result.stderr
    assert "Traceback" not in result.stderr
    outside = save_mlp(tmp_path / "outside" / "m.onnx", (8, 2), batch=1)
    result = cli("bench", str(outside), "--baseline", "main", cwd=tmp_path / "outside")
    assert result.exit_code == 2 and "not in a git repository" in result.stderr
    result = cli("bench", "fraud-detector", "--baseline", "missing.onnx", cwd=demo_repo)
    assert result.exit_code == 2 and "no such file" in result.stderr


def test_a_new_model_has_no_baseline_at_the_ref(cli: Cli, demo_repo: Path) -> None:
    new = save_mlp(demo_repo / "models" / "new.onnx", (8, 2), batch=1)
    out = demo_repo / "r.json"
    args = ("bench", str(new), "--baseline", "origin/main", "--budget-s", "0.5")
    result = cli(*args, "--format", f"json={out}", cwd=demo_repo)
    assert result.exit_code == 0, result.stderr
    facts = bench_result(out)["facts"]
    assert facts["verdict"] == "none" and "ratio" not in facts and "baseline" not in facts
    assert facts["notes"] == [
        "models/new.onnx does not exist at origin/main: a new model has no baseline"
    ]


def test_a_much_slower_candidate_fails_with_a_regression(cli: Cli, demo_repo: Path) -> None:
    # The working tree's model does ~60x the arithmetic of the committed one (origin/main).
    save_mlp(demo_repo / MODEL, (64, 256, 256, 2), seed=7)
    out = demo_repo / "r.json"
    result = cli("check", "--only", "bench", "--format", f"json={out}", cwd=demo_repo)
    assert result.exit_code == 1, result.stderr
    bench = bench_result(out)
    # FAIL means the whole interval lies above 1.05; on a GPU the ratio is smaller than on CPU.
    assert bench["facts"]["verdict"] == "fail" and bench["facts"]["ratio_ci"][0] > 1.05
    (finding,) = bench["findings"]
    assert finding["rule_id"] == "BENCH-REGRESSION"
    assert (
        "against origin/main (" in finding["message"]
        and "above the 5% margin" in finding["message"]
    )
    markdown = cli("check", "--only", "bench", "--format", "markdown", cwd=demo_repo).stdout
    assert "verdict **FAIL (ratio" in markdown


def test_absolute_budget_gives_a_budget_finding(cli: Cli, demo_repo: Path) -> None:
    config = demo_repo / "mlops-ci.yaml"
    config.write_text(
        config.read_text().replace(
            "budgets: {p90_ms: 5}", "budgets: {p90_ms: 0.000001, p50_ms: 1000}"
        )
    )
    out = demo_repo / "r.json"
    result = cli(
        "bench", "fraud-detector", "--budget-s", "1", "--format", f"json={out}", cwd=demo_repo
    )
    assert result.exit_code == 1
    (finding,) = decided(bench_result(out)["findings"])
    assert finding["rule_id"] == "BENCH-BUDGET"
    assert finding["message"].startswith("p90 latency ")
    assert "exceeds the budget of 1e-06 ms (mlops-ci.yaml bench.budgets)" in finding["message"]


def test_stored_results_are_compared_only_in_the_same_environment(
    cli: Cli, demo_repo: Path
) -> None:
    stored = demo_repo / "stored.json"
    args = ("bench", "fraud-detector", "--budget-s", "0.5")
    assert cli(*args, "--results", str(stored), cwd=demo_repo).exit_code == 0
    out = demo_repo / "r.json"
    result = cli(*args, "--baseline", "stored.json", "--format", f"json={out}", cwd=demo_repo)
    assert result.exit_code in (0, 1), result.stderr
    document = json.loads((demo_repo / RESULTS).read_text())
    assert document["mlops_ci"]["decision"]["method"] == "stored"
    tampered = json.loads(stored.read_text())
    tampered["mlops_ci"]["fingerprint"]["cpu_model"] = "Another CPU"
    stored.write_text(json.dumps(tampered))
    result = cli(*args, "--baseline", "stored.json", "--format", f"json={out}", cwd=demo_repo)
    assert result.exit_code == 0, result.stderr
    facts = bench_result(out)["facts"]
    assert facts["verdict"] == "none" and "ratio" not in facts
    assert "comes from another environment (cpu_model: 'Another CPU' != " in facts["notes"][0]
    assert facts["notes"][0].endswith("no comparison, absolute budgets only")


@pytest.mark.skipif(
    "CUDAExecutionProvider" in onnxruntime.get_available_providers(),
    reason="this onnxruntime has CUDA: the test is about a CPU-only build",
)
def test_a_gpu_provider_on_a_cpu_build_exits_2(cli: Cli, demo_repo: Path) -> None:
    result = cli("bench", "fraud-detector", "--provider", "cuda", cwd=demo_repo)
    assert result.exit_code == 2
    assert "provider 'cuda' is not available in this onnxruntime build" in result.stderr


def test_bad_flags_and_variables_exit_2(
    cli: Cli, demo_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = cli("bench", "fraud-detector", "--dim", "batch", cwd=demo_repo)
    assert result.exit_code == 2 and "--dim 'batch': write NAME=VALUE" in result.stderr
    result = cli("bench", "fraud-detector", "--provider", "gpu", cwd=demo_repo)
    assert result.exit_code == 2 and "bench setting provider" in result.stderr
    result = cli("bench", "fraud-detetcor", cwd=demo_repo)
    assert result.exit_code == 2
    assert (
        "neither a configured model nor an existing path (configured models: fraud-detector)"
        in result.stderr
    )
    monkeypatch.setenv("MLOPS_CI_BENCH_BUDGET_S", "-1")
    result = cli("bench", "fraud-detector", cwd=demo_repo)
    assert result.exit_code == 2 and "bench setting budget_s" in result.stderr


def test_a_configured_path_uses_its_settings_and_npz_inputs(cli: Cli, demo_repo: Path) -> None:
    # The path of a configured model takes that model's dims (batch: 1) and results file.
    result = cli("bench", str(MODEL), "--budget-s", "0.5", "--baseline", str(MODEL), cwd=demo_repo)
    assert result.exit_code == 0, result.stderr
    assert (demo_repo / RESULTS).is_file()
    npz = demo_repo / "inputs.npz"
    np.savez(npz, input=np.ones((4, 64), np.float32))
    result = cli("bench", "fraud-detector", "--npz", str(npz), "--budget-s", "0.5", cwd=demo_repo)
    assert result.exit_code == 0, result.stderr
    document = json.loads((demo_repo / RESULTS).read_text())
    assert document["mlops_ci"]["inputs"][0]["shape"] == [4, 64]


def test_a_model_that_fails_on_the_inputs_exits_2(cli: Cli, tmp_path: Path) -> None:
    from onnx import TensorProto, helper, save

    node = helper.make_node("Reshape", ["input", "shape"], ["output"])
    graph = helper.make_graph(
        [node],
        "reshape",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [4])],
        [helper.make_tensor("shape", TensorProto.INT64, [1], [4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    save(model, str(tmp_path / "reshape.onnx"))
    result = cli("bench", "reshape.onnx", "--dim", "batch=2", cwd=tmp_path)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()[-1:]
    assert line.startswith(
        "error: reshape.onnx: onnxruntime cannot run the candidate with the benchmark inputs (input [2, 4])"
    )
    assert "The input tensor cannot be reshaped" in line and "/onnxruntime_src/" not in line
    assert (
        cli(
            "bench", "reshape.onnx", "--dim", "batch=1", "--budget-s", "0.3", cwd=tmp_path
        ).exit_code
        == 0
    )


def test_check_benchmarks_only_models_with_a_bench_section(cli: Cli, tmp_path: Path) -> None:
    save_mlp(tmp_path / "m.onnx", (8, 2))
    (tmp_path / "mlops-ci.yaml").write_text("models:\n  - {name: m, path: m.onnx}\n")
    out = tmp_path / "r.json"
    # Alone, a skipped bench would be "nothing to check" (exit 2): run it beside a real gate.
    alone = cli("check", "--only", "bench", cwd=tmp_path)
    assert alone.exit_code == 2 and "nothing to check" in alone.stderr
    only = ("--only", "bench", "--only", "onnx-model")
    result = cli("check", *only, "--format", f"json={out}", cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    bench = bench_result(out)
    assert bench["status"] == "skipped" and "has no bench: section" in bench["detail"]
    # `mlops-ci bench` benchmarks it anyway: the user asked for it by name.
    assert cli("bench", "m", "--dim", "batch=1", "--budget-s", "0.3", cwd=tmp_path).exit_code == 0


def test_card_latency_budget_applies_at_its_batch(cli: Cli, demo_repo: Path) -> None:
    card = demo_repo / "models/fraud-detector/README.md"
    text = card.read_text()
    assert "latency_budget: {p50_ms: 2, p90_ms: 5, batch: 1}" in text
    card.write_text(text.replace("p50_ms: 2, p90_ms: 5, batch: 1", "p50_ms: 0.000001, batch: 1"))
    out = demo_repo / "r.json"
    args = ("bench", "fraud-detector", "--budget-s", "0.5", "--format", f"json={out}")
    assert cli(*args, cwd=demo_repo).exit_code == 1
    (finding,) = decided(bench_result(out)["findings"])
    assert finding["rule_id"] == "BENCH-BUDGET" and "(model card)" in finding["message"]
    assert finding["message"].startswith("p50 latency ")
    assert cli(*args, "--dim", "batch=4", cwd=demo_repo).exit_code == 0
    notes = bench_result(out)["facts"]["notes"]
    assert "the card's latency budget holds at batch 1, this run used batch 4" in notes[-1]


@pytest.mark.parametrize(
    "value",
    [
        "batch=99999999999",
        "batch=-1",
        "batch=0",
        "batch=nan",
        "batch=1e309",
        "batch=\u0663",
        "batch=",
        "=4",
        "batch",
        "batch=1.5",
        "batch=16777217",
        "batch=" + "9" * 400,
    ],
)
def test_dim_values_are_range_checked(value: str) -> None:
    from mlops_ci.commands.bench import parse_dims
    from mlops_ci.errors import UsageError

    with pytest.raises(UsageError, match="integer VALUE from 1 to 16,777,216"):
        parse_dims([value])


def test_dims_within_range_are_accepted() -> None:
    from mlops_ci.commands.bench import parse_dims

    assert parse_dims(["batch=16777216", " seq = 8 "]) == {"batch": 16777216, "seq": 8}


@pytest.mark.parametrize(
    ("shape", "dims"),
    [
        (("batch", 64), {"batch": 16_777_216}),  # 8 GiB of float64 normals: refused up front
        ((1 << 20, 1 << 20), {}),  # a huge static shape in the model itself
        (("a", "b", "c"), {"a": 4096, "b": 4096, "c": 4096}),
    ],
)
def test_inputs_over_the_memory_cap_are_refused_before_allocation(
    shape: tuple[int | str, ...], dims: dict[str, int]
) -> None:
    import time

    from mlops_ci.bench.inputs import GraphInput, synthesise
    from mlops_ci.errors import InputError

    graph = [GraphInput("input", "tensor(float)", shape)]
    start = time.process_time()
    with pytest.raises(InputError, match="more than 1 GiB"):
        synthesise(graph, dims, {}, "model.onnx")
    assert time.process_time() - start < 1.0


def test_npz_over_the_memory_cap_is_refused(tmp_path: Path) -> None:
    import zipfile

    from mlops_ci.bench.inputs import GraphInput, load_npz
    from mlops_ci.errors import InputError

    # A tiny archive whose member declares 3.75 GiB uncompressed (a zip bomb, never inflated).
    path = tmp_path / "inputs.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("input.npy", bytes(1024))
    data = bytearray(path.read_bytes())
    central = data.index(b"PK\x01\x02")
    data[22:26] = data[central + 24 : central + 28] = (0xF0000000).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="over the 1 GiB limit"):
        load_npz(path, [GraphInput("input", "tensor(float)", ("n",))], "inputs.npz")
