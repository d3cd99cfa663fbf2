"""Seeded random models against onnx's checker: the stripped full check never differs (issue 16).

Two generators, each judged by ``check_model(path, full_check=True)`` in one fresh process:
tensors drawn from every data type, odd dimensions, right and wrong ``raw_data`` lengths,
extra value fields and data locations, used where shape inference reads their values or not;
and byte mutations (flip, overwrite, delete, insert) of the structure of valid models. Run
ad hoc with 9,800 and 4,500 models while building ``mlops_ci/onnx_check.py``: no difference.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from onnx import TensorProto, helper

from mlops_ci import onnx_check
from tests.test_onnx_check import CASES, ORACLE

MODELS = 150
WIDTHS = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 14: 8}
WIDTHS |= {15: 16, 16: 2, 17: 1, 18: 1, 19: 1, 20: 1, 24: 1}
PACKED = {21: 2, 22: 2, 23: 2, 25: 4, 26: 4}


def _random_tensor_model(rng: random.Random) -> bytes:
    types = [*TensorProto.DataType.values(), 99, *[TensorProto.FLOAT] * 15]
    types += [TensorProto.INT64] * 10
    dims = rng.choice([[64, 64]] * 6 + [[4096]] * 3 + [[64, 64, 1], [64, -64], [0, 64], [], [256]])
    data_type = rng.choice(types)
    count = 1
    for dim in dims:
        count *= dim
    exact = abs(count) * WIDTHS.get(data_type, 1)
    if data_type in PACKED:
        exact = -(-abs(count) // PACKED[data_type])
    length = rng.choice([exact] * 6 + [exact - 1, exact + 1, exact * 2, 1024, 5000, 0])
    tensor = TensorProto(name="w", data_type=data_type, dims=dims)
    tensor.raw_data = rng.randbytes(max(length, 0))
    extra = rng.choice(["none"] * 12 + ["float", "int64", "string", "loc0", "loc1", "entry"])
    if extra == "float":
        tensor.float_data.append(1.0)
    elif extra == "int64":
        tensor.int64_data.append(1)
    elif extra == "string":
        tensor.string_data.append(b"a")
    elif extra == "loc0":
        tensor.data_location = TensorProto.DEFAULT
    elif extra == "loc1":
        tensor.data_location = TensorProto.EXTERNAL
        tensor.external_data.add(key="location", value="model.onnx")
    elif extra == "entry":
        tensor.external_data.add(key="location", value="nowhere.bin")
    use = rng.choice(["Identity", "Add", "Reshape", "ConstantOfShape"])
    inputs = {"Identity": ["x"], "Add": ["x", "w"], "Reshape": ["x", "w"]}.get(use, ["w"])
    rank = {"Identity": 2, "Add": max(2, len(dims))}.get(use, count if 0 < count < 9000 else 1)
    graph = helper.make_graph(
        [helper.make_node(use, inputs, ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [64, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None] * rank)],
        initializer=[tensor],
    )
    ir_version, opset = rng.choice([(8, 17), (10, 21), (11, 23)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = ir_version
    return bytes(model.SerializeToString())


def _mutant(rng: random.Random, bases: list[bytes]) -> bytes:
    data = bytearray(rng.choice(bases))
    for _ in range(rng.choice([1, 1, 2, 3])):
        # The structure sits in the first and last few hundred bytes; payloads in between.
        offset = rng.randrange(min(400, len(data)))
        pos = offset if rng.random() < 0.5 else len(data) - 1 - offset
        operation = rng.choice(["flip", "set", "delete", "insert"])
        if operation == "flip":
            data[pos] ^= 1 << rng.randrange(8)
        elif operation == "set":
            data[pos] = rng.randrange(256)
        elif operation == "delete":
            del data[pos]
        else:
            data.insert(pos, rng.randrange(256))
    return bytes(data)


@pytest.mark.parametrize("generator", ["tensors", "mutants"])
def test_random_models_get_the_checkers_verdict(
    generator: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(onnx_check, "STRIP_BYTES", 1024)
    rng = random.Random(16)  # noqa: S311 - a seeded, repeatable test corpus, not a secret
    bases = []
    for name in ("valid", "valid-subgraph-initializers", "valid-int4-exact"):
        (tmp_path / name).mkdir()
        bases.append(CASES[name][0](tmp_path / name).read_bytes())
    paths = []
    for index in range(MODELS):
        data = _random_tensor_model(rng) if generator == "tensors" else _mutant(rng, bases)
        path = tmp_path / str(index) / "model.onnx"
        path.parent.mkdir()
        path.write_bytes(data)
        paths.append(path)
    done = subprocess.run(
        [sys.executable, "-c", ORACLE, *map(str, paths)], capture_output=True, text=True, check=True
    )
    oracle: dict[str, list[str]] = json.loads(done.stdout)

    calls: list[str] = []
    original = onnx_check.check_model_path

    def recording(model: str) -> None:
        calls.append(model)
        original(model)

    monkeypatch.setattr(onnx_check, "check_model_path", recording)
    by_copy = 0
    for path in paths:
        calls.clear()
        try:
            onnx_check.check_model_file(path)
            verdict = ["pass", ""]
        except Exception as exc:  # compared with the oracle's, type and message
            verdict = [type(exc).__name__, str(exc)]
        assert verdict == oracle[str(path)], path
        by_copy += verdict[0] == "pass" and calls[-1] != str(path)
    assert by_copy >= 5  # the stripped path was exercised, not only the fallback
