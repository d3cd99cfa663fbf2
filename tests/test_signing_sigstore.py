"""Acceptance 3: real Sigstore bundles verify offline under an identity policy, and fail with the
wrong identity or a changed file. Covers a staging message signature (sigstore-python's asset,
also in ../shared/data) and a production OMS model signature (model-transparency's asset)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from mlops_ci.signing import VerificationError, VerificationPolicy, verify_file, verify_model
from mlops_ci.signing.policy import GitHubPolicy, load_trust_config, trust_config_json
from tests.conftest import TEST_DATA, CliResult

Cli = Callable[..., CliResult]
STAGING_IDENTITY = ("william@yossarian.net", "https://github.com/login/oauth")
OMS_IDENTITY = ("stefanb@us.ibm.com", "https://sigstore.verify.ibm.com/oauth2")


def copy_bundle(source: Path, target: Path) -> Path:
    """Copy ``bundle_v3.txt`` and its bundle into ``target``; returns the signed file."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("bundle_v3.txt", "bundle_v3.txt.sigstore.json"):
        shutil.copy(source / name, target / name)
    return target / "bundle_v3.txt"


@pytest.fixture(params=["tests/data", "shared/data"])
def staging_file(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """The staging-signed file and its bundle, from the repository copy and from ../shared."""
    if request.param == "shared/data":
        source = request.getfixturevalue("shared_data") / "sigstore"
    else:
        source = TEST_DATA / "sigstore"
    return copy_bundle(source, tmp_path / "files")


def staging_policy(**changes: str) -> VerificationPolicy:
    identity, issuer = STAGING_IDENTITY
    return replace(VerificationPolicy(staging=True, identity=identity, issuer=issuer), **changes)


def test_staging_bundle_verifies_offline(staging_file: Path) -> None:
    verified = verify_file(
        staging_file, staging_file.with_name("bundle_v3.txt.sigstore.json"), staging_policy()
    )
    assert verified.mode == "sigstore"
    assert verified.identity == "william@yossarian.net"
    assert verified.digest.startswith("sha256:")


def test_wrong_identity_fails_naming_it(staging_file: Path) -> None:
    bundle = staging_file.with_name("bundle_v3.txt.sigstore.json")
    with pytest.raises(VerificationError) as failure:
        verify_file(staging_file, bundle, staging_policy(identity="mallory@example.com"))
    assert "not signed by mallory@example.com" in failure.value.reason
    assert "william@yossarian.net" in failure.value.reason


def test_wrong_issuer_fails(staging_file: Path) -> None:
    bundle = staging_file.with_name("bundle_v3.txt.sigstore.json")
    with pytest.raises(VerificationError, match="issuer"):
        verify_file(staging_file, bundle, staging_policy(issuer="https://accounts.google.com"))


def test_changed_file_fails(staging_file: Path) -> None:
    staging_file.write_bytes(staging_file.read_bytes().replace(b"DO NOT", b"DO"))
    bundle = staging_file.with_name("bundle_v3.txt.sigstore.json")
    with pytest.raises(VerificationError, match="signature does not verify"):
        verify_file(staging_file, bundle, staging_policy())


def test_production_root_does_not_trust_staging(staging_file: Path) -> None:
    identity, issuer = STAGING_IDENTITY
    bundle = staging_file.with_name("bundle_v3.txt.sigstore.json")
    with pytest.raises(VerificationError):
        verify_file(staging_file, bundle, VerificationPolicy(identity=identity, issuer=issuer))


def test_cli_verify_with_trust_config(staging_file: Path, cli: Cli, tmp_path: Path) -> None:
    trust = tmp_path / "staging-trust.json"
    trust.write_text(trust_config_json(load_trust_config(None, staging=True, offline=True)))
    identity, issuer = STAGING_IDENTITY
    args = ["verify", "bundle_v3.txt", "--identity", identity, "--issuer", issuer]
    ok = cli(*args, "--trust-config", str(trust), cwd=staging_file.parent)
    assert ok.exit_code == 0, ok.stderr
    assert "verified  signature    bundle_v3.txt (sigstore mode, signer william@" in ok.stdout
    wrong = ["verify", "bundle_v3.txt", "--identity", "eve@example.com", "--issuer", issuer]
    bad = cli(*wrong, "--trust-config", str(trust), cwd=staging_file.parent)
    assert bad.exit_code == 1
    assert "not signed by eve@example.com" in bad.stderr


def test_cli_staging_from_environment(
    staging_file: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_CI_SIGNING_STAGING", "true")
    monkeypatch.setenv("MLOPS_CI_SIGNING_IDENTITY", STAGING_IDENTITY[0])
    monkeypatch.setenv("MLOPS_CI_SIGNING_ISSUER", STAGING_IDENTITY[1])
    ok = cli("verify", "bundle_v3.txt", cwd=staging_file.parent)
    assert ok.exit_code == 0, ok.stderr


def test_cli_keyless_needs_an_identity(staging_file: Path, cli: Cli) -> None:
    result = cli("verify", "bundle_v3.txt", cwd=staging_file.parent)
    assert result.exit_code == 2
    assert "--identity ID --issuer URL" in result.stderr


def test_bad_trust_config_is_an_input_error(staging_file: Path, cli: Cli) -> None:
    (staging_file.parent / "trust.json").write_text("{}")
    identity, issuer = STAGING_IDENTITY
    args = ["verify", "bundle_v3.txt", "--identity", identity, "--issuer", issuer]
    result = cli(*args, "--trust-config", "trust.json", cwd=staging_file.parent)
    assert result.exit_code == 2
    assert "trust.json: cannot read the sigstore trust config" in result.stderr


@pytest.fixture
def oms_model(tmp_path: Path) -> tuple[Path, Path]:
    """The production-signed OMS model: its two files, an ignored file, and its signature."""
    model = tmp_path / "v1.1.0-sigstore"
    model.mkdir()
    for name in ("signme-1", "signme-2"):
        (model / name).write_text(name)
    (model / "ignore-me").write_text("the signature lists this path as ignored\n")
    signature = tmp_path / "model.sig"
    shutil.copy(TEST_DATA / "sigstore" / "oms-v1.1.0-production.sig", signature)
    return model, signature


def oms_policy(**changes: object) -> VerificationPolicy:
    identity, issuer = OMS_IDENTITY
    return replace(VerificationPolicy(identity=identity, issuer=issuer), **changes)  # type: ignore[arg-type]


def test_production_oms_model_verifies_offline(oms_model: tuple[Path, Path]) -> None:
    model, signature = oms_model
    verified = verify_model(model, signature, oms_policy())
    assert verified.kind == "model"
    assert verified.mode == "sigstore"
    assert verified.digest == (
        "sha256:61d4849d9d90076d6215f4d525f13d6574af8e3f67aef3e6f36fc40a14fdd226"
    )


def test_production_oms_model_changed_file(oms_model: tuple[Path, Path]) -> None:
    model, signature = oms_model
    (model / "signme-2").write_text("signme-2 (modified)")
    with pytest.raises(VerificationError, match="changed: signme-2"):
        verify_model(model, signature, oms_policy())


def test_production_oms_model_wrong_identity(oms_model: tuple[Path, Path]) -> None:
    model, signature = oms_model
    with pytest.raises(VerificationError, match=r"not signed by someone@us\.ibm\.com"):
        verify_model(model, signature, oms_policy(identity="someone@us.ibm.com"))


def test_github_claims_are_enforced(oms_model: tuple[Path, Path]) -> None:
    """A certificate without GitHub Actions claims fails a policy that requires them."""
    model, signature = oms_model
    policy = oms_policy(github=GitHubPolicy(repository="acme/models"))
    with pytest.raises(VerificationError, match="GitHubWorkflowRepository"):
        verify_model(model, signature, policy)


def test_model_digest_is_the_oms_root(oms_model: tuple[Path, Path]) -> None:
    from mlops_ci.signing import model_digest

    model, _ = oms_model
    assert (
        model_digest(model, [Path("ignore-me")])
        == verify_model(model, oms_model[1], oms_policy()).digest
    )


def test_certificate_identity_of_real_fulcio_certificates() -> None:
    from sigstore.models import Bundle

    from mlops_ci.signing.keyless import certificate_identity

    staging = Bundle.from_json((TEST_DATA / "sigstore" / "bundle_v3.txt.sigstore.json").read_text())
    assert certificate_identity(staging.signing_certificate) == STAGING_IDENTITY
    production = Bundle.from_json(
        (TEST_DATA / "sigstore" / "oms-v1.1.0-production.sig").read_text()
    )
    assert certificate_identity(production.signing_certificate) == OMS_IDENTITY
