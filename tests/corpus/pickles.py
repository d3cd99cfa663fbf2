"""Hostile pickles planted beside, inside or instead of the demo model (issue 12, class 1).

The demo model is a single ONNX file; the ``artifacts`` check scans it with every file beside it,
so most cases plant a file in ``models/fraud-detector/``. Each runs ``check --only artifacts``:
exit 1 for what must block (the rule that blocks is named), exit 2 for a bad ``pickle_allow``,
exit 0 for the controls.
"""

from __future__ import annotations

import bz2
import collections
import gzip
import io
import lzma
import pickle
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

from tests.corpus import Case

MODEL_DIR = Path("models/fraud-detector")
ARGS = ("check", "--only", "artifacts")
PAYLOAD = b"I0x1\n0cos\nsystem\n(S'touch X'\ntR."  # the protocol-0 payload
LEGACY_TORCH_MAGIC = 0x1950A86A20F9469CFC6C


def _global(module: str, name: str, protocol: int = 0) -> bytes:
    """A pickle that imports ``module.name`` and calls it with one string argument."""
    if protocol >= 4:
        return (
            b"\x80\x04\x8c" + bytes([len(module)]) + module.encode() + b"\x94"
            b"\x8c" + bytes([len(name)]) + name.encode() + b"\x94\x93\x8c\x01x\x85R."
        )
    return f"c{module}\n{name}\n(S'x'\ntR.".encode()


EVIL = _global("os", "system")
EVIL4 = _global("posix", "system", 4)


def _plant(name: str, data: bytes) -> Callable[[Path, Path], None]:
    def setup(repo: Path, outside: Path) -> None:
        target = repo / MODEL_DIR / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    return setup


def _config(
    extra_scan: str, then: Callable[[Path, Path], None] | None = None
) -> Callable[[Path, Path], None]:
    """Add keys under the demo's ``scan:`` section (and plant something with ``then``)."""

    def setup(repo: Path, outside: Path) -> None:
        config = repo / "mlops-ci.yaml"
        text = config.read_text()
        config.write_text(text.replace("\nscan:\n", f"\nscan:\n{extra_scan}", 1))
        if then is not None:
            then(repo, outside)

    return setup


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _tar(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _npy(pickled: bytes) -> bytes:
    """An .npy file of an object array: the header, then the pickle (as ``np.save`` writes)."""
    header = b"{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    header += b" " * (63 - len(header)) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + pickled


def _legacy_torch(replace: int | None) -> bytes:
    """A legacy ``torch.save`` file; pickle number ``replace`` (0-4) swapped for a hostile one."""
    parts = [
        pickle.dumps(LEGACY_TORCH_MAGIC, 2),
        pickle.dumps(1001, 2),
        pickle.dumps({"protocol_version": 1001, "little_endian": True}, 2),
        pickle.dumps(collections.OrderedDict(w=1), 2),
        pickle.dumps(["0"], 2),
    ]
    if replace is not None:
        parts[replace] = EVIL
    return b"".join(parts) + (4).to_bytes(8, "little") + bytes(16)  # raw storage data


def _torch_zip(data_pkl: bytes) -> bytes:
    return _zip(
        {"archive/data.pkl": data_pkl, "archive/data/0": bytes(64), "archive/version": b"3\n"}
    )


# A torch zip's data.pkl: a tensor rebuilt from a storage the loader resolves (BINPERSID).
TORCH_DATA_PKL = (
    b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\nq\x00((X\x07\x00\x00\x00storageq\x01"
    b"ctorch\nFloatStorage\nq\x02X\x01\x00\x00\x000q\x03X\x03\x00\x00\x00cpuq\x04K\x10tq\x05Q"
    b"K\x00K\x10\x85q\x06K\x01\x85q\x07\x89ccollections\nOrderedDict\nq\x08)Rq\x09tq\x0aRq\x0b."
)
POLYGLOT_CONTENT = b"\x00\x00\x000" + EVIL  # BININT swallows the protobuf field's length


def _onnx_polyglot(repo: Path, outside: Path) -> None:
    """The demo model, still valid ONNX, with a pickle in an unknown protobuf field in front."""
    model = repo / MODEL_DIR / "model.onnx"
    prefix = b"J" + bytes([len(POLYGLOT_CONTENT)]) + POLYGLOT_CONTENT
    model.write_bytes(prefix + model.read_bytes())


def _directory_model(repo: Path, outside: Path) -> None:
    config = repo / "mlops-ci.yaml"
    config.write_text(
        config.read_text().replace(
            "path: models/fraud-detector/model.onnx", "path: models/fraud-detector"
        )
    )
    _plant("tokenizer/extra.bin", EVIL)(repo, outside)


def _blocks(
    case_id: str, setup: Callable[[Path, Path], None], rule: str, reports: bool = False
) -> Case:
    # With every format written to files nothing reaches stdout, so the rule cannot be looked
    # for there: the exit code decides (the same input has a case without reports that names it).
    rule_or_none = None if reports else rule
    return Case(f"pickle-{case_id}", "pickle", setup, ARGS, 1, rule=rule_or_none, reports=reports)


UNSAFE, UNKNOWN, UNDECODABLE = "ART-PICKLE-UNSAFE", "ART-PICKLE-UNKNOWN", "ART-PICKLE-UNDECODABLE"

CASES = [
    # The seven cases of the issue.
    _blocks("issue-protocol0-int-hex", _plant("model.pkl", PAYLOAD), UNSAFE),
    _blocks("issue-protocol0-int-hex-reports", _plant("model.pkl", PAYLOAD), UNSAFE, reports=True),
    _blocks("issue-pytorch-model-bin-protocol0", _plant("pytorch_model.bin", EVIL), UNSAFE),
    _blocks("issue-model-pkl-gz", _plant("model.pkl.gz", gzip.compress(EVIL4)), UNSAFE),
    _blocks("issue-npz-member-without-npy-suffix",
            _plant("arrays.npz", _zip({"weights": _npy(EVIL)}, zipfile.ZIP_DEFLATED)), UNSAFE),
    _blocks("issue-legacy-torch-second-pickle", _plant("legacy.pt", _legacy_torch(1)), UNSAFE),
    _blocks("issue-legacy-torch-fifth-pickle", _plant("legacy.pth", _legacy_torch(4)), UNSAFE),
    _blocks("issue-several-pickles", _plant("stream.dat", pickle.dumps([1], 0) * 2 + EVIL), UNSAFE),
    _blocks("issue-pydoc-pipepager", _plant("m.pkl", _global("pydoc", "pipepager")), UNSAFE),
    _blocks("issue-posixsubprocess-fork-exec",
            _plant("m.pkl", _global("_posixsubprocess", "fork_exec", 4)), UNSAFE, reports=True),
    # Other literal syntaxes, memo tricks and loader differences.
    _blocks("stack-global-from-memo",
            _plant("m.pkl", b"\x80\x04\x8c\x02os\x94\x8c\x06system\x94h\x00h\x01\x93)R."), UNSAFE),
    _blocks("text-memo-with-nul", _plant("m.pkl", b"(S'os'\np1\x00z\n0S'system'\np2\ng1\x00y\ng2\n\x93."), UNSAFE),
    _blocks("inst-without-mark", _plant("m.pkl", b"ios\nsystem\n."), UNSAFE),
    _blocks("unicode-escape-names", _plant("m.pkl", b"(V\\u006fs\nVsystem\n\x93."), UNSAFE),
    _blocks("unknown-global", _plant("clf.pkl", _global("sklearn.tree", "DecisionTreeClassifier")), UNKNOWN),
    _blocks("glob-does-not-allow-module-attr",
            _config("  pickle_allow: ['sklearn.*']\n", _plant("m.pkl", _global("sklearn.utils", "os", 4))), UNSAFE),
    _blocks("truncated", _plant("cut.pkl", pickle.dumps({"a": [1, 2]}, 2)[:-4]), UNDECODABLE),
    _blocks("extension-code", _plant("ext.pkl", b"\x80\x02\x82\x01)R."), UNDECODABLE),
    _blocks("computed-global-name", _plant("m.pkl", b"\x80\x04cbuiltins\nstr\n)R\x94h\x00\x93)R."), UNDECODABLE),
    _blocks("opcode-crosses-frame", _plant("m.pkl", b"\x80\x04\x95\x02\x00\x00\x00\x00\x00\x00\x00" + EVIL), UNDECODABLE),
    # Containers and polyglots.
    _blocks("torch-zip-data-pkl", _plant("weights.pt", _torch_zip(EVIL4)), UNSAFE),
    _blocks("torch-zip-data-pkl-reports", _plant("weights.pt", _torch_zip(EVIL4)), UNSAFE, reports=True),
    _blocks("zip-appended-to-pickle", _plant("a.pkl", pickle.dumps([1]) + _zip({"x": EVIL})), UNSAFE),
    _blocks("onnx-polyglot", _onnx_polyglot, UNSAFE),
    _blocks("gzip-in-zip-in-tar", _plant("bundle.tar", _tar({"in.zip": _zip({"x.gz": gzip.compress(EVIL)})})), UNSAFE),
    _blocks("bz2", _plant("weights", bz2.compress(EVIL)), UNSAFE),
    _blocks("xz-joblib", _plant("model.joblib", lzma.compress(EVIL)), UNSAFE),
    _blocks("lzma-alone", _plant("model.joblib", lzma.compress(EVIL, format=lzma.FORMAT_ALONE)), UNSAFE),
    _blocks("zlib-joblib", _plant("model.joblib", zlib.compress(EVIL)), UNSAFE),
    _blocks("npy-object-array", _plant("objects.npy", _npy(EVIL4)), UNSAFE),
    _blocks("lz4-cannot-be-read", _plant("model.lz4", b"\x04\x22\x4d\x18" + bytes(32)), UNDECODABLE),
    _blocks("corrupt-zip", _plant("weights.pt", _torch_zip(EVIL)[:-40]), UNDECODABLE),
    _blocks("directory-model-nested-file", _directory_model, UNSAFE),
    # A bad allowlist is a configuration error.
    Case("pickle-allow-star", "pickle", _config("  pickle_allow: ['*']\n"), ARGS, 2, rule="pickle_allow"),
    Case("pickle-allow-dangerous", "pickle", _config("  pickle_allow: ['os.system']\n"), ARGS, 2, rule="pickle_allow"),
    Case("pickle-allow-dangerous-glob", "pickle", _config("  pickle_allow: ['subprocess.*']\n"), ARGS, 2),
    Case("pickle-allow-not-a-list", "pickle", _config("  pickle_allow: sklearn.*\n"), ARGS, 2),
    Case("pickle-allow-partial-glob", "pickle", _config("  pickle_allow: ['sk*.tree']\n"), ARGS, 2),
    # Controls: ordinary and allowlisted pickles pass.
    Case("pickle-control-plain", "pickle",
         _plant("model.pkl", pickle.dumps(collections.OrderedDict(w=[1.0, 2.0]), 0)), ARGS, 0),
    Case("pickle-control-legacy-torch", "pickle", _plant("legacy.pt", _legacy_torch(None)), ARGS, 0),
    Case("pickle-control-torch-zip", "pickle", _plant("weights.pt", _torch_zip(TORCH_DATA_PKL)), ARGS, 0),
    Case("pickle-control-allowlisted", "pickle",
         _config("  pickle_allow: ['sklearn.*', 'xgboost.core.Booster']\n",
                 _plant("clf.pkl", _global("sklearn.tree", "DecisionTreeClassifier") + _global("xgboost.core", "Booster", 4))),
         ARGS, 0, reports=True),
]  # fmt: skip
