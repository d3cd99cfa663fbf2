"""``mlops-ci init`` reads the repository: ``init && check`` passes on a fresh one (issue 15)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import onnx
from onnx import TensorProto, helper

from tests.conftest import CliResult

CLEAN_PINS = "idna==3.7\n"  # no record in the demo advisory database


def tiny_model(path: Path, name: str = "pixels", shape: list[int | str] | None = None) -> Path:
    """A one-node ONNX model whose input is named and shaped unlike any default."""
    shape = shape or ["N", 3, 32, 32]
    x = helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)
    y = helper.make_tensor_value_info("scores", TensorProto.FLOAT, shape)
    graph = helper.make_graph([helper.make_node("Relu", [name], ["scores"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def test_init_then_check_passes_on_a_fresh_repository(cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from mlops_ci.demo import write_vuln_db
    from mlops_ci.findings import Report

    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    tiny_model(repo / "models" / "vision" / "model.onnx")
    (repo / "requirements.txt").write_text(CLEAN_PINS)
    (repo / "src").mkdir()
    (repo / "src" / "serve.py").write_text("def handler(x):\n    return x\n")
    write_vuln_db(repo / "osv")

    result: CliResult = cli("init", str(repo), "--vuln-db", str(repo / "osv"), cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    config = (repo / "mlops-ci.yaml").read_text()
    assert '"pixels": {shape: ["N", 3, 32, 32], dtype: float32}' in config
    assert '"N": 1' in config and "waivers:" not in config.replace("# waivers:", "")
    assert 'requirements: ["requirements.txt"]' in config and 'source: ["src"]' in config
    assert (repo / "models" / "vision" / "MODEL_CARD.md").is_file()
    assert (repo / ".github" / "zizmor.yml").is_file()
    assert (repo / ".gitignore").read_text().splitlines()[-2:] == [".mlops-ci/", "reports/"]
    steps = result.stdout.split("Next:")[1].splitlines()
    assert "mlops-ci check" in steps[1] and "mlops-ci sign" in steps[2]
    assert "git add" in steps[3] and "git commit" in steps[3]

    # One second of benchmarking is plenty for a one-node model (the pipeline's setting, as a
    # CI job would give it; what init wrote is unchanged).
    monkeypatch.setenv("MLOPS_CI_BENCH_BUDGET_S", "1")
    checked = cli("check", "--offline", "--format", "json", cwd=repo)
    report = Report.from_dict(json.loads(checked.stdout))
    assert checked.exit_code == 0, (
        checked.stderr,
        [f.message for r in report.results for f in r.findings],
    )
    by_check = {r.check: r for r in report.results}
    assert not [r.check for r in report.results if r.status == "errored"]
    written = {line.split()[1] for line in result.stdout.splitlines() if "created" in line}
    assert "mlops-ci.yaml" in written and "models/vision/MODEL_CARD.md" in written
    about = {f.location.path for r in report.results for f in r.findings if f.location}
    assert not about & written  # findings, if any, are about the repository, not init's files
    assert by_check["deps"].status == "passed" and by_check["deps"].facts["mode"] == "offline-db"
    assert by_check["bench"].status == "passed" and by_check["card"].status == "passed"
    assert report.models[0].name == "vision"

    before = {
        p: p.stat().st_mtime_ns for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts
    }
    again = cli("init", str(repo), cwd=repo)
    assert again.exit_code == 0
    assert "created" not in again.stdout and "replaced" not in again.stdout
    assert all(p.stat().st_mtime_ns == t for p, t in before.items() if p.exists())


def test_init_reads_what_is_there_and_skips_what_is_not_the_repository(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "repo"
    outside = tmp_path / "outside"
    tiny_model(outside / "stolen.onnx")
    tiny_model(repo / "a" / "detector.onnx", name='x": y #', shape=[1, "batch size", 0])
    tiny_model(repo / "c" / "bad.onnx", name="\x1b[31mred")  # never written into the config
    tiny_model(repo / "a" / "123.onnx")
    tiny_model(repo / ".venv" / "lib" / "hidden.onnx")
    tiny_model(repo / "env" / "venv.onnx")
    (repo / "env" / "pyvenv.cfg").write_text("home = /usr\n")
    (repo / "b").mkdir()
    tiny_model(repo / "b" / "ranker.onnx")
    (repo / "b" / "README.md").write_text("---\nlicense: mit\n---\n# ranker\n")
    (repo / "linked").symlink_to(outside, target_is_directory=True)
    (repo / "poetry.lock").write_text("")
    (repo / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["idna==3.7"]\n')
    (repo / "tests").mkdir()
    (repo / "tests" / "test_x.py").write_text("")
    (repo / "train.py").write_text("")
    (repo / ".gitignore").write_text("/reports\n")
    (outside / ".gitignore").write_text("secret\n")
    (repo / "b" / ".gitignore").symlink_to(outside / ".gitignore")

    (repo / "c" / "MODEL_CARD.md").write_text("# bad, no front matter\n")
    outside_db = cli("init", str(repo), "--vuln-db", str(outside))
    assert outside_db.exit_code == 2 and "outside the repository" in outside_db.stderr
    assert not (repo / "mlops-ci.yaml").exists()  # refused before anything was written
    result = cli("init", str(repo))
    assert result.exit_code == 0, result.stderr
    assert "c/MODEL_CARD.md: exists without YAML front matter" in result.stdout
    from mlops_ci.config import load_config

    config = load_config(cwd=repo).config
    models = {m.name: m for m in config.models}
    assert sorted(models) == ["123", "bad", "detector", "ranker"]
    assert models["ranker"].card == "b/README.md"
    assert models["detector"].card == "a/detector.MODEL_CARD.md"  # two models share a/
    inputs = models["detector"].bench.inputs
    assert inputs['x": y #'].shape == [1, "batch size", 'x": y #_dim2']
    assert models["detector"].bench.dims == {"batch size": 1, 'x": y #_dim2': 1}
    assert models["bad"].bench.inputs == {} and "\x1b" not in (repo / "mlops-ci.yaml").read_text()
    assert config.scan.requirements == ["pyproject.toml"] and config.sbom.source == "environment"
    assert config.scan.source == ["train.py"]
    assert "poetry export" in (repo / "mlops-ci.yaml").read_text()
    lines = (repo / ".gitignore").read_text().splitlines()
    assert "reports/" not in lines and ".mlops-ci/" in lines  # /reports already ignores it
    assert sorted(p.name for p in outside.iterdir()) == [".gitignore", "stolen.onnx"]
    assert (outside / ".gitignore").read_text() == "secret\n"
    linked = cli("init", str(repo / "b"))  # b/ as a repository of its own: its .gitignore links out
    assert "linked  .gitignore" in linked.stdout and "add .mlops-ci/" in linked.stdout
    assert (outside / ".gitignore").read_text() == "secret\n"
