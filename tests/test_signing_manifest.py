"""mlops-ci's own OMS manifests and key/certificate bundles against model-signing's (issue 16).

``sign`` hashes plain-file models and writes key and certificate bundles without importing
model-signing; model-signing's own manifests, statements, signers and verifier are the oracle
here, on every layout the signing tests use: a file, an ONNX file with one or several external
data files (beside it or in a subdirectory), evidence and other ignores, unusual names, and a
directory model.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from mlops_ci.signing.keysign import KeySigner
from mlops_ci.signing.manifest import OmsManifest
from mlops_ci.signing.oms import hash_scope, manifest_of, model_digest, root_digest
from mlops_ci.signing.scope import model_scope
from tests.external_data import save_external
from tests.pki import make_pki, new_key, write_key_pair
from tests.test_signing_modes import make_model

EVIDENCE = (Path("model.onnx.sig"), Path("model.onnx.attestation.sigstore.json"))


def _file(root: Path) -> tuple[Path, tuple[Path, ...]]:
    path = root / "weights.bin"
    path.write_bytes(bytes(range(256)) * 33)
    return path, ()


def _odd_name(root: Path) -> tuple[Path, tuple[Path, ...]]:
    path = root / "modèle v2 ünïcode.bin"
    path.write_bytes(b"\x00weights")
    return path, ()


def _empty_file(root: Path) -> tuple[Path, tuple[Path, ...]]:
    path = root / "empty.bin"
    path.write_bytes(b"")
    return path, ()


def _onnx(root: Path) -> tuple[Path, tuple[Path, ...]]:
    import onnx

    from mlops_ci.demo.model import build_mlp

    path = root / "model.onnx"
    onnx.save_model(build_mlp((64, 32, 2), seed=7), str(path))
    return path, EVIDENCE


def _external(root: Path) -> tuple[Path, tuple[Path, ...]]:
    return save_external(root / "m" / "model.onnx"), EVIDENCE


def _external_ignores(root: Path) -> tuple[Path, tuple[Path, ...]]:
    """Every kind of ignore entry: evidence, duplicates, a path above the model, an absolute one."""
    path = save_external(root / "m" / "model.onnx")
    odd = (Path("sub/x.sigstore.json"), Path("./model.onnx.sig"), Path("../report.json"))
    return path, (*EVIDENCE, *odd, Path("/elsewhere/report.json"))


def _external_subdirectory(root: Path) -> tuple[Path, tuple[Path, ...]]:
    (root / "m" / "weights").mkdir(parents=True)
    return save_external(root / "m" / "model.onnx", location="weights/all.bin"), EVIDENCE


def _external_per_tensor(root: Path) -> tuple[Path, tuple[Path, ...]]:
    """One data file per tensor: several files to order."""
    import onnx

    from mlops_ci.demo.model import build_mlp

    path = root / "m" / "model.onnx"
    path.parent.mkdir(parents=True)
    onnx.save_model(
        build_mlp((64, 32, 2), seed=7),
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=False,
        size_threshold=0,
    )
    assert len(list(path.parent.iterdir())) > 3
    return path, EVIDENCE


def _directory(root: Path) -> tuple[Path, tuple[Path, ...]]:
    model = make_model(root)
    (model / "model.sig").write_text("{}")
    (model / ".gitattributes").write_text("*.bin binary\n")
    return model, (Path("model.sig"), Path("config.json"))


LAYOUTS: dict[str, Callable[[Path], tuple[Path, tuple[Path, ...]]]] = {
    "file": _file,
    "odd-name": _odd_name,
    "empty-file": _empty_file,
    "onnx": _onnx,
    "external": _external,
    "external-ignores": _external_ignores,
    "external-subdirectory": _external_subdirectory,
    "external-per-tensor": _external_per_tensor,
    "directory": _directory,
}


def _upstream(path: Path, ignore: Sequence[Path]) -> Any:
    """model-signing's manifest of the model, as mlops-ci asked for it before issue 16."""
    return hash_scope(model_scope(path, ignore))


def _upstream_statement(manifest: Any) -> str:
    from google.protobuf import json_format
    from model_signing._signing import signing

    return str(json_format.MessageToJson(signing.Payload(manifest).statement.pb))


def _sorted_ignores(statement: dict[str, Any]) -> dict[str, Any]:
    """model-signing lists ignore paths from a set (hash order): compared sorted."""
    serialization = statement["predicate"]["serialization"]
    if "ignore_paths" in serialization:
        serialization["ignore_paths"] = sorted(serialization["ignore_paths"])
    return statement


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_manifest_and_statement_match_model_signing(tmp_path: Path, layout: str) -> None:
    path, ignore = LAYOUTS[layout](tmp_path)
    ours = manifest_of(path, ignore)
    theirs = _upstream(path, ignore)
    assert ours.root_digest == root_digest(theirs) == model_digest(path, ignore)
    assert ours.model_name == theirs.model_name
    assert [(r.name, r.algorithm, r.digest) for r in ours.resources] == [
        (d.identifier, d.digest.algorithm, d.digest.digest_hex)
        for d in theirs.resource_descriptors()
    ]
    text = _upstream_statement(theirs)
    # Its layout is json.dumps with indent 2 (key order inside the predicate varies by process).
    assert json.dumps(json.loads(text), indent=2) == text
    assert json.loads(ours.statement()) == _sorted_ignores(json.loads(text))
    assert ours.statement() == json.dumps(json.loads(ours.statement()), indent=2).encode()


def test_ignore_paths_are_recorded_as_model_signing_records_them(tmp_path: Path) -> None:
    path, ignore = _external_ignores(tmp_path)
    serialization = manifest_of(path, ignore).serialization
    assert serialization["ignore_paths"] == sorted(
        [*(str(p) for p in EVIDENCE), "sub/x.sigstore.json"]
    )


def _redacted(bundle: str) -> str:
    """The bundle with its payload and signature (random) blanked, field order kept."""
    parsed = json.loads(bundle)
    parsed["dsseEnvelope"]["payload"] = "-"
    parsed["dsseEnvelope"]["signatures"][0]["sig"] = "-"
    return json.dumps(parsed)


def _upstream_signer(key: Any, certificate: Any = None, chain: Sequence[Any] = ()) -> Any:
    """model-signing's key or certificate signer with in-memory material (what mlops-ci used)."""
    from model_signing._signing import sign_certificate, sign_ec_key

    inner: Any
    if certificate is None:
        inner = sign_ec_key.Signer.__new__(sign_ec_key.Signer)
    else:
        inner = sign_certificate.Signer.__new__(sign_certificate.Signer)
        inner._signing_certificate = certificate
        inner._trust_chain = list(chain)
    inner._private_key = key
    return inner


def _same_bundle(ours: str, theirs: str, manifest: OmsManifest) -> None:
    import base64

    assert json.dumps(json.loads(theirs), separators=(",", ":")) == theirs  # compact JSON
    assert ours == json.dumps(json.loads(ours), separators=(",", ":"))
    assert _redacted(ours) == _redacted(theirs)
    payload = base64.b64decode(json.loads(ours)["dsseEnvelope"]["payload"])
    assert payload == manifest.statement()


@pytest.mark.parametrize("layout", ["file", "external"])
def test_key_bundle_matches_model_signing_and_verifies_there(tmp_path: Path, layout: str) -> None:
    from cryptography.hazmat.primitives import serialization
    from model_signing import verifying
    from model_signing._signing import signing

    path, ignore = LAYOUTS[layout](tmp_path)
    private, public = write_key_pair(tmp_path)
    key: Any = serialization.load_pem_private_key(private.read_bytes(), None)
    manifest = manifest_of(path, ignore)
    ours = KeySigner(key).sign_manifest(manifest)
    upstream = _upstream_signer(key).sign(signing.Payload(_upstream(path, ignore)))
    _same_bundle(ours, upstream.bundle.to_json(), manifest)
    signature = tmp_path / "model.sig"
    signature.write_text(ours)
    config: Any = verifying.Config()  # type: ignore[no-untyped-call]
    config.use_elliptic_key_verifier(public_key=public)
    config.set_ignore_unsigned_files(layout == "external")
    config.verify(path if layout == "file" else path.parent, signature)


def test_certificate_bundle_matches_model_signing_and_verifies_there(tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from model_signing import verifying
    from model_signing._signing import signing

    path, _ = _file(tmp_path)
    pki = make_pki(tmp_path / "pki")
    key: Any = serialization.load_pem_private_key(pki.key.read_bytes(), None)
    leaf = x509.load_pem_x509_certificates(pki.cert.read_bytes())[0]
    chain = x509.load_pem_x509_certificates(pki.chain.read_bytes())
    manifest = manifest_of(path)
    ours = KeySigner(key, leaf, chain).sign_manifest(manifest)
    upstream = _upstream_signer(key, leaf, chain).sign(signing.Payload(_upstream(path, ())))
    _same_bundle(ours, upstream.bundle.to_json(), manifest)
    signature = tmp_path / "model.sig"
    signature.write_text(ours)
    config: Any = verifying.Config()  # type: ignore[no-untyped-call]
    config.use_certificate_verifier(certificate_chain=[pki.root])
    config.verify(path, signature)


@pytest.mark.parametrize("bits", ["secp384r1", "secp521r1"])
def test_other_curves_sign_with_their_hash(tmp_path: Path, bits: str) -> None:
    """model-signing accepts P-384 and P-521 keys, with SHA-384 and SHA-512."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from model_signing import verifying

    path, _ = _file(tmp_path)
    key = ec.generate_private_key(ec.SECP384R1() if bits == "secp384r1" else ec.SECP521R1())
    public = tmp_path / "key.pub"
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    signature = tmp_path / "model.sig"
    signature.write_text(KeySigner(key).sign_file(path))
    config: Any = verifying.Config()  # type: ignore[no-untyped-call]
    config.use_elliptic_key_verifier(public_key=public)
    config.verify(path, signature)
    assert new_key().curve.name == "secp256r1"  # the default the other tests use


def test_key_signing_imports_no_model_signing(tmp_path: Path) -> None:
    """Hashing a plain-file model and signing it in key mode need neither model-signing nor
    sigstore, requests or protobuf's JSON (their import is ~0.3 s of a ~0.8 s ``sign``)."""
    path, _ = _file(tmp_path)
    private, _ = write_key_pair(tmp_path)
    code = f"""
import sys
from pathlib import Path
from mlops_ci.signing.keysign import KeySigner
from mlops_ci.signing.material import KeySource, load_private_key
key = load_private_key(KeySource(path=Path({str(private)!r})), {{}})
KeySigner(key).sign_file(Path({str(path)!r}))
print(sorted(m for m in sys.modules if m.split(".")[0] in
    ("model_signing", "sigstore", "sigstore_models", "requests", "in_toto_attestation")))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
