"""Signatures and the bytes they cover (issue 12, class 3): ONNX files and their external data,
and every bundle mlops-ci verifies (model signatures, attestations, SBOM and report bundles)."""

from __future__ import annotations

import base64
import json
import os
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path

from tests.corpus import Case
from tests.external_data import DATA_NAME, point_at, poison, save_external

MODEL = Path("models/fraud-detector/model.onnx")
SIG = Path("models/fraud-detector/model.onnx.sig")
ATTESTATION = Path("models/fraud-detector/model.onnx.attestation.sigstore.json")
SBOM = Path(".mlops-ci/sbom/fraud-detector.cdx.json")
SBOM_BUNDLE = Path(".mlops-ci/sbom/fraud-detector.cdx.json.sigstore.json")
REPORT = Path("reports/mlops-ci.json")

Setup = Callable[[Path, Path], None]


def _resign(repo: Path) -> None:
    """Sign the demo again with its key (the report goes: it was made on other model bytes)."""
    from mlops_ci.demo.signing import sign_demo

    (repo / REPORT).unlink(missing_ok=True)
    Path(f"{repo / REPORT}.sigstore.json").unlink(missing_ok=True)
    sign_demo(repo)


def _external(repo: Path) -> None:
    """The demo model with its weights in model.onnx.data, signed."""
    save_external(repo / MODEL)
    _resign(repo)


def _then(*steps: Setup) -> Setup:
    def setup(repo: Path, outside: Path) -> None:
        for step in steps:
            step(repo, outside)

    return setup


def _signed_external(repo: Path, outside: Path) -> None:
    _external(repo)


def _poison_data(repo: Path, outside: Path) -> None:
    poison(repo / MODEL.parent / DATA_NAME)


def _delete_data(repo: Path, outside: Path) -> None:
    (repo / MODEL.parent / DATA_NAME).unlink()


def _data_is_pickle(repo: Path, outside: Path) -> None:
    """The weights file is a pickle that runs a command when loaded: scanned as part of the model."""
    (repo / MODEL.parent / DATA_NAME).write_bytes(
        b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00trueq\x00\x85R."
    )


def _data_is_fifo(repo: Path, outside: Path) -> None:
    data = repo / MODEL.parent / DATA_NAME
    data.unlink()
    os.mkfifo(data)


def _data_is_directory(repo: Path, outside: Path) -> None:
    data = repo / MODEL.parent / DATA_NAME
    data.unlink()
    data.mkdir()
    (data / "weights").write_bytes(b"\0" * 64)


def _data_is_symlink_outside(repo: Path, outside: Path) -> None:
    data = repo / MODEL.parent / DATA_NAME
    (outside / "weights.data").write_bytes(data.read_bytes())
    data.unlink()
    data.symlink_to(outside / "weights.data")


def _second_data_file(repo: Path, outside: Path) -> None:
    """The graph now keeps one tensor in a second file (an extra data file)."""
    import onnx

    model = repo / MODEL
    proto = onnx.load(str(model), load_external_data=False)
    entries = proto.graph.initializer[0].external_data
    for entry in entries:
        if entry.key == "location":
            entry.value = "extra.data"
    (model.parent / "extra.data").write_bytes((model.parent / DATA_NAME).read_bytes())
    onnx.save_model(proto, str(model))


def _relocate(location: str) -> Setup:
    def setup(repo: Path, outside: Path) -> None:
        point_at(repo / MODEL, location.format(outside=outside))

    return setup


def _link(name: str, target: str) -> Setup:
    def setup(repo: Path, outside: Path) -> None:
        (repo / MODEL.parent / name).symlink_to(target.format(outside=outside))

    return setup


def _link_copy_outside(repo: Path, outside: Path) -> None:
    """``link.data`` beside the model: a symlink to a copy of the weights outside the repository."""
    (outside / "weights.data").write_bytes((repo / MODEL.parent / DATA_NAME).read_bytes())
    (repo / MODEL.parent / "link.data").symlink_to(outside / "weights.data")


def _fifo(name: str) -> Setup:
    def setup(repo: Path, outside: Path) -> None:
        os.mkfifo(repo / MODEL.parent / name)

    return setup


def _model_bytes(make: Callable[[bytes], bytes]) -> Setup:
    def setup(repo: Path, outside: Path) -> None:
        model = repo / MODEL
        model.write_bytes(make(model.read_bytes()))

    return setup


def _zip_bytes(original: bytes) -> bytes:
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("model.onnx", original)
    return buffer.getvalue()


def _custom_op(repo: Path, outside: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("Fancy", ["input"], ["output"], domain="com.example.evil")
    graph = helper.make_graph(
        [node],
        "custom",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 64])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 2])],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example.evil", 1)],
    )
    model.ir_version = 8
    onnx.save(model, str(repo / MODEL))
    _resign(repo)


def _write(path: Path, data: bytes | None) -> Setup:
    def setup(repo: Path, outside: Path) -> None:
        target = repo / path
        if data is None:
            target.write_bytes(target.read_bytes()[: len(target.read_bytes()) // 2])
        else:
            target.write_bytes(data)

    return setup


def _huge(path: Path) -> Setup:
    def setup(repo: Path, outside: Path) -> None:
        with (repo / path).open("wb") as handle:
            handle.write(b'{"a": "' + b"x" * (40 << 20) + b'"}')

    return setup


def _flip_signature(repo: Path, outside: Path) -> None:
    bundle = json.loads((repo / SIG).read_text())
    raw = bytearray(base64.b64decode(bundle["dsseEnvelope"]["signatures"][0]["sig"]))
    raw[10] ^= 0x01
    bundle["dsseEnvelope"]["signatures"][0]["sig"] = base64.b64encode(bytes(raw)).decode()
    (repo / SIG).write_text(json.dumps(bundle))


def _replace_with_link(path: Path) -> Setup:
    def setup(repo: Path, outside: Path) -> None:
        (repo / path).unlink()
        (repo / path).symlink_to(outside / "secret.txt")

    return setup


def _replace_with_directory(path: Path) -> Setup:
    def setup(repo: Path, outside: Path) -> None:
        (repo / path).unlink()
        (repo / path).mkdir()
        (repo / path / "bundle.json").write_text("{}")

    return setup


def _replace_with_fifo(path: Path) -> Setup:
    def setup(repo: Path, outside: Path) -> None:
        (repo / path).unlink()
        os.mkfifo(repo / path)

    return setup


def _demo_signer(repo: Path) -> object:
    from mlops_ci.signing.keysign import KeySigner
    from mlops_ci.signing.material import KeySource, load_private_key

    key = load_private_key(KeySource(path=repo / ".mlops-ci/keys/signing-key.pem"), {})
    return KeySigner(key)


def _other_models_signature(repo: Path, outside: Path) -> None:
    from mlops_ci.demo.model import save_mlp

    other = save_mlp(repo / "models" / "other.onnx", seed=99)
    signer = _demo_signer(repo)
    (repo / SIG).write_text(signer.sign_file(other))  # type: ignore[attr-defined]


def _other_key(repo: Path, outside: Path) -> None:
    from mlops_ci.signing.keysign import KeySigner
    from tests.pki import new_key

    (repo / SIG).write_text(KeySigner(new_key()).sign_file(repo / MODEL))


def _attestation_about(digest: str) -> Setup:
    def setup(repo: Path, outside: Path) -> None:
        from mlops_ci.signing.attestation import statement_bytes
        from mlops_ci.signing.oms import signed_statement

        statement = signed_statement(json.loads((repo / ATTESTATION).read_text())) or {}
        payload = statement_bytes("fraud-detector", digest, statement.get("predicate") or {})
        signer = _demo_signer(repo)
        (repo / ATTESTATION).write_text(signer.sign_statement(payload))  # type: ignore[attr-defined]

    return setup


def _tamper_json(path: Path) -> Setup:
    def setup(repo: Path, outside: Path) -> None:
        data = json.loads((repo / path).read_text())
        data["tampered"] = True
        (repo / path).write_text(json.dumps(data))

    return setup


def _directory_model(repo: Path, outside: Path) -> None:
    """The model becomes the directory models/fraud-detector (card and git files included)."""
    config = repo / "mlops-ci.yaml"
    config.write_text(
        config.read_text().replace(
            "path: models/fraud-detector/model.onnx", "path: models/fraud-detector"
        )
    )
    for path in (SIG, ATTESTATION):
        (repo / path).unlink()
    (repo / MODEL.parent / ".gitattributes").write_text("*.onnx binary\n")
    _resign(repo)


def _edit_gitattributes(repo: Path, outside: Path) -> None:
    (repo / MODEL.parent / ".gitattributes").write_text("*.onnx filter=evil\n")


def _add_workflow(repo: Path, outside: Path) -> None:
    workflow = repo / MODEL.parent / ".github" / "workflows" / "x.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text("on: push\n")


def _dir_onnx_outside(repo: Path, outside: Path) -> None:
    """An ONNX file of the directory model that keeps its weights outside the directory."""
    model = repo / MODEL.parent / "encoder.onnx"
    save_external(model, location="encoder.data")
    (repo / "models" / "encoder.data").write_bytes((model.parent / "encoder.data").read_bytes())
    point_at(model, "../encoder.data")


def _renamed_external(repo: Path, outside: Path) -> None:
    """The configured model is an ONNX file named model.pb with its weights in weights.bin."""
    config = repo / "mlops-ci.yaml"
    config.write_text(
        config.read_text().replace(
            "path: models/fraud-detector/model.onnx", "path: models/fraud-detector/model.pb"
        )
    )
    save_external(repo / MODEL.with_name("model.pb"), location="weights.bin")
    _resign(repo)
    poison(repo / MODEL.with_name("weights.bin"))


VERIFY = ("verify",)
SIGNATURE = ("check", "--only", "signature")
ONNX = ("check", "--only", "onnx-model")
ARTIFACTS = ("check", "--only", "artifacts")
PROMOTE = ("promote", "fraud-detector", "--to", "dev", "--forge", "none", "--dry-run")
EXT = _signed_external

CASES = [
    # Controls: the intact demo, and an intact external-data model signed in setup.
    Case("sig-control-demo-verifies", "bundle", _then(), VERIFY, 0),
    Case("sig-control-external-verifies", "onnx", EXT, VERIFY, 0),
    Case("sig-control-external-check", "onnx", EXT, SIGNATURE, 0, reports=True),
    Case("sig-control-external-artifacts", "onnx", EXT, ARTIFACTS, 0),
    # External data: tampered, missing, replaced, extra.
    Case("sig-onnx-data-tampered", "onnx", _then(EXT, _poison_data), VERIFY, 1, DATA_NAME),
    Case("sig-onnx-data-tampered-check", "onnx", _then(EXT, _poison_data), SIGNATURE, 1, "SIG001"),
    Case(
        "sig-onnx-data-tampered-reports",
        "onnx",
        _then(EXT, _poison_data),
        SIGNATURE,
        1,
        reports=True,
    ),
    Case("sig-onnx-data-missing", "onnx", _then(EXT, _delete_data), VERIFY, 1, "does not exist"),
    Case("sig-onnx-data-missing-check", "onnx", _then(EXT, _delete_data), SIGNATURE, 1, "SIG004"),
    Case(
        "sig-onnx-data-missing-artifacts",
        "onnx",
        _then(EXT, _delete_data),
        ARTIFACTS,
        1,
        "ART-ONNX-EXTERNAL-INVALID",
    ),
    Case("sig-onnx-data-fifo", "onnx", _then(EXT, _data_is_fifo), VERIFY, 1, "not a regular"),
    Case("sig-onnx-data-directory", "onnx", _then(EXT, _data_is_directory), SIGNATURE, 1, "SIG004"),
    Case(
        "sig-onnx-data-symlink-outside",
        "onnx",
        _then(EXT, _data_is_symlink_outside),
        VERIFY,
        1,
        "a symlink",
    ),
    Case(
        "sig-onnx-data-is-a-pickle",
        "onnx",
        _then(EXT, _data_is_pickle),
        ARTIFACTS,
        1,
        "ART-PICKLE-UNSAFE",
    ),
    Case("sig-onnx-data-extra-file", "onnx", _then(EXT, _second_data_file), VERIFY, 1),
    Case(
        "sig-onnx-data-tampered-promote",
        "onnx",
        _then(EXT, _poison_data),
        PROMOTE,
        1,
        "changed: model.onnx.data",
    ),
    Case(
        "sig-onnx-data-missing-promote",
        "onnx",
        _then(EXT, _delete_data),
        PROMOTE,
        2,
        "does not exist",
    ),
    # External locations that no signature may cover.
    Case(
        "sig-onnx-location-dotdot",
        "onnx",
        _then(EXT, _relocate("../../../outside/secret.txt")),
        ARTIFACTS,
        1,
        "ART-ONNX-EXTERNAL-ESCAPE",
    ),
    Case(
        "sig-onnx-location-absolute",
        "onnx",
        _then(EXT, _relocate("{outside}/secret.txt")),
        VERIFY,
        1,
        "an absolute path",
    ),
    Case(
        "sig-onnx-location-symlink",
        "onnx",
        _then(EXT, _link("link.data", "{outside}/secret.txt"), _relocate("link.data")),
        SIGNATURE,
        1,
        "SIG004",
    ),
    Case(
        "sig-onnx-location-fifo",
        "onnx",
        _then(EXT, _fifo("pipe.data"), _relocate("pipe.data")),
        VERIFY,
        1,
        "not a regular file",
    ),
    Case(
        "sig-onnx-location-fifo-onnx-check",
        "onnx",
        _then(EXT, _fifo("pipe.data"), _relocate("pipe.data")),
        ONNX,
        1,
    ),
    Case(
        "sig-onnx-location-fifo-bench",
        "onnx",
        _then(EXT, _fifo("pipe.data"), _relocate("pipe.data")),
        ("check", "--only", "bench"),
        1,
    ),
    Case(
        "sig-onnx-location-outside-bench",
        "onnx",
        _then(EXT, _relocate("{outside}/secret.txt")),
        ("check", "--only", "bench"),
        1,
    ),
    Case(
        "sig-onnx-location-symlink-bench",
        "onnx",
        _then(EXT, _link_copy_outside, _relocate("link.data")),
        ("check", "--only", "bench"),
        1,
    ),
    Case(
        "sig-onnx-location-ort-memory-address",
        "onnx",
        _then(EXT, _relocate("*/_ORT_MEM_ADDR_/*")),
        SIGNATURE,
        1,
        "SIG004",
    ),
    Case(
        "sig-onnx-location-device",
        "onnx",
        _then(EXT, _link("zero.data", "/dev/zero"), _relocate("zero.data")),
        ARTIFACTS,
        1,
        "ART-ONNX-EXTERNAL-ESCAPE",
    ),
    Case(
        "sig-onnx-location-device-absolute",
        "onnx",
        _then(EXT, _relocate("/dev/zero")),
        SIGNATURE,
        1,
        "SIG004",
    ),
    Case(
        "sig-onnx-location-the-signature",
        "onnx",
        _then(EXT, _relocate("model.onnx.sig")),
        VERIFY,
        1,
        "evidence file",
    ),
    Case(
        "sig-onnx-location-backslash",
        "onnx",
        _then(EXT, _relocate("..\\..\\outside\\x")),
        SIGNATURE,
        1,
        "SIG004",
    ),
    # ONNX files that are not what they say.
    Case("sig-onnx-truncated", "onnx", _model_bytes(lambda b: b[: len(b) // 2]), ONNX, 1),
    Case("sig-onnx-truncated-verify", "onnx", _model_bytes(lambda b: b[:-7]), VERIFY, 1),
    Case("sig-onnx-empty", "onnx", _model_bytes(lambda b: b""), ONNX, 1),
    Case("sig-onnx-random-bytes", "onnx", _model_bytes(lambda b: os.urandom(4096)), ONNX, 1),
    Case("sig-onnx-zip", "onnx", _model_bytes(_zip_bytes), ONNX, 1),
    Case("sig-onnx-pickle", "onnx", _model_bytes(lambda b: pickle.dumps({"w": [1.0]}, 2)), ONNX, 1),
    Case("sig-onnx-polyglot-verify", "onnx", _model_bytes(lambda b: b + _zip_bytes(b)), VERIFY, 1),
    Case("sig-onnx-custom-op", "onnx", _custom_op, ARTIFACTS, 0, "ART-ONNX-CUSTOM-OP"),
    # Model signatures that are not bundles, or not this model's.
    Case("sig-bundle-corrupted-signature", "bundle", _flip_signature, VERIFY, 1),
    Case("sig-bundle-truncated", "bundle", _write(SIG, None), VERIFY, 1, "not a sigstore bundle"),
    Case("sig-bundle-empty", "bundle", _write(SIG, b""), SIGNATURE, 1, "SIG001"),
    Case("sig-bundle-not-json", "bundle", _write(SIG, b"\xff\xfe<xml/>"), VERIFY, 1),
    Case("sig-bundle-json-list", "bundle", _write(SIG, b"[1, 2]"), VERIFY, 1),
    Case("sig-bundle-deep-json", "bundle", _write(SIG, b"[" * 100000 + b"]" * 100000), VERIFY, 1),
    Case("sig-bundle-huge", "bundle", _huge(SIG), VERIFY, 1, "over 32 MiB"),
    Case("sig-bundle-symlink", "bundle", _replace_with_link(SIG), VERIFY, 1, "a symlink"),
    Case("sig-bundle-symlink-check", "bundle", _replace_with_link(SIG), SIGNATURE, 1, "SIG001"),
    Case("sig-bundle-directory", "bundle", _replace_with_directory(SIG), SIGNATURE, 1, "SIG001"),
    Case("sig-bundle-fifo", "bundle", _replace_with_fifo(SIG), VERIFY, 1, "not a regular file"),
    Case("sig-bundle-directory-sign", "bundle", _replace_with_directory(SIG), ("sign",), 2),
    Case("sig-bundle-symlink-sign", "bundle", _replace_with_link(ATTESTATION), ("sign",), 0),
    Case("sig-bundle-other-model", "bundle", _other_models_signature, VERIFY, 1),
    Case("sig-bundle-other-key", "bundle", _other_key, VERIFY, 1, "not by the public key"),
    # Attestations, SBOM and report bundles.
    Case(
        "sig-bundle-attestation-other-digest",
        "bundle",
        _attestation_about("sha256:" + "0" * 64),
        SIGNATURE,
        1,
        "SIG003",
    ),
    Case(
        "sig-bundle-attestation-other-digest-verify",
        "bundle",
        _attestation_about("sha256:" + "1" * 64),
        VERIFY,
        1,
        "attestation is about",
    ),
    Case(
        "sig-bundle-attestation-not-json",
        "bundle",
        _write(ATTESTATION, b"{"),
        SIGNATURE,
        1,
        "SIG003",
    ),
    Case(
        "sig-bundle-attestation-directory",
        "bundle",
        _replace_with_directory(ATTESTATION),
        VERIFY,
        1,
    ),
    Case("sig-bundle-sbom-tampered", "bundle", _tamper_json(SBOM), VERIFY, 1),
    Case("sig-bundle-sbom-bundle-corrupt", "bundle", _write(SBOM_BUNDLE, b"nope"), VERIFY, 1),
    Case("sig-bundle-sbom-bundle-symlink", "bundle", _replace_with_link(SBOM_BUNDLE), VERIFY, 1),
    Case("sig-bundle-report-tampered", "bundle", _tamper_json(REPORT), VERIFY, 1),
    # A directory model: every file counts, git files included.
    Case(
        "sig-bundle-directory-onnx-data-outside",
        "onnx",
        _then(_directory_model, _dir_onnx_outside),
        VERIFY,
        1,
        "climbs out",
    ),
    Case("sig-onnx-renamed-model", "onnx", _renamed_external, VERIFY, 1, "changed: weights.bin"),
    Case("sig-control-directory-model", "bundle", _directory_model, VERIFY, 0),
    Case(
        "sig-bundle-directory-gitattributes",
        "bundle",
        _then(_directory_model, _edit_gitattributes),
        VERIFY,
        1,
        "changed: .gitattributes",
    ),
    Case(
        "sig-bundle-directory-github-added",
        "bundle",
        _then(_directory_model, _add_workflow),
        VERIFY,
        1,
        "added: .github/workflows/x.yml",
    ),
]
