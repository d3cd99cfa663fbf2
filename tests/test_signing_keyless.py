"""Acceptance 4: keyless signing, exercised up to the network boundary.

Sigstore's public servers cannot be reached here, so the tests put local stand-ins at the edges:
the CI's OIDC token (GitLab's variable, or GitHub's token endpoint) and a Fulcio that refuses the
certificate request. What they show: the ambient credential is found, mode selection picks
keyless, the token reaches Fulcio as the bearer credential with a certificate request, and the
refusal becomes one secret-free line (exit 2) with nothing written. The real round trip runs in
``.github/workflows/sign-keyless.yml`` against Sigstore staging.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from mlops_ci.signing.keyless import AmbientCredential
from mlops_ci.signing.modes import SigningInputs, choose_mode
from tests.conftest import CliResult
from tests.pki import write_key_pair
from tests.sigstore_standin import (
    oidc_token,
    refuse_certificates,
    serve_github_token,
    write_trust_config,
)

Cli = Callable[..., CliResult]
CONFIG = """\
version: 1
models:
  - name: clf
    path: models/clf.onnx
signing:
  trust_config: trust.json
"""


@pytest.fixture
def repo(tmp_path: Path, httpserver: HTTPServer) -> Path:
    """A repository whose sigstore trust config points every service at the local stand-in."""
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "clf.onnx").write_bytes(b"\x08\x07model")
    (tmp_path / "mlops-ci.yaml").write_text(CONFIG)
    write_trust_config(tmp_path / "trust.json", httpserver)
    return tmp_path


def assert_refused_at_fulcio(result: CliResult, seen: list, token: str, repo: Path) -> None:
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "no signing certificate from Fulcio for ci@example.com" in result.stderr
    assert "401 Client Error" in result.stderr
    assert token not in result.stdout + result.stderr
    assert len(seen) == 1
    assert seen[0].headers["Authorization"] == f"Bearer {token}"
    assert "certificateSigningRequest" in json.loads(seen[0].get_data())
    assert not (repo / "models" / "clf.onnx.sig").exists()


def test_gitlab_token_reaches_fulcio(
    repo: Path, httpserver: HTTPServer, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = oidc_token()
    monkeypatch.setenv("GITLAB_CI", "true")
    monkeypatch.setenv("SIGSTORE_ID_TOKEN", token)
    seen = refuse_certificates(httpserver)
    assert_refused_at_fulcio(cli("sign", "--mode", "sigstore", cwd=repo), seen, token, repo)


def test_github_token_endpoint_then_fulcio_in_auto_mode(
    repo: Path, httpserver: HTTPServer, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = oidc_token()
    monkeypatch.delenv("GITLAB_CI", raising=False)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", serve_github_token(httpserver, token))
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "gh-request-token-abcdefgh")
    private, _ = write_key_pair(repo)  # keyless wins over a configured key in auto mode
    seen = refuse_certificates(httpserver)
    result = cli("sign", "--key", str(private), cwd=repo)
    assert_refused_at_fulcio(result, seen, token, repo)
    assert "gh-request-token-abcdefgh" not in result.stdout + result.stderr


def test_github_without_id_token_permission(
    repo: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = cli("sign", "--mode", "sigstore", cwd=repo)
    assert result.exit_code == 2
    assert "insufficient OIDC token permissions" in result.stderr
    assert "id-token: write" in result.stderr


def test_no_credential_and_no_key_says_what_to_set(repo: Path, cli: Cli) -> None:
    result = cli("sign", cwd=repo)
    assert result.exit_code == 2
    for hint in ("id-token: write", "SIGSTORE_ID_TOKEN", "--key PATH", "allow_unsigned"):
        assert hint in result.stderr


def test_allow_unsigned_skips(repo: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_CI_SIGNING_ALLOW_UNSIGNED", "true")
    result = cli("sign", cwd=repo)
    assert result.exit_code == 0, result.stderr
    assert "Not signed: no signing credential, and signing.allow_unsigned is true" in result.stdout


def test_mode_none_skips(repo: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_CI_SIGNING_MODE", "none")
    result = cli("sign", cwd=repo)
    assert result.exit_code == 0
    assert "signing is disabled" in result.stdout


def test_staging_needs_the_network_and_says_so(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a trust config, keyless signing refreshes Sigstore's TUF root: offline, it stops
    with a clear error instead of signing with something else."""
    (tmp_path / "m.onnx").write_bytes(b"m")
    monkeypatch.setenv("GITLAB_CI", "true")
    monkeypatch.setenv("SIGSTORE_ID_TOKEN", oidc_token())
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # an empty TUF cache
    result = cli("sign", "m.onnx", "--mode", "sigstore", "--staging", cwd=tmp_path)
    assert result.exit_code == 2
    assert "cannot reach Sigstore staging to sign keylessly" in result.stderr


def inputs(**changes: object) -> SigningInputs:
    values: dict[str, object] = {
        "mode": "auto",
        "key": None,
        "certificate": None,
        "chain": (),
        "ca": (),
        "staging": False,
        "trust_config": None,
        "allow_unsigned": False,
    }
    values.update(changes)
    return SigningInputs(**values)  # type: ignore[arg-type]


def test_auto_prefers_keyless_then_certificate_then_key(tmp_path: Path) -> None:
    from mlops_ci.signing.material import KeySource

    key = KeySource(path=tmp_path / "k.pem")
    with_token = lambda: AmbientCredential("tok")  # noqa: E731
    without = lambda: AmbientCredential(None, "none here")  # noqa: E731
    assert choose_mode(inputs(key=key), with_token).mode == "sigstore"
    assert choose_mode(inputs(key=key), without).mode == "key"
    cert = inputs(key=key, certificate=tmp_path / "c.pem")
    assert choose_mode(cert, without).mode == "certificate"
    assert choose_mode(inputs(mode="key", key=key), with_token).mode == "key"


WORKFLOW = Path(__file__).resolve().parent.parent / ".github" / "workflows" / "sign-keyless.yml"
PINNED = {  # DESIGN.md section 8
    "actions/checkout": "08c6903cd8c0fde910a37f88322edcfb5dd907a8",
    "actions/setup-python": "a26af69be951a213d495a4c3e4e4022e16d87065",
    "actions/upload-artifact": "ea165f8d65b6e75b540449e92b4886f43607fa02",
}


def test_keyless_workflow_is_minimal_and_pinned() -> None:
    from ruamel.yaml import YAML

    workflow = YAML(typ="safe").load(WORKFLOW.read_text())
    assert workflow["permissions"] == {}
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    steps = job["steps"]
    for step in steps:
        if "uses" in step:
            action, _, ref = step["uses"].partition("@")
            assert PINNED[action] == ref
        if "run" in step:
            assert "${{" not in step["run"]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["persist-credentials"] is False
    scripts = "\n".join(s.get("run", "") for s in steps)
    assert "mlops-ci sign --mode sigstore --staging" in scripts
    assert "mlops-ci verify" in scripts


def test_keyless_workflow_passes_zizmor_and_schema() -> None:
    import subprocess
    import sys

    bin_dir = Path(sys.executable).parent
    zizmor = subprocess.run(
        [str(bin_dir / "zizmor"), "--offline", "--persona=pedantic", str(WORKFLOW)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert zizmor.returncode == 0, zizmor.stdout + zizmor.stderr
    schema = subprocess.run(
        [
            str(bin_dir / "check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            str(WORKFLOW),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert schema.returncode == 0, schema.stdout + schema.stderr


def test_keyless_run_signs_model_attestation_and_report(
    demo_repo: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Everything on our side of sigstore's ``Signer``: what is handed to it, and what is written.

    The stand-in signer returns a real (unrelated) staging bundle for every request."""
    from contextlib import contextmanager
    from types import SimpleNamespace

    from sigstore.models import Bundle

    from mlops_ci.signing import keyless, model_digest
    from mlops_ci.signing.modes import signing_inputs
    from mlops_ci.signing.release import sign_release
    from mlops_ci.signing.targets import load_signing_config, release_targets
    from tests.conftest import TEST_DATA

    assert cli("check", "--format", "json=reports/mlops-ci.json", cwd=demo_repo).exit_code == 0
    bundle = Bundle.from_json((TEST_DATA / "sigstore" / "bundle_v3.txt.sigstore.json").read_text())
    handed: list[tuple[str, object]] = []

    class StandInSigner:
        def sign_dsse(self, statement: object) -> Bundle:
            handed.append(("dsse", statement._inner))  # type: ignore[attr-defined]
            return bundle

        def sign_artifact(self, data: bytes) -> Bundle:
            handed.append(("artifact", data))
            return bundle

    @contextmanager
    def stand_in(token: str, trust: object):  # type: ignore[no-untyped-def]
        assert token == "ambient-token"  # noqa: S105
        yield keyless.KeylessSigner(
            StandInSigner(),  # type: ignore[arg-type]
            SimpleNamespace(identity="ci", federated_issuer="https://issuer"),  # type: ignore[arg-type]
        )

    monkeypatch.setattr(keyless, "online_trust_config", lambda *a, **k: None)
    monkeypatch.setattr(keyless, "keyless_signer", stand_in)
    loaded = load_signing_config(cwd=demo_repo)
    outcome = sign_release(
        loaded,
        release_targets(loaded),
        signing_inputs(loaded, {}, mode="sigstore", staging=True),
        {},
        detect=lambda: AmbientCredential("ambient-token"),
    )
    assert outcome.mode == "sigstore"
    assert (outcome.identity, outcome.issuer) == (
        "william@yossarian.net",
        "https://github.com/login/oauth",
    )
    # the check run wrote the SBOM too (the sbom check), so it is signed beside the report
    assert [f.role for f in outcome.files] == ["model", "attestation", "sbom", "report"]
    digest = model_digest(demo_repo / "models/fraud-detector/model.onnx").removeprefix("sha256:")
    (
        (kind_model, model_statement),
        (kind_att, attestation),
        (kind_sbom, _),
        (kind_report, report),
    ) = handed
    assert (kind_model, kind_att, kind_sbom, kind_report) == (
        "dsse",
        "dsse",
        "artifact",
        "artifact",
    )
    assert model_statement.predicate_type == "https://model_signing/signature/v1.0"  # type: ignore[attr-defined]
    assert attestation.predicate_type == "https://mlops-ci.dev/attestation/gate-report/v1"  # type: ignore[attr-defined]
    for statement in (model_statement, attestation):
        assert statement.subjects[0].digest.root == {"sha256": digest}  # type: ignore[attr-defined]
    assert report == (demo_repo / "reports/mlops-ci.json").read_bytes()
    written = demo_repo / "models/fraud-detector/model.onnx.sig"
    assert Bundle.from_json(written.read_text()).to_json() == bundle.to_json()
