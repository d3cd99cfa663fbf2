"""The ``artifacts`` check: pickles judged without being loaded, ONNX external data that escapes
(never opened), custom operator domains, symlinks out of the model path."""

from __future__ import annotations

import builtins
import collections
import gzip
import io
import json
import os
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from mlops_ci.demo.model import build_mlp
from mlops_ci.findings import CheckResult, Report
from mlops_ci.scan.model_files import scan_model_path
from mlops_ci.scan.pickles import classify, scan_pickle
from tests.conftest import CliResult

Cli = Callable[..., CliResult]


class RunsACommand:
    """Unpickling this calls os.system (posix.system on Linux) with a command that leaves a file."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.sentinel}",))


def scan_artifacts(cli: Cli, repo: Path, model_path: str) -> CheckResult:
    (repo / "mlops-ci.yaml").write_text(
        f"version: 1\nmodels:\n  - {{name: m, path: {model_path}}}\n"
    )
    result = cli("scan", "--format", "json", cwd=repo)
    assert result.exit_code in (0, 1), result.stderr
    report = Report.from_dict(json.loads(result.stdout))
    (found,) = [r for r in report.results if r.check == "artifacts"]
    return found


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_os_system_pickle_is_unsafe_and_never_runs(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, protocol: int
) -> None:
    sentinel = tmp_path / "pwned"
    system_module = os.system.__module__  # posix on Linux
    model = tmp_path / "repo" / "model"
    model.mkdir(parents=True)
    (model / "model.pkl").write_bytes(pickle.dumps(RunsACommand(sentinel), protocol=protocol))

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("the scanner must never unpickle")

    monkeypatch.setattr(os, "system", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    found = scan_artifacts(cli, tmp_path / "repo", "model")
    (finding,) = [f for f in found.findings if f.rule_id == "ART-PICKLE-UNSAFE"]
    assert finding.severity.label == "critical"
    assert f"{system_module}.system" in finding.message
    assert finding.location is not None and finding.location.path == "model/model.pkl"
    assert found.status == "failed" and found.facts["unsafe"] == 1
    assert not sentinel.exists()


def test_plain_pickles_give_no_finding(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    ordered = collections.OrderedDict([("w", [1.0, 2.0]), ("b", {"x": (1, 2)})])
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        (model / f"ordered-{protocol}.pkl").write_bytes(pickle.dumps(ordered, protocol=protocol))
        array = np.arange(12, dtype=np.float32).reshape(3, 4)
        (model / f"array-{protocol}.pkl").write_bytes(pickle.dumps(array, protocol=protocol))
    (model / "mixed.pickle").write_bytes(
        pickle.dumps({"weights": np.ones(3), "meta": {1, 2}, "scalar": np.float64(2.5)})
    )
    (model / "compressed.joblib").write_bytes(gzip.compress(pickle.dumps(np.zeros((2, 2)))))
    scan = scan_model_path(model)
    assert scan.pickles == 2 * (pickle.HIGHEST_PROTOCOL + 1) + 2
    assert scan.pickle_findings == []


def test_unknown_globals_and_dynamic_names() -> None:
    assert classify("sklearn.linear_model._logistic", "LogisticRegression") == "unknown"
    assert classify("builtins", "eval") == "unsafe"
    assert classify("subprocess", "Popen") == "unsafe"
    assert classify("collections", "OrderedDict") == "safe"
    scan = scan_pickle(io.BytesIO(pickle.dumps(Path("/x"), protocol=4)))
    assert scan.unknown == ("pathlib.PosixPath",) and scan.unsafe == ()
    # A STACK_GLOBAL whose names are computed at load time cannot be judged: undecodable.
    dynamic = b"\x80\x04cbuiltins\nstr\n)R\x94h\x00\x93)R."
    assert "computed at load time" in (scan_pickle(io.BytesIO(dynamic)).error or "")
    # builtins.getattr chains are reported by name (protocol 2 writes Python 2's module name).
    assert scan_pickle(io.BytesIO(pickle.dumps(getattr, protocol=2))).unsafe == (
        "__builtin__.getattr",
    )
    assert scan_pickle(io.BytesIO(pickle.dumps(getattr, protocol=4))).unsafe == (
        "builtins.getattr",
    )
    truncated = pickle.dumps({"a": 1}, protocol=4)[:-3]
    assert scan_pickle(io.BytesIO(truncated)).error is not None


def torch_style_zip(path: Path, data_pkl: bytes) -> Path:
    """The layout of torch.save's zip format: archive/data.pkl, archive/data/0, version."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", data_pkl)
        archive.writestr("archive/data/0", b"\x00" * 64)
        archive.writestr("archive/version", "3\n")
    return path


def test_pytorch_zip_with_unsafe_data_pkl(cli: Cli, tmp_path: Path) -> None:
    model = tmp_path / "repo" / "model"
    model.mkdir(parents=True)
    torch_style_zip(model / "weights.pt", pickle.dumps(collections.OrderedDict(w=1), protocol=2))
    torch_style_zip(model / "evil.pth", pickle.dumps(RunsACommand(tmp_path / "x"), protocol=2))
    found = scan_artifacts(cli, tmp_path / "repo", "model")
    assert [(f.rule_id, f.location.path) for f in found.findings] == [  # type: ignore[union-attr]
        ("ART-PICKLE-UNSAFE", "model/evil.pth")
    ]
    assert "model/evil.pth!archive/data.pkl" in found.findings[0].message
    assert found.facts["pickles"] == 2 and found.facts["files"] == 2
    assert not (tmp_path / "x").exists()


def test_npy_and_npz_object_arrays(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    np.save(model / "plain.npy", np.arange(5))
    np.save(model / "objects.npy", np.array([{"a": 1}, Path("/etc")], dtype=object))
    np.savez(model / "bundle.npz", ok=np.ones(2), bad=np.array([Path("/x")], dtype=object))
    scan = scan_model_path(model)
    found = {(f.path.name, f.member): f.scan.unknown for f in scan.pickle_findings}
    assert all(f.scan.error is None for f in scan.pickle_findings)
    assert found == {
        ("objects.npy", None): ("pathlib.PosixPath",),
        ("bundle.npz", "bad.npy"): ("pathlib.PosixPath",),
    }


def onnx_with_external(location: str) -> onnx.ModelProto:
    model = build_mlp((4, 2))
    weight = model.graph.initializer[0]
    weight.ClearField("float_data")
    weight.ClearField("raw_data")
    weight.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "32")):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    return model


def test_onnx_external_data_escape_is_flagged_and_never_opened(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    model_dir = repo / "models" / "m"
    model_dir.mkdir(parents=True)
    onnx.save(onnx_with_external("../../etc/passwd"), str(model_dir / "model.onnx"))
    outside = tmp_path / "secret.bin"
    outside.write_bytes(b"\x00" * 32)
    (model_dir / "link.bin").symlink_to(outside)
    onnx.save(onnx_with_external("link.bin"), str(model_dir / "linked.onnx"))
    onnx.save(onnx_with_external("/etc/passwd"), str(model_dir / "absolute.onnx"))
    (model_dir / "inside.data").write_bytes(b"\x00" * 32)
    onnx.save(onnx_with_external("inside.data"), str(model_dir / "fine.onnx"))

    opened: list[str] = []
    real_open, real_os_open, real_io_open = builtins.open, os.open, io.open

    def spy(real: Callable[..., object]) -> Callable[..., object]:
        def wrapper(file: object, *args: object, **kwargs: object) -> object:
            opened.append(os.path.realpath(str(file)) if isinstance(file, str | Path) else "")
            return real(file, *args, **kwargs)

        return wrapper

    monkeypatch.setattr(builtins, "open", spy(real_open))
    monkeypatch.setattr(io, "open", spy(real_io_open))
    monkeypatch.setattr(os, "open", spy(real_os_open))
    found = scan_artifacts(cli, repo, "models/m")
    monkeypatch.undo()

    escapes = {
        f.location.path: f.message
        for f in found.findings
        if f.rule_id == "ART-ONNX-EXTERNAL-ESCAPE"
    }  # type: ignore[union-attr]
    assert set(escapes) == {
        "models/m/model.onnx", "models/m/linked.onnx", "models/m/absolute.onnx",
    }  # fmt: skip
    assert "'../../etc/passwd'" in escapes["models/m/model.onnx"]
    assert "climbs out" in escapes["models/m/model.onnx"]
    assert "symlink" in escapes["models/m/linked.onnx"]
    assert "absolute" in escapes["models/m/absolute.onnx"]
    symlinks = [f for f in found.findings if f.rule_id == "ART-SYMLINK-ESCAPE"]
    assert [f.location.path for f in symlinks] == ["models/m/link.bin"]  # type: ignore[union-attr]
    assert "/etc/passwd" not in opened and str(outside.resolve()) not in opened
    assert str((model_dir / "model.onnx").resolve()) in opened  # the spy did see file opens
    assert found.facts["external_escapes"] == 3 and found.facts["symlink_escapes"] == 1


def test_onnx_custom_domain_opset_and_size(cli: Cli, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "m").mkdir(parents=True)
    node = helper.make_node("FancyOp", ["x"], ["y"], domain="com.example.ops")
    graph = helper.make_graph(
        [node, helper.make_node("Relu", ["y"], ["z"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example.ops", 1)],
    )
    onnx.save(model, str(repo / "m" / "custom.onnx"))
    found = scan_artifacts(cli, repo, "m/custom.onnx")
    (finding,) = found.findings
    assert finding.rule_id == "ART-ONNX-CUSTOM-OP" and finding.severity.label == "info"
    assert "'com.example.ops': FancyOp" in finding.message
    (info,) = found.facts["onnx"]
    assert info["opset"] == 17 and info["custom_domains"] == ["com.example.ops"]
    assert info["size_bytes"] == (repo / "m" / "custom.onnx").stat().st_size
    assert found.status == "passed"


def test_symlinked_directory_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "evil.pkl").write_bytes(pickle.dumps(RunsACommand(tmp_path / "y")))
    model = tmp_path / "model"
    model.mkdir()
    (model / "more").symlink_to(outside, target_is_directory=True)
    (model / "inner.pkl").write_bytes(pickle.dumps([1, 2]))
    (model / "alias.pkl").symlink_to(model / "inner.pkl")
    scan = scan_model_path(model)
    assert [s.path.name for s in scan.symlinks] == ["more"]
    assert scan.pickle_findings == [] and scan.files == 1
