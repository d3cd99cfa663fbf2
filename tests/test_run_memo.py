"""One parse and one digest per model file per run (issue 16): the tensor-free graph reader
matches ``onnx.load``, the per-run memo never serves stale values, and a whole ``check`` parses
and hashes each model file at most once."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from google.protobuf.message import DecodeError
from onnx import TensorProto, helper, numpy_helper

from mlops_ci import digests, onnx_check, onnx_graph, runmemo
from mlops_ci.demo.model import build_mlp
from tests.conftest import CliResult
from tests.external_data import save_external

DATA_FIELDS = ("raw_data", "float_data", "double_data")


def without_data(message: Any) -> Any:
    """``message`` with the inline data of every tensor inside it cleared (what the reader
    leaves out), found by walking every message field."""
    if isinstance(message, TensorProto):
        for field in DATA_FIELDS:
            message.ClearField(field)
    for descriptor, value in message.ListFields():
        if descriptor.message_type is None:
            continue
        for item in value if descriptor.is_repeated else [value]:
            without_data(item)
    return message


def rich_model() -> onnx.ModelProto:
    """Every place a tensor can hide: initializers (raw and packed float/double/int64), a
    sparse initializer, a Constant node, an If's subgraphs with their own initializers, and a
    model-local function."""
    raw = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3), "raw")
    packed = helper.make_tensor("packed", TensorProto.FLOAT, [2, 3], [0.5] * 6)
    doubles = helper.make_tensor("doubles", TensorProto.DOUBLE, [2], [1.0, 2.0])
    ints = helper.make_tensor("ints", TensorProto.INT64, [2], [3, 4])
    sparse = helper.make_sparse_tensor(
        helper.make_tensor("sv", TensorProto.FLOAT, [2], [1.0, 2.0]),
        helper.make_tensor("si", TensorProto.INT64, [2], [0, 4]),
        [2, 3],
    )
    constant = helper.make_node(
        "Constant", [], ["c"], value=numpy_helper.from_array(np.ones((2, 3), np.float32))
    )

    def branch(name: str) -> onnx.GraphProto:
        weight = numpy_helper.from_array(np.full((2, 3), 2.0, np.float32), f"{name}_w")
        out = helper.make_tensor_value_info(f"{name}_y", TensorProto.FLOAT, [2, 3])
        node = helper.make_node("Add", ["x", f"{name}_w"], [f"{name}_y"])
        return helper.make_graph([node], name, [], [out], [weight])

    cond = helper.make_tensor_value_info("cond", TensorProto.BOOL, [])
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])
    nodes = [
        constant,
        helper.make_node("If", ["cond"], ["t"], then_branch=branch("a"), else_branch=branch("b")),
        helper.make_node("Add", ["t", "c"], ["u"]),
        helper.make_node("Twice", ["u"], ["y"], domain="local"),
    ]
    twice = helper.make_function(
        "local",
        "Twice",
        ["z"],
        ["out"],
        [helper.make_node("Add", ["z", "z"], ["out"])],
        [helper.make_opsetid("", 17)],
    )
    graph = helper.make_graph(
        nodes, "g", [cond, x], [y], [raw, packed, doubles, ints], sparse_initializer=[sparse]
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("local", 1)],
        functions=[twice],
    )
    model.ir_version = 8
    return model


def count_reads(monkeypatch: pytest.MonkeyPatch) -> dict[str, Counter[str]]:
    """Count, by file name, tensor-free parses, digests, onnx.load and check_model calls."""
    counters: dict[str, Counter[str]] = {
        name: Counter() for name in ("parsed", "hashed", "loads", "checked")
    }
    targets = [
        (onnx_graph, "_read", "parsed"),
        (digests, "_stream", "hashed"),
        (onnx, "load", "loads"),
        (onnx.checker, "check_model", "checked"),
        (onnx_check, "check_model_path", "checked"),  # the same C++ checker, called directly
    ]
    for owner, attribute, name in targets:
        original = getattr(owner, attribute)

        def wrapper(path: Any, *args: Any, _o: Any = original, _n: str = name, **kw: Any) -> Any:
            if isinstance(path, (str, Path)):
                counters[_n][Path(path).name] += 1
            return _o(path, *args, **kw)

        monkeypatch.setattr(owner, attribute, wrapper)
    return counters


@pytest.mark.parametrize("kind", ["rich", "mlp", "external"])
def test_the_graph_reader_equals_onnx_load_without_tensor_data(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "model.onnx"
    if kind == "external":
        save_external(path)
    else:
        onnx.save(rich_model() if kind == "rich" else build_mlp(seed=3), str(path))
    expected = without_data(onnx.load(str(path), load_external_data=False))
    read = onnx_graph.load_graph(path)
    assert read == expected
    assert read.SerializeToString(deterministic=True) == expected.SerializeToString(
        deterministic=True
    )


@pytest.mark.parametrize("kind", ["rich", "mlp", "external"])
def test_the_class_built_without_onnx_parses_as_onnx_does(tmp_path: Path, kind: str) -> None:
    """``sign`` and ``verify`` parse with a ModelProto class built from onnx's own descriptor in
    a private pool (no ``import onnx``): every field must read back as onnx's class reads it."""
    path = tmp_path / "model.onnx"
    if kind == "external":
        save_external(path)
    else:
        onnx.save(rich_model() if kind == "rich" else build_mlp(seed=3), str(path))
    light = onnx_graph._light_class("ModelProto")
    assert light is not None and light is not onnx.ModelProto
    data = path.read_bytes()
    ours, theirs = light(), onnx.ModelProto()
    ours.ParseFromString(data)
    theirs.ParseFromString(data)
    assert ours.SerializeToString(deterministic=True) == theirs.SerializeToString(
        deterministic=True
    )
    assert ours.DESCRIPTOR.full_name == "onnx.ModelProto"
    from mlops_ci.scan.onnx_scan import external_locations

    assert external_locations(ours) == external_locations(theirs)
    if kind == "external":
        assert external_locations(ours)  # the case that matters to the signing scope


def test_a_broken_file_fails_as_onnx_load_does(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    onnx.save(rich_model(), str(path))
    path.write_bytes(path.read_bytes()[:-7])  # cut inside the last field
    with pytest.raises(DecodeError):
        onnx.load(str(path), load_external_data=False)
    with pytest.raises(DecodeError):
        onnx_graph.load_graph(path)


def test_a_changed_file_gets_a_fresh_digest_within_and_across_runs(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(b"first")
    with runmemo.run_scope():
        first = digests.sha256_hex(path)
        assert digests.sha256_hex(path) == first
        path.write_bytes(b"second, longer")  # new size: a new stat identity
        second = digests.sha256_hex(path)
    assert first != second
    info = path.stat()
    with runmemo.run_scope():
        assert digests.sha256_hex(path) == second
    # Same size and the same mtime restored: only the end of the run keeps this from going stale.
    path.write_bytes(b"SECOND, LONGER")
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    with runmemo.run_scope():
        assert digests.sha256_hex(path) != second


def test_the_oms_digest_from_the_memo_equals_model_signing(tmp_path: Path) -> None:
    from mlops_ci.signing.oms import hash_scope, model_digest, root_digest
    from mlops_ci.signing.scope import model_scope

    single = tmp_path / "single" / "model.onnx"
    single.parent.mkdir()
    onnx.save(build_mlp(seed=1), str(single))
    external = save_external(tmp_path / "external" / "model.onnx")
    (external.parent / "sub").mkdir()
    for path in (single, external):
        with runmemo.run_scope():
            assert model_digest(path) == root_digest(hash_scope(model_scope(path)))


@pytest.mark.parametrize("kind", ["external", "inline"])
def test_check_parses_and_hashes_each_model_file_once(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """With external data and ``--no-cache``; single-file (a 64 KiB weight, stripped for the
    checker) with a cold result cache, whose keys take the run's one digest of the model."""
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    if kind == "external":
        model = save_external(repo / "models" / "model.onnx")
        data_files = {"model.onnx.data": 1}
        options = ["--no-cache"]
    else:
        model = repo / "models" / "model.onnx"
        model.parent.mkdir(parents=True)
        onnx.save(build_mlp((128, 128, 2), seed=1), str(model))
        data_files = {}
        options = []
        monkeypatch.setenv("MLOPS_CI_CACHE_DIR", str(tmp_path / "cache"))
        monkeypatch.setenv("MLOPS_CI_CACHE_KEY_FILE", str(tmp_path / "cache.key"))
    (repo / "requirements.txt").write_text("idna==3.7\n")
    init: CliResult = cli("init", str(repo), cwd=tmp_path)
    assert init.exit_code == 0, init.stderr

    counts = count_reads(monkeypatch)
    result: CliResult = cli("check", "--offline", "--skip", "bench", *options, cwd=repo)
    assert result.exit_code in (0, 1), result.stderr
    assert "onnx-model" in result.stdout and "signature" in result.stdout
    assert counts["parsed"] == Counter({model.name: 1})  # onnx-model, artifacts, signature, sbom
    hashed = {name: counts["hashed"][name] for name in (model.name, *data_files)}
    assert hashed == {model.name: 1, **data_files}  # signature, sbom (and the cache's key)
    assert counts["loads"] == Counter()  # no full onnx.load of the model anywhere
    if kind == "external":
        assert counts["checked"] == Counter({model.name: 1})  # the full checker, on the path
    else:  # the full checker, on the stripped copy only
        assert sum(counts["checked"].values()) == 1 and counts["checked"][model.name] == 0
    if options != ["--no-cache"]:
        assert list((tmp_path / "cache").iterdir())  # the cache was in use


def test_a_verified_signature_spares_the_sbom_a_second_hash(
    cli: Any, demo_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops_ci.findings import Report

    assert cli("sign", cwd=demo_repo).exit_code == 0
    counts = count_reads(monkeypatch)
    result: CliResult = cli(
        "check",
        "--no-cache",  # with a cache, its key hashes the file once and the SBOM reuses that
        "--only",
        "signature",
        "--only",
        "sbom",
        "--format",
        "json",
        cwd=demo_repo,
    )
    assert result.exit_code == 0, result.stderr
    report = Report.from_dict(json.loads(result.stdout))
    (signature,) = [r for r in report.results if r.check == "signature"]
    assert signature.facts["verified"] is True
    # model-signing's verifier hashed the file; the SBOM's file hash and OMS digest reuse the
    # digests of the verified signature instead of reading the file again.
    assert counts["hashed"]["model.onnx"] == 0
    assert counts["parsed"]["model.onnx"] == 1


def test_links_and_directories_are_left_to_model_signing(tmp_path: Path) -> None:
    from mlops_ci.signing.scope import model_scope

    model = tmp_path / "model.onnx"
    onnx.save(build_mlp(seed=2), str(model))
    link = tmp_path / "link.onnx"
    link.symlink_to(model)
    assert model_scope(model).plain_files() == [model]
    assert model_scope(link).plain_files() is None  # model-signing refuses or follows as before
    assert model_scope(tmp_path).plain_files() is None


def test_confine_is_answered_once_per_run_and_a_refusal_every_time(tmp_path: Path) -> None:
    from mlops_ci.errors import InputError
    from mlops_ci.safepath import confine

    (tmp_path / "inside.txt").write_text("x")
    (tmp_path / "out").symlink_to("/etc/hostname")
    with runmemo.run_scope():
        first = confine("inside.txt", tmp_path, what="file")
        assert confine("inside.txt", tmp_path, what="file") is first
        for _ in range(2):
            with pytest.raises(InputError, match="leads outside"):
                confine("out", tmp_path, what="file")
    assert confine("inside.txt", tmp_path, what="file") is not first  # the run ended
