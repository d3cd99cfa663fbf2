"""Acceptance 2: signatures interoperate with the upstream ``model_signing`` command, both ways."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.conftest import CliResult
from tests.pki import make_pki, write_key_pair
from tests.test_signing_modes import flip_byte, make_model

Cli = Callable[..., CliResult]
UPSTREAM = str(Path(sys.executable).parent / "model_signing")


def upstream(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([UPSTREAM, *args], cwd=cwd, capture_output=True, text=True, check=False)


def test_mlops_ci_key_signature_verifies_upstream(tmp_path: Path, cli: Cli) -> None:
    make_model(tmp_path)
    private, public = write_key_pair(tmp_path)
    assert cli("sign", "model", "--key", str(private), cwd=tmp_path).exit_code == 0
    args = ["verify", "key", "model", "--signature", "model.sig", "--public_key", str(public)]
    ok = upstream(*args, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "Verification succeeded" in ok.stdout
    flip_byte(tmp_path / "model" / "weights.bin")
    assert upstream(*args, cwd=tmp_path).returncode == 1


def test_upstream_key_signature_verifies_with_mlops_ci(tmp_path: Path, cli: Cli) -> None:
    make_model(tmp_path)
    private, public = write_key_pair(tmp_path)
    args = ["sign", "key", "model", "--signature", "model.sig", "--private_key", str(private)]
    signed = upstream(*args, cwd=tmp_path)
    assert signed.returncode == 0, signed.stderr
    ok = cli("verify", "model", "--public-key", str(public), cwd=tmp_path)
    assert ok.exit_code == 0, ok.stderr
    (tmp_path / "model" / "new.bin").write_bytes(b"x")
    bad = cli("verify", "model", "--public-key", str(public), cwd=tmp_path)
    assert bad.exit_code == 1
    assert "added: new.bin" in bad.stderr


def test_upstream_signature_inside_the_model_directory(tmp_path: Path, cli: Cli) -> None:
    """Upstream records the signature it writes inside the model as an ignored path."""
    model = make_model(tmp_path)
    private, public = write_key_pair(tmp_path)
    args = ["sign", "key", "model", "--signature", "model/model.sig", "--private_key", str(private)]
    assert upstream(*args, cwd=tmp_path).returncode == 0
    signature = str(model / "model.sig")
    ok = cli("verify", "model", "--signature", signature, "--public-key", str(public), cwd=tmp_path)
    assert ok.exit_code == 0, ok.stderr


def test_certificate_signatures_interoperate(tmp_path: Path, cli: Cli) -> None:
    make_model(tmp_path)
    pki = make_pki(tmp_path / "pki")
    args = ["--mode", "certificate", "--key", str(pki.key), "--cert", str(pki.cert)]
    assert cli("sign", "model", *args, "--chain", str(pki.chain), cwd=tmp_path).exit_code == 0
    verify = ["verify", "certificate", "model", "--signature", "model.sig"]
    ok = upstream(*verify, "--certificate_chain", str(pki.root), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
