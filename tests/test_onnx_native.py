"""onnx's C++ checker loaded without ``import onnx`` (issue 16): the same verdicts and messages
as ``onnx.checker.check_model(path, full_check=True)``, one set of classes when onnx is imported
afterwards, and the dtype names ``onnx.helper`` gives. The oracle is onnx itself, in the same
fresh process, after the standalone load."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from mlops_ci import onnx_native

FRESH = r"""
import json, sys
from mlops_ci import onnx_native
paths = sys.argv[1:]

def verdict(check, path):
    try:
        check(path)
    except Exception as exc:
        return [type(exc).__module__ + "." + type(exc).__qualname__, str(exc)]
    return ["pass", ""]

ours = [verdict(onnx_native.check_model_path, p) for p in paths]
standalone = "onnx" not in sys.modules
import onnx, onnx.checker, onnx.shape_inference, onnx.helper, onnx.numpy_helper
theirs = [verdict(lambda p: onnx.checker.check_model(p, full_check=True), p) for p in paths]
native = onnx_native.native()
print(json.dumps({
    "standalone": standalone,
    "ours": ours,
    "theirs": theirs,
    "same_module": onnx.onnx_cpp2py_export is native,
    "same_errors": list(onnx_native.checker_errors()) == [
        onnx.checker.ValidationError, onnx.shape_inference.InferenceError],
    "helper_works": bool(onnx.numpy_helper.to_array(
        onnx.numpy_helper.from_array(__import__("numpy").ones(3, "float32"))).sum() == 3),
    "is_package": onnx.__spec__.loader.is_package("onnx"),
}))
"""


def _model(nodes: list[onnx.NodeProto], **kwargs: object) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    graph = helper.make_graph(nodes, "g", [x], [y], **kwargs)  # type: ignore[arg-type]
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.fixture
def models(tmp_path: Path) -> list[Path]:
    """A valid model, one the checker refuses, one shape inference refuses, and garbage."""
    weight = numpy_helper.from_array(np.ones((1, 4), np.float32), "w")
    valid = _model([helper.make_node("Add", ["x", "w"], ["y"])], initializer=[weight])
    unknown_op = _model([helper.make_node("NoSuchOp", ["x"], ["y"])])
    bad_shape = _model(
        [helper.make_node("MatMul", ["x", "m"], ["y"])],
        initializer=[numpy_helper.from_array(np.ones((3, 4), np.float32), "m")],
    )
    paths = []
    for name, model in {"valid": valid, "unknown": unknown_op, "shape": bad_shape}.items():
        path = tmp_path / f"{name}.onnx"
        path.write_bytes(model.SerializeToString())
        paths.append(path)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x08\x07 not a model")
    return [*paths, garbage, tmp_path / "missing.onnx"]


def test_the_standalone_checker_gives_onnxs_verdicts_and_classes(models: list[Path]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", FRESH, *map(str, models)],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(done.stdout)
    assert report["standalone"], "the checker imported the onnx package"
    assert report["ours"] == report["theirs"]
    assert [v[0] == "pass" for v in report["ours"]] == [True, False, False, False, False]
    assert report["same_module"] and report["same_errors"]
    assert report["helper_works"] and report["is_package"]


def test_with_onnx_imported_its_own_extension_is_used(models: list[Path]) -> None:
    assert "onnx" in sys.modules  # this test module imported it
    assert onnx_native.native() is onnx.onnx_cpp2py_export
    with pytest.raises(onnx_native.checker_errors()):
        onnx_native.check_model_path(str(models[1]))


def test_dtype_names_are_onnx_helpers() -> None:
    for value in TensorProto.DataType.values():
        if value == TensorProto.UNDEFINED:
            continue
        expected = helper.tensor_dtype_to_np_dtype(value).name
        assert onnx_native.np_dtype_name(value) == expected, TensorProto.DataType.Name(value)
        assert onnx_native.NP_DTYPE_NAMES.get(value) == expected  # no fallback to onnx needed
