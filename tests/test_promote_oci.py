"""Promotion by digest (issue 17): state entries naming ``oci://HOST/REPO@sha256:...``, with the
model's bytes and evidence read from a real loopback registry (Debian's ``docker-registry``;
skipped, saying why, where it is absent), on the demo repository with real git."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlops_ci.demo import DEMO_MODEL
from mlops_ci.gitops import commit_all, merge_and_push
from tests.conftest import CliResult, copy_demo
from tests.gitrepos import git as run_git
from tests.oci_registry import REFERRERS_INDEX, Registry, put_json, registry_json, start_registry
from tests.test_promote_e2e import (  # noqa: F401  (the session fixture, reused)
    _signed_template,
    branch_of,
    origin,
    promote,
    state_on_main,
    verify_branch,
)

Cli = Callable[..., CliResult]
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with start_registry(tmp_path_factory.mktemp("registry")) as running:
        yield running


@pytest.fixture
def repo(_signed_template: Path, tmp_path: Path) -> Path:  # noqa: F811
    return copy_demo(_signed_template, tmp_path / "repo")


def push(cli: Cli, repo: Path, registry: Registry, name: str, tag: str = "1.0.0") -> str:
    """Push the demo model; returns its digest-pinned reference."""
    pushed = cli("push", DEMO_MODEL, "--to", f"oci://{registry.host}/{name}:{tag}", cwd=repo)
    assert pushed.exit_code == 0, pushed.stderr
    digest = pushed.stdout.rsplit("digest: ", 1)[1].strip()
    return f"oci://{registry.host}/{name}@{digest}"


def test_promote_by_digest_up_the_ladder_fetch_status_history(
    cli: Cli, repo: Path, registry: Registry, tmp_path: Path
) -> None:
    ref = push(cli, repo, registry, "models/ladder")
    local_digest = checkout_digest(repo)
    dev = promote(cli, repo, "dev", "--artifact", ref)
    assert dev.exit_code == 0, dev.stderr
    branch = branch_of(dev)
    assert verify_branch(cli, repo, branch) == 0
    merge_and_push(repo, branch, f"Merge {branch}")
    entry = state_on_main(repo, "dev")[DEMO_MODEL]
    assert (entry.artifact, entry.digest) == (ref, local_digest)
    assert (entry.signature, entry.attestation, dict(entry.promoted_from)) == (None, None, {})

    staging = promote(cli, repo, "staging")  # later rungs copy the entry, as for a path
    assert staging.exit_code == 0, staging.stderr
    assert verify_branch(cli, repo, branch_of(staging)) == 0
    merge_and_push(repo, branch_of(staging), "Merge staging")
    entry = state_on_main(repo, "staging")[DEMO_MODEL]
    assert (entry.artifact, dict(entry.promoted_from)) == (ref, {"environment": "dev"})

    status = cli("status", "--format", "json", cwd=repo)
    assert status.exit_code == 0, status.stderr
    assert json.loads(status.stdout)[DEMO_MODEL]["staging"]["bytes"] == ref
    assert ref in cli("status", cwd=repo).stdout
    history = cli("history", DEMO_MODEL, "--format", "json", cwd=repo)
    assert [c["entry"]["artifact"] for c in json.loads(history.stdout)] == [ref, ref]

    out = tmp_path / "deploy"
    fetched = cli("fetch", DEMO_MODEL, "--env", "staging", "--to", str(out), cwd=repo)
    assert fetched.exit_code == 0, fetched.stderr
    assert f"from: {ref}" in fetched.stdout
    assert sorted(p.name for p in out.iterdir()) == ["model.onnx"]
    model = repo / "models/fraud-detector/model.onnx"
    assert (out / "model.onnx").read_bytes() == model.read_bytes()


def checkout_digest(repo: Path) -> str:
    """The OMS digest the repository's own signature vouches for (what the registry must serve)."""
    from mlops_ci.signing import model_digest

    return model_digest(repo / "models/fraud-detector/model.onnx")


def test_rollback_to_an_earlier_artifact_by_digest(
    cli: Cli, repo: Path, registry: Registry
) -> None:
    from tests.conftest import retrain_demo_model
    from tests.test_promote_e2e import sign_and_commit

    first = push(cli, repo, registry, "models/rollback")
    dev = promote(cli, repo, "dev", "--artifact", first)
    merge_and_push(repo, branch_of(dev), "Merge 1.0.0")
    card = repo / "models/fraud-detector/README.md"
    card.write_text(card.read_text().replace("version: 1.0.0", "version: 1.1.0", 1))
    retrain_demo_model(repo / "models/fraud-detector/model.onnx", 8)
    sign_and_commit(repo, "Model 1.1.0")
    second = push(cli, repo, registry, "models/rollback", "1.1.0")
    assert second != first
    newer = promote(cli, repo, "dev", "--artifact", second)
    assert newer.exit_code == 0, newer.stderr
    merge_and_push(repo, branch_of(newer), "Merge 1.1.0")
    rolled = cli(
        "rollback", DEMO_MODEL, "--env", "dev", "--to", "1.0.0", "--forge", "none", cwd=repo
    )
    assert rolled.exit_code == 0, rolled.stderr
    assert verify_branch(cli, repo, branch_of(rolled)) == 0
    merge_and_push(repo, branch_of(rolled), "Merge rollback")
    entry = state_on_main(repo, "dev")[DEMO_MODEL]
    assert (entry.artifact, entry.version, entry.pinned) == (first, "1.0.0", True)
    assert dict(entry.promoted_from) == {"environment": "dev"}
    history = cli("history", DEMO_MODEL, "--env", "dev", "--format", "json", cwd=repo)
    assert [c["entry"]["artifact"] for c in json.loads(history.stdout)] == [first, second, first]


def test_a_tag_or_a_later_rung_is_bad_input(cli: Cli, repo: Path, registry: Registry) -> None:
    tagged = promote(cli, repo, "dev", "--artifact", f"oci://{registry.host}/models/x:1.0.0")
    assert tagged.exit_code == 2
    assert "by digest only" in tagged.stderr and len(tagged.stderr.strip().splitlines()) == 1
    pinned = f"oci://{registry.host}/models/x@sha256:{'a' * 64}"
    later = promote(cli, repo, "staging", "--artifact", pinned)
    assert later.exit_code == 2 and "first environment (dev) only" in later.stderr
    (repo / "deploy").mkdir(exist_ok=True)
    (repo / "deploy/dev.yaml").write_text(
        f"models:\n  {DEMO_MODEL}:\n    version: 1.0.0\n"
        f"    artifact: oci://{registry.host}/models/x:1.0.0\n    digest: sha256:{'b' * 64}\n"
    )
    commit_all(repo, "a tag in a state file")
    run_git(repo, "push", "--quiet", "origin", "main")
    status = cli("status", cwd=repo)
    assert status.exit_code == 2
    assert "deploy/dev.yaml:4" in status.stderr and "by digest only" in status.stderr


# Acceptance 2 of issue 17: each way of breaking the registry's copy fails `promote` and
# `promote verify` (`verify oci://` is covered in test_oci_registry.py).
REASONS = {
    "weights-replaced": "the model does not match its signature",
    "blob-tampered": "as the manifest says (tampered or corrupted in the registry)",
    "signature-removed": "no signature referrer is attached",
    "untrusted-signer": "not by the public key",
}
FAULTS = tuple(REASONS)


def _index_path(name: str, digest: str) -> str:
    """The referrers tag schema's fallback index of ``digest`` (distribution 2.8 has no API)."""
    return f"/v2/{name}/manifests/sha256-{digest.split(':')[1]}"


def _referrer_index(registry: Registry, name: str, digest: str) -> tuple[str, dict[str, object]]:
    path = _index_path(name, digest)
    return path, registry_json(registry.host, path)


def _manifest(registry: Registry, name: str, digest: str) -> dict[str, object]:
    return registry_json(registry.host, f"/v2/{name}/manifests/{digest}", MANIFEST)


def _put_blob(registry: Registry, name: str, data: bytes) -> str:
    """A monolithic blob upload through the registry API (POST, then PUT with the digest)."""
    import urllib.request

    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    start = urllib.request.Request(
        f"http://{registry.host}/v2/{name}/blobs/uploads/", method="POST"
    )
    with urllib.request.urlopen(start, timeout=10) as response:  # noqa: S310 (loopback http)
        location = response.headers["Location"]
    if location.startswith("/"):
        location = f"http://{registry.host}{location}"
    put = urllib.request.Request(  # noqa: S310 (the registry's own loopback upload URL)
        f"{location}{'&' if '?' in location else '?'}digest={digest}",
        data=data,
        method="PUT",
        headers={"Content-Type": "application/octet-stream"},
    )
    with urllib.request.urlopen(put, timeout=10) as response:  # noqa: S310 (loopback http)
        assert response.status == 201
    return digest


def _put_manifest(registry: Registry, name: str, manifest: dict[str, object]) -> str:
    data = json.dumps(manifest).encode()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    assert put_json(registry.host, f"/v2/{name}/manifests/{digest}", manifest, MANIFEST) == 201
    return digest


def _replace_weights(registry: Registry, name: str, ref: str) -> str:
    """Other bytes for model.onnx, pushed through the registry API as a new manifest with the
    old one's annotations, and the old signature and attestation moved onto it."""
    digest = ref.split("@")[1]
    manifest = _manifest(registry, name, digest)
    layers = manifest["layers"]
    assert isinstance(layers, list)
    layer = next(x for x in layers if x["annotations"]["org.cncf.model.filepath"] == "model.onnx")
    forged_bytes = b"other weights"
    layer["digest"], layer["size"] = _put_blob(registry, name, forged_bytes), len(forged_bytes)
    forged = _put_manifest(registry, name, manifest)
    forged_size = len(json.dumps(manifest).encode())
    _, index = _referrer_index(registry, name, digest)
    moved = []
    for entry in index["manifests"]:  # type: ignore[union-attr]
        referrer = _manifest(registry, name, entry["digest"])
        referrer["subject"] = {"mediaType": MANIFEST, "digest": forged, "size": forged_size}
        data = json.dumps(referrer).encode()
        moved.append(
            {**entry, "digest": _put_manifest(registry, name, referrer), "size": len(data)}
        )
    path = _index_path(name, forged)
    assert put_json(registry.host, path, {**index, "manifests": moved}, REFERRERS_INDEX) == 201
    return f"oci://{registry.host}/{name}@{forged}"


def _remove_signature(registry: Registry, name: str, ref: str) -> None:
    path, index = _referrer_index(registry, name, ref.split("@")[1])
    kept = [
        entry
        for entry in index["manifests"]  # type: ignore[union-attr]
        if _manifest(registry, name, entry["digest"])["annotations"]["dev.mlops-ci.evidence"]  # type: ignore[index]
        != "signature"
    ]
    assert len(kept) == len(index["manifests"]) - 1  # type: ignore[arg-type]
    assert put_json(registry.host, path, {**index, "manifests": kept}, REFERRERS_INDEX) == 201


def _untrusted_push(cli: Cli, repo: Path, registry: Registry, name: str) -> str:
    """The same model signed (model and attestation) with a key the configuration does not
    trust, pushed to its own repository; the repository's evidence is restored afterwards."""
    from tests.pki import write_key_pair

    private, _ = write_key_pair(repo.parent, "untrusted")
    signed = cli("sign", "--model", DEMO_MODEL, "--key", str(private), cwd=repo)
    assert signed.exit_code == 0, signed.stderr
    try:
        return push(cli, repo, registry, f"{name}-untrusted")
    finally:
        run_git(repo, "checkout", "--quiet", "--", ".")


def apply_fault(
    fault: str, cli: Cli, repo: Path, registry: Registry, name: str, ref: str
) -> tuple[str, Callable[[], None]]:
    """Break the registry's copy of ``ref``; returns the reference to use and how to undo."""
    if fault == "weights-replaced":
        return _replace_weights(registry, name, ref), lambda: None
    if fault == "signature-removed":
        _remove_signature(registry, name, ref)
        return ref, lambda: None
    if fault == "untrusted-signer":
        return _untrusted_push(cli, repo, registry, name), lambda: None
    # blob-tampered: the stored bytes of the model layer change under their digest (the blob
    # store is shared by every repository of the registry, so it is put back afterwards)
    layer = next(
        x
        for x in _manifest(registry, name, ref.split("@")[1])["layers"]  # type: ignore[union-attr]
        if x["annotations"]["org.cncf.model.filepath"] == "model.onnx"
    )
    blob = registry.blob_file(layer["digest"])
    original = blob.read_bytes()
    blob.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    return ref, lambda: blob.write_bytes(original)


def _promotion_branches(repo: Path) -> str:
    return run_git(repo, "ls-remote", "origin", "refs/heads/mlops-ci/*")


@pytest.mark.parametrize("fault", FAULTS)
def test_promote_fails_closed(cli: Cli, repo: Path, registry: Registry, fault: str) -> None:
    name = f"models/promote-{fault}"
    bad, undo = apply_fault(fault, cli, repo, registry, name, push(cli, repo, registry, name))
    try:
        result = promote(cli, repo, "dev", "--artifact", bad)
    finally:
        undo()
    assert result.exit_code == 1, result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert _promotion_branches(repo) == ""  # nothing was pushed
    assert REASONS[fault] in result.stderr


@pytest.mark.parametrize("fault", FAULTS)
def test_promote_verify_fails_closed(cli: Cli, repo: Path, registry: Registry, fault: str) -> None:
    name = f"models/verify-{fault}"
    ref = push(cli, repo, registry, name)
    dev = promote(cli, repo, "dev", "--artifact", ref)
    assert dev.exit_code == 0, dev.stderr
    branch = branch_of(dev)
    bad, undo = apply_fault(fault, cli, repo, registry, name, ref)
    run_git(repo, "fetch", "--quiet", "origin")
    run_git(repo, "checkout", "--quiet", "--detach", f"origin/{branch}")
    try:
        if bad != ref:  # the pull request names the other artifact (one commit, as the tool's)
            state = repo / "deploy/dev.yaml"
            state.write_text(state.read_text().replace(ref, bad))
            run_git(repo, "commit", "--quiet", "--amend", "--all", "--no-edit")
        result = cli("promote", "verify", "--base", "origin/main", "-f", "json", cwd=repo)
    finally:
        undo()
        run_git(repo, "checkout", "--quiet", "--force", "main")
    assert result.exit_code == 1, result.stdout + result.stderr
    findings = json.loads(result.stdout)["results"][0]["findings"]
    assert [f["rule_id"] for f in findings] == ["PROMOTE-EVIDENCE"], findings
    assert REASONS[fault] in findings[0]["message"]


def test_promote_verify_refuses_a_digest_the_registry_does_not_serve(
    cli: Cli, repo: Path, registry: Registry
) -> None:
    ref = push(cli, repo, registry, "models/other-digest")
    dev = promote(cli, repo, "dev", "--artifact", ref)
    assert dev.exit_code == 0, dev.stderr
    run_git(repo, "fetch", "--quiet", "origin")
    run_git(repo, "checkout", "--quiet", "--detach", f"origin/{branch_of(dev)}")
    state = repo / "deploy/dev.yaml"
    text = state.read_text()
    digest = text.split("digest: ", 1)[1].split()[0]
    state.write_text(text.replace(f"digest: {digest}", f"digest: sha256:{'0' * 64}"))
    run_git(repo, "commit", "--quiet", "--amend", "--all", "--no-edit")
    result = cli("promote", "verify", "--base", "origin/main", "-f", "json", cwd=repo)
    assert result.exit_code == 1, result.stderr
    (found,) = json.loads(result.stdout)["results"][0]["findings"]
    assert found["rule_id"] == "PROMOTE-EVIDENCE"
    assert f"with OMS digest {digest}, not the entry's sha256:{'0' * 64}" in found["message"]


def test_readme_promotion_by_digest_block_runs_as_written(
    repo: Path, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.readme_blocks import run_readme_block

    monkeypatch.setenv("REGISTRY", registry.host)
    done = run_readme_block("oci-promote", repo, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "pushed: Promote fraud-detector 1.0.0 to dev" in done.stdout
    branch = run_git(repo, "ls-remote", "origin", "refs/heads/mlops-ci/*").split()[1]
    shown = run_git(origin(repo), "show", f"{branch}:deploy/dev.yaml")
    assert f"artifact: oci://{registry.host}/models/fraud-detector@sha256:" in shown


def test_fetch_from_a_broken_registry_writes_nothing(
    cli: Cli, repo: Path, registry: Registry, tmp_path: Path
) -> None:
    name = "models/fetch-broken"
    ref = push(cli, repo, registry, name)
    dev = promote(cli, repo, "dev", "--artifact", ref)
    merge_and_push(repo, branch_of(dev), "Merge dev")
    out = tmp_path / "deploy"
    for fault in ("blob-tampered", "signature-removed"):
        _, undo = apply_fault(fault, cli, repo, registry, name, ref)
        try:
            fetched = cli("fetch", DEMO_MODEL, "--env", "dev", "--to", str(out), cwd=repo)
        finally:
            undo()
        assert fetched.exit_code == 1, fetched.stdout + fetched.stderr
        assert REASONS[fault] in fetched.stderr and len(fetched.stderr.splitlines()) == 1
        assert not out.exists()


def test_promote_verify_refuses_a_commit_on_a_registry_entry(
    cli: Cli, repo: Path, registry: Registry
) -> None:
    """A registry entry is named by its digest: a promoted_from.commit the tool never writes
    (which a deploy job might read instead) is refused, as any hand edit of the entry is."""
    ref = push(cli, repo, registry, "models/with-commit")
    dev = promote(cli, repo, "dev", "--artifact", ref)
    assert dev.exit_code == 0, dev.stderr
    run_git(repo, "fetch", "--quiet", "origin")
    run_git(repo, "checkout", "--quiet", "--detach", f"origin/{branch_of(dev)}")
    head = run_git(repo, "rev-parse", "origin/main")
    state = repo / "deploy/dev.yaml"
    state.write_text(state.read_text() + f"    promoted_from: {{commit: {head}}}\n")
    run_git(repo, "commit", "--quiet", "--amend", "--all", "--no-edit")
    result = cli("promote", "verify", "--base", "origin/main", "-f", "json", cwd=repo)
    assert result.exit_code == 1, result.stderr
    (found,) = json.loads(result.stdout)["results"][0]["findings"]
    assert found["rule_id"] == "PROMOTE-LADDER" and "promoted_from stays empty" in found["message"]
