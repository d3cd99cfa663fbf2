"""Acceptance 1: key and certificate modes sign then verify; every tampering fails closed (exit 1)
with a reason naming the file or the signer."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult
from tests.pki import make_pki, write_key_pair

Cli = Callable[..., CliResult]
UPSTREAM = str(Path(sys.executable).parent / "model_signing")


def make_model(root: Path) -> Path:
    """A model directory with nested files."""
    model = root / "model"
    (model / "tokenizer").mkdir(parents=True)
    (model / "weights.bin").write_bytes(bytes(range(256)) * 64)
    (model / "config.json").write_text('{"layers": 2}\n')
    (model / "tokenizer" / "vocab.txt").write_text("a\nb\nc\n")
    return model


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.fixture
def keyed(tmp_path: Path, cli: Cli) -> tuple[Path, Path, Path]:
    """A model signed in key mode: (model, private key, public key)."""
    model = make_model(tmp_path)
    private, public = write_key_pair(tmp_path)
    signed = cli("sign", "model", "--mode", "key", "--key", str(private), cwd=tmp_path)
    assert signed.exit_code == 0, signed.stderr
    assert (tmp_path / "model.sig").is_file()
    return model, private, public


def test_key_mode_sign_then_verify(keyed: tuple[Path, Path, Path], cli: Cli) -> None:
    model, _, public = keyed
    result = cli("verify", "model", "--public-key", str(public), cwd=model.parent)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("verified  ")
    assert "key mode" in result.stdout
    assert "sha256:" in result.stdout


@pytest.mark.parametrize("name", ["weights.bin", "config.json", "tokenizer/vocab.txt"])
def test_key_mode_flipped_byte_names_the_file(
    keyed: tuple[Path, Path, Path], cli: Cli, name: str
) -> None:
    model, _, public = keyed
    flip_byte(model / name)
    result = cli("verify", "model", "--public-key", str(public), cwd=model.parent)
    assert result.exit_code == 1
    assert f"changed: {name}" in result.stderr


def test_key_mode_added_file(keyed: tuple[Path, Path, Path], cli: Cli) -> None:
    model, _, public = keyed
    (model / "tokenizer" / "extra.txt").write_text("surprise")
    result = cli("verify", "model", "--public-key", str(public), cwd=model.parent)
    assert result.exit_code == 1
    assert "added: tokenizer/extra.txt" in result.stderr


def test_key_mode_removed_file(keyed: tuple[Path, Path, Path], cli: Cli) -> None:
    model, _, public = keyed
    (model / "config.json").unlink()
    result = cli("verify", "model", "--public-key", str(public), cwd=model.parent)
    assert result.exit_code == 1
    assert "removed: config.json" in result.stderr


def test_key_mode_wrong_key(keyed: tuple[Path, Path, Path], cli: Cli, tmp_path: Path) -> None:
    model, _, _ = keyed
    _, other = write_key_pair(tmp_path, "other")
    result = cli("verify", "model", "--public-key", str(other), cwd=model.parent)
    assert result.exit_code == 1
    assert f"not by the public key {other}" in result.stderr


def test_key_mode_forged_signature_bytes(keyed: tuple[Path, Path, Path], cli: Cli) -> None:
    model, _, public = keyed
    signature = model.parent / "model.sig"
    text = signature.read_text()
    start = text.index('"sig":"') + len('"sig":"')
    forged = text[:start] + ("A" if text[start] != "A" else "B") + text[start + 1 :]
    signature.write_text(forged)
    result = cli("verify", "model", "--public-key", str(public), cwd=model.parent)
    assert result.exit_code == 1
    assert "model: signature does not verify" in result.stderr


def test_missing_signature_fails_closed(tmp_path: Path, cli: Cli) -> None:
    make_model(tmp_path)
    _, public = write_key_pair(tmp_path)
    result = cli("verify", "model", "--public-key", str(public), cwd=tmp_path)
    assert result.exit_code == 1
    assert "no signature" in result.stderr
    assert "model.sig does not exist" in result.stderr


def test_single_file_model_with_explicit_signature(tmp_path: Path, cli: Cli) -> None:
    model = tmp_path / "model.onnx"
    model.write_bytes(b"\x08\x07" * 1000)
    private, public = write_key_pair(tmp_path)
    signature = tmp_path / "sigs" / "m.sig"
    signed = cli("sign", str(model), "--key", str(private), "--signature", str(signature))
    assert signed.exit_code == 0, signed.stderr
    ok = cli("verify", str(model), "--public-key", str(public), "--signature", str(signature))
    assert ok.exit_code == 0, ok.stderr
    flip_byte(model)
    bad = cli("verify", str(model), "--public-key", str(public), "--signature", str(signature))
    assert bad.exit_code == 1
    assert "the file's content changed" in bad.stderr


@pytest.fixture
def certified(tmp_path: Path, cli: Cli) -> tuple[Path, Path]:
    """A model signed in certificate mode: (model, root CA file)."""
    model = make_model(tmp_path)
    pki = make_pki(tmp_path / "pki", "acme")
    args = ["--mode", "certificate", "--key", str(pki.key), "--cert", str(pki.cert)]
    signed = cli("sign", "model", *args, "--chain", str(pki.chain), cwd=tmp_path)
    assert signed.exit_code == 0, signed.stderr
    assert "Signed in certificate mode by CN=acme signer" in signed.stdout
    return model, pki.root


def test_certificate_mode_sign_then_verify(certified: tuple[Path, Path], cli: Cli) -> None:
    model, root = certified
    result = cli("verify", "model", "--ca", str(root), cwd=model.parent)
    assert result.exit_code == 0, result.stderr
    assert "certificate mode, signer CN=acme signer,O=mlops-ci tests" in result.stdout


def test_certificate_mode_flipped_byte(certified: tuple[Path, Path], cli: Cli) -> None:
    model, root = certified
    flip_byte(model / "weights.bin")
    result = cli("verify", "model", "--ca", str(root), cwd=model.parent)
    assert result.exit_code == 1
    assert "changed: weights.bin" in result.stderr


def test_certificate_mode_foreign_chain(
    certified: tuple[Path, Path], cli: Cli, tmp_path: Path
) -> None:
    model, _ = certified
    foreign = make_pki(tmp_path / "foreign", "other")
    result = cli("verify", "model", "--ca", str(foreign.root), cwd=model.parent)
    assert result.exit_code == 1
    assert "certificate 'CN=acme signer,O=mlops-ci tests' does not chain" in result.stderr


def test_certificate_mode_requires_ca(certified: tuple[Path, Path], cli: Cli) -> None:
    model, _ = certified
    result = cli("verify", "model", cwd=model.parent)
    assert result.exit_code == 2
    assert "--ca PATH" in result.stderr


def test_mode_pinned_by_the_verifier(certified: tuple[Path, Path], cli: Cli) -> None:
    model, root = certified
    result = cli("verify", "model", "--mode", "key", "--ca", str(root), cwd=model.parent)
    assert result.exit_code == 1
    assert "signed in certificate mode, but the policy requires key mode" in result.stderr


def test_expired_chain_is_refused_when_signing(tmp_path: Path, cli: Cli) -> None:
    make_model(tmp_path)
    pki = make_pki(tmp_path / "pki", "old", leaf_expired=True)
    args = ["--mode", "certificate", "--key", str(pki.key), "--cert", str(pki.cert)]
    result = cli("sign", "model", *args, "--chain", str(pki.chain), cwd=tmp_path)
    assert result.exit_code == 2
    assert "certificate 'CN=old signer,O=mlops-ci tests' is not valid now" in result.stderr
    assert not (tmp_path / "model.sig").exists()


def test_expired_chain_fails_verification(tmp_path: Path, cli: Cli) -> None:
    """A signature made (here by the upstream tool, which does not check) with a certificate that
    has since expired: without a trusted timestamp it cannot be trusted now."""
    model = make_model(tmp_path)
    pki = make_pki(tmp_path / "pki", "old", leaf_expired=True)
    upstream = [UPSTREAM, "sign", "certificate", str(model), "--signature", "model.sig"]
    upstream += ["--private_key", str(pki.key), "--signing_certificate", str(pki.cert)]
    upstream += ["--certificate_chain", str(pki.chain)]
    subprocess.run(upstream, cwd=tmp_path, check=True, capture_output=True)
    result = cli("verify", "model", "--ca", str(pki.root), cwd=tmp_path)
    assert result.exit_code == 1
    assert "certificate 'CN=old signer,O=mlops-ci tests' expired on" in result.stderr


def test_certificate_must_belong_to_the_key(tmp_path: Path, cli: Cli) -> None:
    make_model(tmp_path)
    pki = make_pki(tmp_path / "pki", "acme")
    private, _ = write_key_pair(tmp_path, "unrelated")
    args = ["--mode", "certificate", "--key", str(private), "--cert", str(pki.cert)]
    result = cli("sign", "model", *args, cwd=tmp_path)
    assert result.exit_code == 2
    assert "does not belong to the private key" in result.stderr


def test_ignore_leaves_a_path_out_of_verification(keyed: tuple[Path, Path, Path], cli: Cli) -> None:
    model, _, public = keyed
    (model / "notes.txt").write_text("added after signing, on purpose")
    args = ["verify", "model", "--public-key", str(public)]
    assert cli(*args, cwd=model.parent).exit_code == 1
    result = cli(*args, "--ignore", "model/notes.txt", cwd=model.parent)
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sign", "model", "--chain", "c.pem"], "--chain goes with --cert"),
        (["sign", "model", "--model", "x"], "give either --model NAME or a PATH, not both"),
        (["sign", "--model", "x"], "unknown model 'x'"),
        (["sign", "model", "--mode", "gpg"], "--mode 'gpg': use one of auto, sigstore, key"),
        (["verify", "model", "--mode", "gpg"], "--mode 'gpg': use one of auto, sigstore, key"),
        (["sign"], "no models configured"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, cli: Cli, args: list[str], message: str) -> None:
    make_model(tmp_path)
    result = cli(*args, cwd=tmp_path)
    assert result.exit_code == 2
    assert message in result.stderr
