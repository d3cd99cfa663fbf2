"""Acceptance 5: key material, passphrases and OIDC tokens never appear in any output.

A marker is planted as the key's passphrase, inside the key's environment variable, inside a key
file, and inside an OIDC token; every stdout, stderr, log record, exception message and file the
runs leave behind is searched for it (and for the PEM lines of the key)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from mlops_ci.signing.errors import SigningError, describe_exception, redact
from mlops_ci.signing.material import KeySource, load_private_key
from tests.conftest import CliResult
from tests.pki import new_key, private_pem, public_pem
from tests.sigstore_standin import oidc_token, refuse_certificates, write_trust_config

Cli = Callable[..., CliResult]
MARKER = "MARKER-7f3a9c-do-not-leak-0b1e"
CONFIG = """\
version: 1
models:
  - name: clf
    path: models/clf
signing:
  public_key: keys/signing.pub
  trust_config: trust.json
fail_on: critical
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    model = tmp_path / "models" / "clf"
    model.mkdir(parents=True)
    (model / "model.onnx").write_bytes(b"\x08\x07weights")
    (tmp_path / "mlops-ci.yaml").write_text(CONFIG)
    return tmp_path


def secret_pieces(*secrets: str | bytes) -> list[str]:
    """Each secret, and each non-trivial line of it (PEM bodies leak line by line)."""
    pieces = []
    for secret in secrets:
        text = secret.decode() if isinstance(secret, bytes) else secret
        pieces.append(text)
        pieces += [
            line for line in text.splitlines() if len(line) > 16 and not line.startswith("-----")
        ]
    return pieces


def assert_clean(texts: Iterable[str], files_under: Path, secrets: list[str]) -> None:
    blobs = list(texts)
    for path in files_under.rglob("*"):
        if path.is_file():
            blobs.append(path.read_bytes().decode("utf-8", "replace"))
    for blob in blobs:
        for secret in secrets:
            assert secret not in blob


def test_key_from_environment_with_passphrase_never_leaks(
    repo: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    key = new_key()
    encrypted = private_pem(key, MARKER.encode())
    (repo / "keys").mkdir()
    (repo / "keys" / "signing.pub").write_bytes(public_pem(key))
    monkeypatch.setenv("MLOPS_CI_SIGNING_KEY", encrypted.decode())
    monkeypatch.setenv("MLOPS_CI_SIGNING_KEY_PASSWORD", MARKER)
    caplog.set_level(logging.DEBUG)
    outputs = [
        cli("sign", "--mode", "key", cwd=repo),
        cli(
            "check",
            "--format",
            "json=reports/mlops-ci.json",
            "--format",
            "sarif=r.sarif",
            "--format",
            "markdown=r.md",
            "--format",
            "junit=r.xml",
            cwd=repo,
        ),
        cli("sign", "--mode", "key", cwd=repo),
        cli("verify", cwd=repo),
    ]
    assert [r.exit_code for r in outputs] == [0, 0, 0, 0], [r.stderr for r in outputs]
    assert (repo / "models" / "clf.attestation.sigstore.json").is_file()
    secrets = secret_pieces(MARKER, encrypted, private_pem(key))
    texts = [r.stdout + r.stderr for r in outputs] + [caplog.text]
    assert_clean(texts, repo, secrets)


def test_wrong_passphrase(repo: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    encrypted = private_pem(new_key(), b"the real passphrase")
    monkeypatch.setenv("MLOPS_CI_SIGNING_KEY", encrypted.decode())
    monkeypatch.setenv("MLOPS_CI_SIGNING_KEY_PASSWORD", MARKER)
    result = cli("sign", "--mode", "key", cwd=repo)
    assert result.exit_code == 2
    assert "the private key $MLOPS_CI_SIGNING_KEY cannot be loaded" in result.stderr
    assert_clean([result.stdout + result.stderr], repo, secret_pieces(MARKER, encrypted))


def test_missing_passphrase_names_the_variable(
    repo: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    encrypted = private_pem(new_key(), MARKER.encode())
    monkeypatch.setenv("MLOPS_CI_SIGNING_KEY", encrypted.decode())
    result = cli("sign", "--mode", "key", cwd=repo)
    assert result.exit_code == 2
    assert "set MLOPS_CI_SIGNING_KEY_PASSWORD to its passphrase" in result.stderr
    assert_clean([result.stdout + result.stderr], repo, secret_pieces(MARKER, encrypted))


@pytest.mark.parametrize("where", ["environment", "file"])
def test_garbage_key_contents_are_not_quoted(
    repo: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    garbage = f"-----BEGIN PRIVATE KEY-----\n{MARKER}{MARKER}\n-----END PRIVATE KEY-----\n"
    args = ["sign", "--mode", "key"]
    if where == "environment":
        monkeypatch.setenv("MLOPS_CI_SIGNING_KEY", garbage)
    else:
        (repo / "bad.pem").write_text(garbage)
        args += ["--key", "bad.pem"]
    result = cli(*args, cwd=repo)
    assert result.exit_code == 2
    assert "cannot be loaded" in result.stderr
    assert MARKER not in result.stdout + result.stderr


def test_key_loading_exceptions_carry_no_secret() -> None:
    environ = {"K": f"-----BEGIN EC PRIVATE KEY-----\n{MARKER}\n-----END EC PRIVATE KEY-----"}
    with pytest.raises(SigningError) as error:
        load_private_key(KeySource(env_name="K", password_env="P"), environ)  # noqa: S106
    for text in (str(error.value), repr(error.value), error.value.message):
        assert MARKER not in text
    assert error.value.__cause__ is None
    assert error.value.__suppress_context__


def test_oidc_token_never_leaks(
    tmp_path: Path,
    httpserver: HTTPServer,
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    (tmp_path / "m.onnx").write_bytes(b"m")
    (tmp_path / "mlops-ci.yaml").write_text(
        "version: 1\nmodels: [{name: m, path: m.onnx}]\nsigning: {trust_config: trust.json}\n"
    )
    write_trust_config(tmp_path / "trust.json", httpserver)
    token = oidc_token(MARKER)
    monkeypatch.setenv("GITLAB_CI", "true")
    monkeypatch.setenv("SIGSTORE_ID_TOKEN", token)
    refuse_certificates(httpserver)
    caplog.set_level(logging.DEBUG)
    result = cli("sign", cwd=tmp_path)
    assert result.exit_code == 2
    secrets = [token, *token.split(".")[1:]]
    assert_clean([result.stdout + result.stderr, caplog.text], tmp_path, secrets)


def test_library_messages_are_redacted() -> None:
    token = oidc_token(MARKER)
    error = RuntimeError(f"server said: bad bearer {token}")
    assert token not in describe_exception(error, [token])
    assert "[redacted]" in describe_exception(error, [token])
    pem = private_pem(new_key()).decode()
    line = pem.splitlines()[1]
    assert line not in redact(f"could not parse {line}", [pem])


def test_key_material_given_as_a_path_is_not_echoed(
    repo: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    pem = private_pem(new_key()).decode().replace("PRIVATE KEY", f"PRIVATE KEY {MARKER}")
    monkeypatch.setenv("MLOPS_CI_SIGNING_KEY_FILE", pem)
    result = cli("sign", "--mode", "key", cwd=repo)
    assert result.exit_code == 2
    assert "holds key material instead of a path" in result.stderr
    assert_clean([result.stdout + result.stderr], repo, secret_pieces(MARKER, pem))
