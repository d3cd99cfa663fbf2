"""Issue 12, class 1: pickles are found by content and judged with the unpickler's own grammar.

The seven cases of the issue each have a test named ``test_issue_...``; the others attack the
mechanisms behind them (containers, bounds, the allowlist's patterns).
"""

from __future__ import annotations

import bz2
import collections
import gzip
import io
import lzma
import os
import pickle
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_ci.demo.model import build_mlp
from mlops_ci.scan.containers import Limits
from mlops_ci.scan.model_files import ModelFilesScan, scan_model_path
from mlops_ci.scan.pickle_vm import Budget
from mlops_ci.scan.pickles import PicklePolicy, check_allow_pattern, scan_blob
from tests.conftest import CliResult

Cli = Callable[..., CliResult]

ISSUE_PAYLOAD = b"I0x1\n0cos\nsystem\n(S'touch X'\ntR."  # genops rejects I0x1; loaders do not
LEGACY_TORCH_MAGIC = 0x1950A86A20F9469CFC6C


class Runs:
    """Unpickling this calls ``func(*args)``."""

    def __init__(self, func: object, *args: object) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (self.func, self.args)


def evil(protocol: int = 2) -> bytes:
    return pickle.dumps(Runs(os.system, "touch /tmp/mlops-ci-pwned"), protocol=protocol)


def findings(scan: ModelFilesScan) -> dict[tuple[str, str | None], tuple[str, ...]]:
    """``(file, member) -> unsafe globals``, plus ``!`` for an undecodable one."""
    return {
        (f.path.name, f.member): f.scan.unsafe + (("!",) if f.scan.error else ())
        for f in scan.pickle_findings
    }


def model_dir(tmp_path: Path, files: dict[str, bytes]) -> Path:
    root = tmp_path / "model"
    root.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


# -- the seven cases of the issue ------------------------------------------------------------------


def test_issue_protocol0_int_hex_payload_fails_the_whole_check(cli: Cli, demo_repo: Path) -> None:
    """``I0x1`` then POP, GLOBAL os.system, REDUCE: the whole ``check`` exits 1 on it."""
    assert pickle._Unpickler(io.BytesIO(b"I0x1\n.")).load() == 1  # type: ignore[attr-defined]
    (demo_repo / "models" / "fraud-detector" / "model.pkl").write_bytes(ISSUE_PAYLOAD)
    result = cli("check", cwd=demo_repo)
    assert result.exit_code == 1, result.stdout[-2000:] + result.stderr
    assert "ART-PICKLE-UNSAFE" in result.stdout and "os.system" in result.stdout
    assert not Path("X").exists() and not (demo_repo / "X").exists()


def test_issue_pytorch_model_bin_holding_a_protocol0_pickle(tmp_path: Path) -> None:
    root = model_dir(tmp_path, {"pytorch_model.bin": evil(0), "weights.bin": evil(1)})
    assert findings(scan_model_path(root)) == {
        ("pytorch_model.bin", None): ("posix.system",),
        ("weights.bin", None): ("posix.system",),
    }


def test_issue_gzip_pickle_model_pkl_gz(tmp_path: Path) -> None:
    root = model_dir(
        tmp_path,
        {
            "model.pkl.gz": gzip.compress(evil(4)),
            "model.bz2": bz2.compress(ISSUE_PAYLOAD),
            "weights": lzma.compress(evil(0)),
            "alone.lzma": lzma.compress(evil(2), format=lzma.FORMAT_ALONE),
            "model.joblib": zlib.compress(evil(3)),
            "twice.gz": gzip.compress(bz2.compress(evil(5))),
        },
    )
    found = findings(scan_model_path(root))
    assert set(found) == {(n, None) for n in ("model.pkl.gz", "model.bz2", "weights", "alone.lzma", "model.joblib", "twice.gz")}  # fmt: skip
    assert all("posix.system" in v or "os.system" in v for v in found.values()), found


def test_issue_npz_member_without_npy_suffix(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.array([Runs(os.system, "x")], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(tmp_path / "bundle.npz", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("weights", buffer.getvalue())  # np.load reads it: the magic decides
        archive.writestr("notes.txt", b"hello")
    scan = scan_model_path(tmp_path / "bundle.npz")
    assert findings(scan) == {("bundle.npz", "weights"): ("posix.system",)}


def test_issue_second_and_later_pickles_of_a_legacy_torch_file(tmp_path: Path) -> None:
    """Legacy ``torch.save``: magic, protocol, sys info, the object, storage keys, raw storages."""
    main = pickle.dumps(collections.OrderedDict(w=1), protocol=2)
    raw = (16).to_bytes(8, "little") + np.arange(16, dtype=np.float32).tobytes()
    parts = [pickle.dumps(LEGACY_TORCH_MAGIC, 2), pickle.dumps(1001, 2), pickle.dumps({}, 2)]
    clean = b"".join(parts) + main + pickle.dumps(["0"], 2) + raw
    assert findings(scan_model_path(model_dir(tmp_path / "a", {"clean.pt": clean}))) == {}
    for index in range(1, 5):
        pieces = [*parts, main, pickle.dumps(["0"], 2)]
        pieces[index] = evil(2)
        root = model_dir(tmp_path / f"b{index}", {"legacy.pt": b"".join(pieces) + raw})
        assert findings(scan_model_path(root)) == {("legacy.pt", None): ("posix.system",)}


def test_issue_any_stream_of_several_pickles(tmp_path: Path) -> None:
    benign = pickle.dumps([1, 2], protocol=0)
    root = model_dir(
        tmp_path,
        {
            "many.pkl": benign * 3 + evil(0),  # protocol 0: no header marks the later ones
            "two.data": pickle.dumps({}, protocol=4) + ISSUE_PAYLOAD,
            "trailing.pkl": benign + b"cos\nsystem\n",  # not a whole pickle, but it imports
        },
    )
    # Later protocol 4-5 pickles GET memo entries that a reused unpickler holds other values at.
    benign_stream = b"".join(
        pickle.dumps([{f"k{p}": "v" * p}, [f"s{p}"] * 2, f"s{p}", b"x"], protocol=4 + p % 2)
        for p in range(4)
    )
    assert (
        (scan := scan_blob(benign_stream, claimed=True))
        and scan.error is None
        and scan.pickles == 4
    )
    assert findings(scan_model_path(root)) == {
        ("many.pkl", None): ("posix.system",),
        ("two.data", None): ("os.system",),
        ("trailing.pkl", None): ("os.system", "!"),
    }


@pytest.mark.parametrize(
    ("module", "name"), [("pydoc", "pipepager"), ("_posixsubprocess", "fork_exec"),
                         ("torch", "os.system"), ("sklearn.utils", "subprocess")],
)  # fmt: skip
def test_issue_pydoc_pipepager_and_fork_exec_block(module: str, name: str) -> None:
    data = f"c{module}\n{name}\n(S'x'\ntR.".encode()
    scan = scan_blob(data, claimed=False)
    assert scan is not None and scan.unsafe == (f"{module}.{name}",)
    glob = PicklePolicy(("sklearn.*", "torch.*"))
    assert glob.verdict(module, name) == "unsafe"


# -- the allowlist ---------------------------------------------------------------------------------


def test_allow_patterns_semantics() -> None:
    policy = PicklePolicy(("sklearn.*", "xgboost.core.Booster"))
    assert policy.verdict("sklearn.tree._classes", "DecisionTreeClassifier") == "safe"
    assert policy.verdict("sklearn", "Pipeline") == "safe"
    assert policy.verdict("sklearnx", "Model") == "unknown"
    assert policy.verdict("sklearnx.os", "system") == "unknown"
    assert policy.verdict("sklearn.utils", "Bunch.__reduce__") == "unknown"  # dotted: no glob
    assert policy.verdict("sklearn.utils", "__getattr__") == "unknown"  # dunders: no glob
    assert policy.verdict("sklearn.utils", "os") == "unsafe"
    assert policy.verdict("xgboost.core", "Booster") == "safe"
    assert policy.verdict("xgboost", "core.Booster") == "safe"
    assert policy.verdict("xgboost.core", "DMatrix") == "unknown"
    assert PicklePolicy().verdict("sklearn.tree", "DecisionTreeClassifier") == "unknown"
    # Protocols 0-2 map Python 2 names: both the written and the mapped name must be allowed.
    assert PicklePolicy().verdict("__builtin__", "set") == "safe"
    assert PicklePolicy().verdict("commands", "getoutput") == "unsafe"


@pytest.mark.parametrize(
    "pattern", ["*", "*.*", "sk*", "sklearn", "sklearn.*.*", "os.*", "os.system", "builtins.eval",
                "subprocess.Popen", "sklearn.[a]", "", "sklearn.*x", "pydoc.*", "torch.hub.*"],
)  # fmt: skip
def test_allow_patterns_refused(pattern: str) -> None:
    with pytest.raises(ValueError):
        check_allow_pattern(pattern)


def test_member_names_and_globals_are_shown_escaped(cli: Cli, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "model").mkdir(parents=True)
    forged = "x\n::error::all checks passed\n"
    (repo / "model" / "a.zip").write_bytes(_zip_of({forged: _global_named("evil\nmod", "run")}))
    (repo / "mlops-ci.yaml").write_text("version: 1\nmodels:\n  - {name: m, path: model}\n")
    result = cli("check", "--only", "artifacts", cwd=repo)
    assert result.exit_code == 1
    assert "\n::error::" not in result.stdout and "evil\nmod" not in result.stdout
    assert "'x\\n::error::all checks passed\\n'" in result.stdout


def _zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _global_named(module: str, name: str) -> bytes:
    raw = module.encode(), name.encode()
    return b"\x80\x04" + b"".join(b"\x8c" + bytes([len(r)]) + r for r in raw) + b"\x93)R."


def test_pickle_allow_in_config(cli: Cli, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    model = repo / "model"
    model.mkdir(parents=True)
    (model / "clf.pkl").write_bytes(b"csklearn.tree\nDecisionTreeClassifier\n)R.")
    config = "version: 1\nmodels:\n  - {name: m, path: model}\n"
    (repo / "mlops-ci.yaml").write_text(config)
    assert cli("check", "--only", "artifacts", cwd=repo).exit_code == 1
    (repo / "mlops-ci.yaml").write_text(config + "scan: {pickle_allow: ['sklearn.*']}\n")
    result = cli("check", "--only", "artifacts", cwd=repo)
    assert result.exit_code == 0, result.stdout[-2000:]
    (repo / "mlops-ci.yaml").write_text(config + "scan:\n  pickle_allow: ['os.*']\n")
    result = cli("check", "--only", "artifacts", cwd=repo)
    assert result.exit_code == 2 and "mlops-ci.yaml:5" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


# -- containers, polyglots and bounds -------------------------------------------------------------


def test_zip_appended_to_a_pickle_and_pickle_inside_onnx_polyglot(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("inner/data.bin", evil(0))
    # BININT 'J' is also protobuf field 9 (bytes), which ONNX skips: its 4-byte argument
    # swallows the field's length, then the field's content is the pickle.
    content = b"\x00\x00\x000" + b"cos\nsystem\n(S'x'\ntR."
    polyglot = b"J" + bytes([len(content)]) + content + build_mlp((4, 2)).SerializeToString()
    assert len(onnx.load_model_from_string(polyglot).graph.node) > 0
    root = model_dir(
        tmp_path, {"a.pkl": pickle.dumps([1]) + buffer.getvalue(), "model.onnx": polyglot}
    )
    found = findings(scan_model_path(root))
    assert found[("a.pkl", "inner/data.bin")] == ("posix.system",)
    assert found[("model.onnx", None)] == ("os.system",)


def test_tar_and_nested_archives(tmp_path: Path) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("deep/x", gzip.compress(evil(0)))
    tarred = io.BytesIO()
    with tarfile.open(fileobj=tarred, mode="w") as archive:
        info = tarfile.TarInfo("bundle/inner.zip")
        info.size = len(inner.getvalue())
        archive.addfile(info, io.BytesIO(inner.getvalue()))
    root = model_dir(tmp_path, {"model.tar.gz": gzip.compress(tarred.getvalue())})
    # zipfile also opens the tar itself (it finds the inner zip's directory at its end).
    assert findings(scan_model_path(root)) == {
        ("model.tar.gz", "bundle/inner.zip!deep/x"): ("posix.system",),
        ("model.tar.gz", "deep/x"): ("posix.system",),
    }
    # One layer fewer allowed than there are: undecodable, never a silent skip.
    shallow = scan_model_path(root, limits=Limits(depth=3))
    assert any(f.scan.error and "nested" in f.scan.error for f in shallow.pickle_findings)


def test_bounds_are_undecodable(tmp_path: Path) -> None:
    budget = Budget(ops=100_000)  # one file's: many small pickles, or overlapping members
    for _ in range(4):  # checked every 65,536 opcodes and before each pickle
        small = scan_blob(b"(" + b"N" * 40_000 + b"t.", claimed=True, budget=budget)
    assert small is not None and "opcodes in one file" in (small.error or "")
    many_pickles = scan_blob(b"N." * 5_000_000, claimed=False)
    assert many_pickles is not None and "more than 64 pickles" in (many_pickles.error or "")
    bomb = gzip.compress(b"\0" * (4 << 20))
    many = io.BytesIO()
    with zipfile.ZipFile(many, "w") as archive:
        for index in range(20):
            archive.writestr(f"m{index}", b"")
    root = model_dir(tmp_path, {"bomb.gz": bomb, "many.zip": many.getvalue()})
    scan = scan_model_path(root, limits=Limits(members=10, decompressed=1 << 20))
    assert findings(scan) == {("bomb.gz", None): ("!",), ("many.zip", None): ("!",)}


def test_unreadable_containers_and_unsupported_compressors_block(tmp_path: Path) -> None:
    truncated_zip = io.BytesIO()
    with zipfile.ZipFile(truncated_zip, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.pkl", evil(2))
    root = model_dir(
        tmp_path,
        {
            "cut.pt": truncated_zip.getvalue()[:-30],
            "model.lz4": b"\x04\x22\x4d\x18" + b"\0" * 16,
            "bad.gz": b"\x1f\x8b\x08\x00" + b"\xff" * 20,
            "cut.pkl": pickle.dumps({"a": [1, 2]}, protocol=2)[:-3],
            "ext.pkl": b"\x80\x02\x82\x01)R.",
        },
    )
    found = findings(scan_model_path(root))
    assert set(found) == {(n, None) for n in ("cut.pt", "model.lz4", "bad.gz", "cut.pkl", "ext.pkl")}  # fmt: skip
    assert all("!" in v for v in found.values()), found


def test_ordinary_files_are_not_pickles(tmp_path: Path) -> None:
    """Text, JSON, ONNX, safetensors-like and float data: no finding (they fail at once)."""
    root = model_dir(
        tmp_path,
        {
            "config.json": b'{"a": 1}',
            "hparams.yaml": b"compute_type: float16\nclasses: [cat, dog]\nseed: 1\n",
            "classes.txt": b"cat dog\nbird fish\n",
            "README.md": b"# Model\n",
            "model.onnx": build_mlp((4, 2)).SerializeToString(),
            "weights.safetensors": (130).to_bytes(8, "little") + b'{"t":{}}' + b"\0" * 130,
            "data.bin": np.linspace(0, 1, 1000, dtype=np.float32).tobytes(),
            "sparse.bin": b"c" + bytes(5000) + b"\n" + bytes(100),  # 'c', then no name
            "zeros.bin": b"c" + bytes(50) + b"\n" + bytes(100) + b"\n" + bytes(10),
            "plain.npy": b"",
        },
    )
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(3))
    (root / "plain.npy").write_bytes(buffer.getvalue())
    scan = scan_model_path(root)
    assert scan.pickle_findings == [] and scan.pickles == 0
    # The same bytes in a file a loader is given as a model, or names a pickler writes: flagged.
    (root / "pytorch_model.bin").write_bytes(b"compute_type: float16\nclasses: [cat, dog]\n")
    (root / "notes.txt").write_bytes(b"cevil\nrun\n\x00")
    assert {(f.path.name, bool(f.scan.error)) for f in scan_model_path(root).pickle_findings} == {
        ("pytorch_model.bin", True),
        ("notes.txt", True),
    }


def _container_seeds() -> list[bytes]:
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a/data.pkl", evil(2))
        archive.writestr(
            "b.npy",
            b"\x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
            + b" " * 45
            + b"\n"
            + evil(3),
        )
    stored = io.BytesIO()
    with zipfile.ZipFile(stored, "w") as archive:
        archive.writestr("x", evil(4))
    tarred = io.BytesIO()
    with tarfile.open(fileobj=tarred, mode="w") as archive:
        info = tarfile.TarInfo("m/x.pkl")
        info.size = len(evil(0))
        archive.addfile(info, io.BytesIO(evil(0)))
    return [
        zipped.getvalue(), stored.getvalue(), tarred.getvalue(), gzip.compress(evil(2)),
        bz2.compress(evil(2)), lzma.compress(evil(2)), zlib.compress(evil(2)), evil(5),
    ]  # fmt: skip


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(
    st.sampled_from(_container_seeds()),
    st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), max_size=6),
    st.integers(0, 1 << 16),
)
def test_mangled_containers_never_crash_the_scanner(
    seed: bytes, flips: list[tuple[int, int]], cut: int
) -> None:
    """Corrupt archives and streams are findings or nothing, never an exception (exit 3)."""
    data = bytearray(seed)
    for position, value in flips:
        data[position % len(data)] = value
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "model.bin"
        path.write_bytes(bytes(data[: max(1, len(data) - cut % 64)]))
        scan_model_path(path)
