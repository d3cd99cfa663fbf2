"""Issue 17 acceptance against a real registry (Debian's docker-registry, distribution 2.8.2,
which has no referrers API: the tag-schema fallback), and against a real HTTP server adding the
OCI 1.1 referrers API in front of it. Skipped, saying why, where docker-registry is absent."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import CliResult
from tests.oci_models import CONFIG, signed_repo
from tests.oci_registry import (
    REFERRERS_INDEX,
    Registry,
    put_json,
    referrers_api_proxy,
    registry_json,
    skopeo,
    start_registry,
)
from tests.pki import write_key_pair

Cli = Callable[..., CliResult]
UPSTREAM = str(Path(sys.executable).parent / "model_signing")
MODEL_ARTIFACT_TYPE = "application/vnd.cncf.model.manifest.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with start_registry(tmp_path_factory.mktemp("registry")) as running:
        yield running


def _push(cli: Cli, repo: Path, to: str) -> str:
    pushed = cli("push", "m", "--to", to, cwd=repo)
    assert pushed.exit_code == 0, pushed.stderr
    return pushed.stdout.rsplit("digest: ", 1)[1].strip()


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_push_pull_round_trip_is_byte_identical(
    registry: Registry, cli: Cli, tmp_path: Path
) -> None:
    repo = signed_repo(tmp_path / "repo", cli, sbom=True, attest=True)
    target = f"oci://{registry.host}/models/round-trip:v1"
    pushed = cli("push", "m", "--to", target, cwd=repo)
    assert pushed.exit_code == 0, pushed.stderr
    assert "referrers tag" in pushed.stdout  # distribution 2.8 has no referrers API
    for role in ("signature", "attestation", "sbom"):
        assert f"referrer: {role}" in pushed.stdout
    digest = pushed.stdout.rsplit("digest: ", 1)[1].strip()
    again = cli("push", "m", "--to", target, cwd=repo)
    assert "0 uploaded (0 bytes), 4 already there" in again.stdout, again.stdout
    assert again.stdout.rsplit("digest: ", 1)[1].strip() == digest  # deterministic manifest

    out = tmp_path / "out"
    pulled = cli("pull", f"oci://{registry.host}/models/round-trip@{digest}", "--to", str(out))
    assert pulled.exit_code == 0, pulled.stderr
    assert _files(out / "model") == _files(repo / "model")
    assert (out / "card.md").read_bytes() == (repo / "card.md").read_bytes()
    for name in ("model.sig", "model.attestation.sigstore.json", "m.cdx.json"):
        assert (out / name).read_bytes() == (repo / name).read_bytes(), name
    assert (out / "m.cdx.json.sigstore.json").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]  # no scratch left

    verified = cli("verify", f"oci://{registry.host}/models/round-trip@{digest}", cwd=repo)
    assert verified.exit_code == 0, verified.stderr
    assert [line.split()[1] for line in verified.stdout.splitlines()[1:]] == [
        "model",
        "attestation",
        "sbom",
    ]
    # The pulled directory verifies with the local command as the repository did.
    local = cli("verify", str(out / "model"), "--public-key", str(repo / "signing.pub"))
    assert local.exit_code == 0, local.stderr


def test_an_independent_client_reads_the_artifact(
    registry: Registry, cli: Cli, tmp_path: Path
) -> None:
    """skopeo shows the ModelPack manifest; oras-py (no mlops-ci code) reads the referrers."""
    import oras.provider

    repo = signed_repo(tmp_path / "repo", cli, sbom=True)
    digest = _push(cli, repo, f"oci://{registry.host}/models/independent:v1")
    raw = subprocess.run(
        [
            skopeo(),
            "inspect",
            "--raw",
            "--tls-verify=false",
            f"docker://{registry.host}/models/independent@{digest}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    manifest = json.loads(raw)
    assert "sha256:" + hashlib.sha256(raw.encode()).hexdigest() == digest
    assert manifest["artifactType"] == MODEL_ARTIFACT_TYPE
    assert manifest["config"]["mediaType"] == "application/vnd.cncf.model.config.v1+json"
    paths = {
        layer["annotations"]["org.cncf.model.filepath"]: layer["mediaType"]
        for layer in manifest["layers"]
    }
    assert paths == {
        "model/config.json": "application/vnd.cncf.model.weight.v1.raw",
        "model/tokenizer/vocab.txt": "application/vnd.cncf.model.weight.v1.raw",
        "model/weights.bin": "application/vnd.cncf.model.weight.v1.raw",
        "card.md": "application/vnd.cncf.model.doc.v1.raw",
    }

    client = oras.provider.Registry(registry.host, insecure=True)
    tag = "sha256-" + digest.split(":")[1]
    index = client.get_manifest(f"{registry.host}/models/independent:{tag}")
    types = sorted(entry["artifactType"] for entry in index["manifests"])
    assert types == [
        "application/vnd.cyclonedx+json",
        "application/vnd.dev.sigstore.bundle.v0.3+json",
    ]
    for entry in index["manifests"]:
        referrer = client.get_manifest(f"{registry.host}/models/independent@{entry['digest']}")
        assert referrer["subject"]["digest"] == digest
    signature = next(e for e in index["manifests"] if "sigstore" in e["artifactType"])
    referrer = client.get_manifest(f"{registry.host}/models/independent@{signature['digest']}")
    bundle = client.get_blob(
        f"{registry.host}/models/independent", referrer["layers"][0]["digest"]
    ).content
    assert bundle == (repo / "model.sig").read_bytes()


def test_referrers_api_registry(registry: Registry, cli: Cli, tmp_path: Path) -> None:
    """A registry with the OCI 1.1 referrers API indexes the referrers itself: no fallback tag."""
    repo = signed_repo(tmp_path / "repo", cli)
    with referrers_api_proxy(registry.host) as api:
        pushed = cli("push", "m", "--to", f"oci://{api.host}/models/api:v1", cwd=repo)
        assert pushed.exit_code == 0, pushed.stderr
        assert "(referrers API)" in pushed.stdout
        digest = pushed.stdout.rsplit("digest: ", 1)[1].strip()
        listed = registry_json(api.host, f"/v2/models/api/referrers/{digest}")
        assert [m["artifactType"] for m in listed["manifests"]] == [  # type: ignore[index, union-attr]
            "application/vnd.dev.sigstore.bundle.v0.3+json"
        ]
        tags = registry_json(registry.host, "/v2/models/api/tags/list", "application/json")
        assert tags["tags"] == ["v1"]  # no sha256-<hex> tag was written
        verified = cli("verify", f"oci://{api.host}/models/api@{digest}", cwd=repo)
        assert verified.exit_code == 0, verified.stderr
        out = tmp_path / "out"
        assert cli("pull", f"oci://{api.host}/models/api@{digest}", "--to", str(out)).exit_code == 0
        assert (out / "model.sig").read_bytes() == (repo / "model.sig").read_bytes()


def test_tampered_blob_in_storage_fails_verification(
    registry: Registry, cli: Cli, tmp_path: Path
) -> None:
    repo = signed_repo(tmp_path / "repo", cli)
    digest = _push(cli, repo, f"oci://{registry.host}/models/tampered:v1")
    weights = "sha256:" + hashlib.sha256((repo / "model/weights.bin").read_bytes()).hexdigest()
    blob = registry.blob_file(weights)
    data = bytearray(blob.read_bytes())
    data[10] ^= 1
    blob.write_bytes(bytes(data))
    try:
        result = cli("verify", f"oci://{registry.host}/models/tampered@{digest}", cwd=repo)
        assert result.exit_code == 1
        assert "model/weights.bin" in result.stderr and "hash to" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        out = tmp_path / "out"
        pulled = cli("pull", f"oci://{registry.host}/models/tampered@{digest}", "--to", str(out))
        assert pulled.exit_code == 1
        assert not out.exists()
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]
    finally:
        data[10] ^= 1
        blob.write_bytes(bytes(data))


def test_weight_replaced_through_the_registry_api_fails(
    registry: Registry, cli: Cli, tmp_path: Path
) -> None:
    """An attacker pushes other weights under the tag and re-attaches the old signature."""
    import oras.provider

    repo = signed_repo(tmp_path / "repo", cli)
    target = f"oci://{registry.host}/models/swapped:v1"
    digest = _push(cli, repo, target)
    forged_repo = tmp_path / "forged"
    forged_repo.mkdir()
    (forged_repo / "weights.bin").write_bytes(b"other weights")
    client = oras.provider.Registry(registry.host, insecure=True)
    container = client.get_container(f"{registry.host}/models/swapped")
    manifest = client.get_manifest(f"{registry.host}/models/swapped@{digest}")
    layer = next(
        entry
        for entry in manifest["layers"]
        if entry["annotations"]["org.cncf.model.filepath"].endswith("weights.bin")
    )
    blob = forged_repo / "weights.bin"
    layer["digest"] = "sha256:" + hashlib.sha256(blob.read_bytes()).hexdigest()
    layer["size"] = blob.stat().st_size
    client.upload_blob(str(blob), container, layer)
    forged = json.dumps(manifest).encode()
    forged_digest = "sha256:" + hashlib.sha256(forged).hexdigest()
    put = client.do_request(
        f"http://{registry.host}/v2/models/swapped/manifests/v1",
        "PUT",
        data=forged,
        headers={"Content-Type": MANIFEST},
    )
    assert put.status_code == 201
    tag = "sha256-" + digest.split(":")[1]
    index = client.get_manifest(f"{registry.host}/models/swapped:{tag}")
    signature = client.get_manifest(
        f"{registry.host}/models/swapped@{index['manifests'][0]['digest']}"
    )
    signature["subject"] = {"mediaType": MANIFEST, "digest": forged_digest, "size": len(forged)}
    moved = json.dumps(signature).encode()
    moved_digest = "sha256:" + hashlib.sha256(moved).hexdigest()
    assert (
        client.do_request(
            f"http://{registry.host}/v2/models/swapped/manifests/{moved_digest}",
            "PUT",
            data=moved,
            headers={"Content-Type": MANIFEST},
        ).status_code
        == 201
    )
    index["manifests"][0]["digest"], index["manifests"][0]["size"] = moved_digest, len(moved)
    forged_tag = "sha256-" + forged_digest.split(":")[1]
    assert (
        client.do_request(
            f"http://{registry.host}/v2/models/swapped/manifests/{forged_tag}",
            "PUT",
            data=json.dumps(index).encode(),
            headers={"Content-Type": "application/vnd.oci.image.index.v1+json"},
        ).status_code
        == 201
    )

    result = cli("verify", target, cwd=repo)
    assert result.exit_code == 1
    assert "FAILED    model" in result.stderr and "changed: weights.bin" in result.stderr


def test_removed_signature_referrer_fails(registry: Registry, cli: Cli, tmp_path: Path) -> None:
    import oras.provider

    repo = signed_repo(tmp_path / "repo", cli)
    digest = _push(cli, repo, f"oci://{registry.host}/models/unsigned:v1")
    client = oras.provider.Registry(registry.host, insecure=True)
    tag = "sha256-" + digest.split(":")[1]
    empty = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [],
    }
    assert (
        client.do_request(
            f"http://{registry.host}/v2/models/unsigned/manifests/{tag}",
            "PUT",
            data=json.dumps(empty).encode(),
            headers={"Content-Type": "application/vnd.oci.image.index.v1+json"},
        ).status_code
        == 201
    )
    result = cli("verify", f"oci://{registry.host}/models/unsigned@{digest}", cwd=repo)
    assert result.exit_code == 1
    assert "no signature referrer" in result.stderr


def test_untrusted_signer_fails(registry: Registry, cli: Cli, tmp_path: Path) -> None:
    repo = signed_repo(tmp_path / "repo", cli)
    digest = _push(cli, repo, f"oci://{registry.host}/models/untrusted:v1")
    _, other_public = write_key_pair(tmp_path, "other")
    result = cli(
        "verify",
        f"oci://{registry.host}/models/untrusted@{digest}",
        "--public-key",
        str(other_public),
        cwd=repo,
    )
    assert result.exit_code == 1
    assert "FAILED    model" in result.stderr


def test_upstream_model_signing_verifies_a_pulled_model(
    registry: Registry, cli: Cli, tmp_path: Path
) -> None:
    repo = signed_repo(tmp_path / "repo", cli)
    digest = _push(cli, repo, f"oci://{registry.host}/models/upstream:v1")
    out = tmp_path / "out"
    assert (
        cli("pull", f"oci://{registry.host}/models/upstream@{digest}", "--to", str(out)).exit_code
        == 0
    )
    args = [
        "verify",
        "key",
        "model",
        "--signature",
        "model.sig",
        "--public_key",
        str(repo / "signing.pub"),
    ]
    done = subprocess.run([UPSTREAM, *args], cwd=out, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "Verification succeeded" in done.stdout


def test_pull_by_tag_prints_the_digest(registry: Registry, cli: Cli, tmp_path: Path) -> None:
    repo = signed_repo(tmp_path / "repo", cli)
    digest = _push(cli, repo, f"oci://{registry.host}/models/by-tag:v2")
    out = tmp_path / "out"
    out.mkdir()  # an empty directory may be the destination
    pulled = cli("pull", f"oci://{registry.host}/models/by-tag:v2", "--to", str(out))
    assert pulled.exit_code == 0, pulled.stderr
    assert pulled.stdout.rstrip().endswith(f"digest: {digest}")
    again = cli("pull", f"oci://{registry.host}/models/by-tag:v2", "--to", str(out))
    assert again.exit_code == 2
    assert "already holds files" in again.stderr


def test_readme_oci_block_runs_as_written(
    registry: Registry, demo_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.readme_blocks import run_readme_block

    monkeypatch.setenv("REGISTRY", registry.host)
    done = run_readme_block("oci", demo_repo, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (demo_repo / "pulled" / "model.onnx").read_bytes() == (
        demo_repo / "models/fraud-detector/model.onnx"
    ).read_bytes()
    assert (demo_repo / "pulled" / "README.md").is_file()


def test_onnx_file_with_external_data(registry: Registry, cli: Cli, tmp_path: Path) -> None:
    """A single ONNX file's signed set includes its data file: both are layers, side by side."""
    from tests.external_data import DATA_NAME, save_external

    repo = tmp_path / "repo"
    save_external(repo / "models" / "model.onnx")
    write_key_pair(repo)
    (repo / "card.md").write_text("---\nlicense: mit\n---\n# m\n")
    (repo / "mlops-ci.yaml").write_text(CONFIG.replace("path: model,", "path: models/model.onnx,"))
    assert cli("sign", "--model", "m", cwd=repo).exit_code == 0
    digest = _push(cli, repo, f"oci://{registry.host}/models/external:v1")
    out = tmp_path / "out"
    pulled = cli("pull", f"oci://{registry.host}/models/external@{digest}", "--to", str(out))
    assert pulled.exit_code == 0, pulled.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == ["card.md", "model.onnx", DATA_NAME, "model.onnx.sig"]
    assert (out / DATA_NAME).read_bytes() == (repo / "models" / DATA_NAME).read_bytes()
    verified = cli("verify", f"oci://{registry.host}/models/external@{digest}", cwd=repo)
    assert verified.exit_code == 0, verified.stderr


def test_the_fallback_index_keeps_other_referrers(
    registry: Registry, cli: Cli, tmp_path: Path
) -> None:
    """Read-modify-write: another tool's entry stays as it was written, and a second signature
    (the model signed again) is added beside the first; verification accepts either."""
    repo = signed_repo(tmp_path / "repo", cli)
    digest = _push(cli, repo, f"oci://{registry.host}/models/shared:v1")
    path = "/v2/models/shared/manifests/sha256-" + digest.split(":")[1]
    index = registry_json(registry.host, path)
    empty = {"mediaType": "application/vnd.oci.empty.v1+json", "size": 2}
    empty["digest"] = "sha256:" + hashlib.sha256(b"{}").hexdigest()
    scan = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "artifactType": "application/vnd.example.scan+json",
        "config": empty,
        "layers": [empty],
    }
    scan_bytes = json.dumps(scan).encode()
    scan_digest = "sha256:" + hashlib.sha256(scan_bytes).hexdigest()
    assert (
        put_json(registry.host, f"/v2/models/shared/manifests/{scan_digest}", scan, MANIFEST) == 201
    )
    foreign = {
        "mediaType": MANIFEST,
        "digest": scan_digest,
        "size": len(scan_bytes),
        "artifactType": "application/vnd.example.scan+json",
        "annotations": {"org.example.tool": "scanner"},
    }
    index["manifests"] = [*index["manifests"], foreign]  # type: ignore[misc]
    assert put_json(registry.host, path, index, REFERRERS_INDEX) == 201
    assert cli("sign", "--model", "m", cwd=repo).exit_code == 0  # ECDSA: other signature bytes
    assert _push(cli, repo, f"oci://{registry.host}/models/shared:v1") == digest
    listed = registry_json(registry.host, path)["manifests"]
    assert foreign in listed  # type: ignore[operator]
    signatures = [m for m in listed if "sigstore" in m.get("artifactType", "")]  # type: ignore[union-attr]
    assert len(signatures) == 2
    verified = cli("verify", f"oci://{registry.host}/models/shared@{digest}", cwd=repo)
    assert verified.exit_code == 0, verified.stderr
