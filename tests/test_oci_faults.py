"""Registry faults and credentials (issue 17, acceptance 5): HTTP 500, 401, connection refused and
a blob transfer cut mid-way each give one line on stderr naming what failed, exit 1, no
credential in the output and no file in ``--to DIR``. Real registries, real proxies."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import CliResult
from tests.oci_models import signed_repo
from tests.oci_registry import (
    BEARER_TOKEN,
    Registry,
    bearer_proxy,
    fault_proxy,
    free_port,
    start_registry,
    write_htpasswd,
)

Cli = Callable[..., CliResult]
USER, PASSWORD = "pusher", "correct-horse-battery-staple"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with start_registry(tmp_path_factory.mktemp("registry")) as running:
        yield running


@pytest.fixture(scope="module")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    directory = tmp_path_factory.mktemp("auth-registry")
    htpasswd = write_htpasswd(directory / "htpasswd", USER, PASSWORD)
    with start_registry(directory, htpasswd=htpasswd) as running:
        yield running


def _one_line_error(result: CliResult, *needles: str) -> None:
    assert result.exit_code == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def _no_scratch(parent: Path, name: str = "out") -> None:
    assert not (parent / name).exists()
    assert not [p for p in parent.iterdir() if p.name.startswith(f".{name}.")]


def test_connection_refused(cli: Cli, tmp_path: Path) -> None:
    repo = signed_repo(tmp_path / "repo", cli)
    closed = f"127.0.0.1:{free_port()}"
    pushed = cli("push", "m", "--to", f"oci://{closed}/models/m:v1", cwd=repo)
    _one_line_error(pushed, "connection refused", closed, "uploading")
    digest = "sha256:" + "0" * 64
    pulled = cli("pull", f"oci://{closed}/models/m@{digest}", "--to", str(tmp_path / "out"))
    _one_line_error(pulled, "connection refused")
    _no_scratch(tmp_path)


def test_server_errors(registry: Registry, cli: Cli, tmp_path: Path) -> None:
    repo = signed_repo(tmp_path / "repo", cli)
    with fault_proxy(registry.host) as proxy:
        good = cli("push", "m", "--to", f"oci://{proxy.host}/models/faults:v1", cwd=repo)
        digest = good.stdout.rsplit("digest: ", 1)[1].strip()
        proxy.fault = "500"
        pushed = cli("push", "m", "--to", f"oci://{proxy.host}/models/faults:v2", cwd=repo)
        _one_line_error(pushed, "HTTP 500", proxy.host)
        pulled = cli(
            "pull", f"oci://{proxy.host}/models/faults@{digest}", "--to", str(tmp_path / "out")
        )
        _one_line_error(pulled, "HTTP 500")
        verified = cli("verify", f"oci://{proxy.host}/models/faults@{digest}", cwd=repo)
        _one_line_error(verified, "HTTP 500")
    _no_scratch(tmp_path)


def test_blob_upload_cut_mid_way(registry: Registry, cli: Cli, tmp_path: Path) -> None:
    repo = signed_repo(tmp_path / "repo", cli)
    with fault_proxy(registry.host) as proxy:
        proxy.fault = "cut-upload"
        pushed = cli("push", "m", "--to", f"oci://{proxy.host}/models/cut-up:v1", cwd=repo)
        _one_line_error(pushed, "uploading", "closed the connection")
    # Nothing under the tag: the manifest is stored only after every blob is in.
    listed = cli("pull", f"oci://{registry.host}/models/cut-up:v1", "--to", str(tmp_path / "out"))
    _one_line_error(listed, "HTTP 404")


def test_blob_download_cut_mid_way_leaves_nothing(
    registry: Registry, cli: Cli, tmp_path: Path
) -> None:
    repo = signed_repo(tmp_path / "repo", cli)
    pushed = cli("push", "m", "--to", f"oci://{registry.host}/models/cut-down:v1", cwd=repo)
    digest = pushed.stdout.rsplit("digest: ", 1)[1].strip()
    with fault_proxy(registry.host) as proxy:
        proxy.fault = "cut-download"
        out = tmp_path / "out"
        pulled = cli("pull", f"oci://{proxy.host}/models/cut-down@{digest}", "--to", str(out))
        _one_line_error(pulled, "downloading", "cut off")
        _no_scratch(tmp_path)
        out.mkdir()  # an empty destination stays empty
        again = cli("pull", f"oci://{proxy.host}/models/cut-down@{digest}", "--to", str(out))
        _one_line_error(again, "cut off")
        assert list(out.iterdir()) == []


def test_basic_auth_registry(
    auth_registry: Registry, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = signed_repo(tmp_path / "repo", cli)
    target = f"oci://{auth_registry.host}/models/private:v1"
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))
    anonymous = cli("push", "m", "--to", target, cwd=repo)
    _one_line_error(anonymous, "requires credentials", "MLOPS_CI_REGISTRY_USERNAME")

    monkeypatch.setenv("MLOPS_CI_REGISTRY_USERNAME", USER)
    monkeypatch.setenv("MLOPS_CI_REGISTRY_PASSWORD", "wrong-password-123")
    wrong = cli("push", "m", "--to", target, cwd=repo)
    _one_line_error(wrong, "refused the credentials", "HTTP 401")
    assert "wrong-password-123" not in wrong.stdout + wrong.stderr
    encoded = base64.b64encode(f"{USER}:wrong-password-123".encode()).decode()
    assert encoded not in wrong.stdout + wrong.stderr

    monkeypatch.setenv("MLOPS_CI_REGISTRY_PASSWORD", PASSWORD)
    pushed = cli("push", "m", "--to", target, cwd=repo)
    assert pushed.exit_code == 0, pushed.stderr
    assert PASSWORD not in pushed.stdout + pushed.stderr
    digest = pushed.stdout.rsplit("digest: ", 1)[1].strip()

    # docker's config.json, as `docker login` writes it, through DOCKER_CONFIG.
    monkeypatch.delenv("MLOPS_CI_REGISTRY_USERNAME")
    monkeypatch.delenv("MLOPS_CI_REGISTRY_PASSWORD")
    docker = tmp_path / "docker"
    docker.mkdir()
    login = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    (docker / "config.json").write_text(
        json.dumps({"auths": {auth_registry.host: {"auth": login}}})
    )
    monkeypatch.setenv("DOCKER_CONFIG", str(docker))
    verified = cli("verify", f"oci://{auth_registry.host}/models/private@{digest}", cwd=repo)
    assert verified.exit_code == 0, verified.stderr
    assert PASSWORD not in verified.stdout + verified.stderr


def test_half_set_credentials_are_bad_input(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = signed_repo(tmp_path / "repo", cli)
    monkeypatch.setenv("MLOPS_CI_REGISTRY_USERNAME", USER)
    result = cli("push", "m", "--to", f"oci://127.0.0.1:{free_port()}/models/m", cwd=repo)
    assert result.exit_code == 2
    assert "set both MLOPS_CI_REGISTRY_USERNAME and MLOPS_CI_REGISTRY_PASSWORD" in result.stderr


def test_bearer_token_registry(
    registry: Registry, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The token exchange of Docker Hub, GHCR or Harbor (oras-py's TokenAuth answers it)."""
    repo = signed_repo(tmp_path / "repo", cli)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))
    with bearer_proxy(registry.host, USER, PASSWORD) as proxy:
        target = f"oci://{proxy.host}/models/bearer:v1"
        anonymous = cli("push", "m", "--to", target, cwd=repo)
        _one_line_error(anonymous, "requires credentials")
        monkeypatch.setenv("MLOPS_CI_REGISTRY_USERNAME", USER)
        monkeypatch.setenv("MLOPS_CI_REGISTRY_PASSWORD", "wrong-password-123")
        wrong = cli("push", "m", "--to", target, cwd=repo)
        _one_line_error(wrong, "refused the credentials")
        monkeypatch.setenv("MLOPS_CI_REGISTRY_PASSWORD", PASSWORD)
        pushed = cli("push", "m", "--to", target, cwd=repo)
        assert pushed.exit_code == 0, pushed.stderr
        digest = pushed.stdout.rsplit("digest: ", 1)[1].strip()
        verified = cli("verify", f"oci://{proxy.host}/models/bearer@{digest}", cwd=repo)
        assert verified.exit_code == 0, verified.stderr
        for result in (anonymous, wrong, pushed, verified):
            text = result.stdout + result.stderr
            assert (
                BEARER_TOKEN not in text and PASSWORD not in text and "wrong-password" not in text
            )
        assert proxy.hits["token"] == 2  # one token per command, not one per request


@pytest.mark.parametrize("key", ["credHelpers", "credsStore"])
def test_docker_credential_helper(
    auth_registry: Registry,
    cli: Cli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    key: str,
) -> None:
    """Docker Desktop and the cloud registries keep no password in config.json: a credential
    helper (``docker-credential-NAME get``, the server URL on stdin, JSON on stdout) has it."""
    repo = signed_repo(tmp_path / "repo", cli)
    helper_bin = tmp_path / "bin"
    helper_bin.mkdir()
    asked = tmp_path / "asked.txt"
    helper = helper_bin / "docker-credential-mlopstest"
    helper.write_text(
        "#!/bin/sh\n"
        f'[ "$1" = get ] || exit 1\ncat >> "{asked}"\n'
        f"printf '%s' '{json.dumps({'Username': USER, 'Secret': PASSWORD})}'\n"
    )
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{helper_bin}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("MLOPS_CI_REGISTRY_USERNAME", raising=False)
    monkeypatch.delenv("MLOPS_CI_REGISTRY_PASSWORD", raising=False)
    docker = tmp_path / "docker"
    docker.mkdir()
    config = (
        {"credHelpers": {auth_registry.host: "mlopstest"}}
        if key == "credHelpers"
        else {"credsStore": "mlopstest"}
    )
    (docker / "config.json").write_text(json.dumps(config))
    monkeypatch.setenv("DOCKER_CONFIG", str(docker))
    pushed = cli("push", "m", "--to", f"oci://{auth_registry.host}/models/helper:v1", cwd=repo)
    assert pushed.exit_code == 0, pushed.stdout + pushed.stderr
    assert PASSWORD not in pushed.stdout + pushed.stderr
    assert auth_registry.host in asked.read_text()
