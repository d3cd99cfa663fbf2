"""Issue 12, class 3 (acceptance 4): a signature covers every byte that changes the model.

An ONNX model saved with external data keeps its weights in ``model.onnx.data``; those bytes are
part of the model's OMS manifest, digest and scan. Directory models count every file, git files
included. The upstream ``model_signing`` command agrees on what is covered.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops_ci.demo import DEMO_MODEL, create_demo
from mlops_ci.gitops import commit_all, push_current
from tests.conftest import CliResult, copy_demo
from tests.external_data import (
    DATA_NAME,
    point_at,
    poison,
    run_model,
    save_external,
    use_external_data,
)
from tests.gitrepos import git as run_git
from tests.pki import write_key_pair
from tests.test_promote_e2e import promote, promote_and_merge, sign_and_commit
from tests.test_signing_modes import flip_byte, make_model

Cli = Callable[..., CliResult]
UPSTREAM = str(Path(sys.executable).parent / "model_signing")
MODEL_DIR = "models/fraud-detector"


@pytest.fixture(scope="session")
def _external_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo repository with its model's weights in model.onnx.data, signed and committed."""
    repo = create_demo(tmp_path_factory.mktemp("external") / "repo")
    use_external_data(repo)
    sign_and_commit(repo, "Keep the weights in model.onnx.data")
    return repo


@pytest.fixture
def external_repo(_external_template: Path, tmp_path: Path) -> Iterator[Path]:
    yield copy_demo(_external_template, tmp_path / "repo")


def data_file(repo: Path) -> Path:
    return repo / MODEL_DIR / DATA_NAME


def upstream(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([UPSTREAM, *args], cwd=cwd, capture_output=True, text=True, check=False)


def test_the_data_file_changes_the_outputs(external_repo: Path) -> None:
    """The bytes the old signature left out decide the model's outputs (NaN after a flip)."""
    model = external_repo / MODEL_DIR / "model.onnx"
    before = run_model(model)
    assert all(math.isfinite(float(v)) for v in before.ravel())
    poison(data_file(external_repo))
    after = run_model(model)
    assert all(math.isnan(float(v)) for v in after.ravel())


def test_signature_lists_the_data_file(external_repo: Path) -> None:
    bundle = json.loads((external_repo / MODEL_DIR / "model.onnx.sig").read_text())
    import base64

    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    names = [r["name"] for r in statement["predicate"]["resources"]]
    assert names == ["model.onnx", DATA_NAME]
    ignored = statement["predicate"]["serialization"]["ignore_paths"]
    assert "model.onnx.sig" in ignored and "model.onnx.attestation.sigstore.json" in ignored


def test_intact_external_data_model_verifies(cli: Cli, external_repo: Path) -> None:
    result = cli("verify", cwd=external_repo)
    assert result.exit_code == 0, result.stdout + result.stderr


def test_tampered_data_fails_verify(cli: Cli, external_repo: Path) -> None:
    poison(data_file(external_repo))
    result = cli("verify", cwd=external_repo)
    assert result.exit_code == 1
    assert f"changed: {DATA_NAME}" in result.stdout + result.stderr


def test_tampered_data_fails_the_signature_check(cli: Cli, external_repo: Path) -> None:
    poison(data_file(external_repo))
    result = cli("check", "--only", "signature", "--format", "json", cwd=external_repo)
    assert result.exit_code == 1
    findings = json.loads(result.stdout)["results"][0]["findings"]
    assert findings[0]["rule_id"] == "SIG001"
    assert f"changed: {DATA_NAME}" in findings[0]["message"]


def test_tampered_data_fails_promote_dry_run(cli: Cli, external_repo: Path) -> None:
    poison(data_file(external_repo))
    result = promote(cli, external_repo, "dev", "--dry-run")
    assert result.exit_code == 1, result.stdout + result.stderr
    assert f"changed: {DATA_NAME}" in result.stdout + result.stderr


def test_tampered_data_fails_promote_verify(cli: Cli, external_repo: Path) -> None:
    """A weights-only change merged after signing; a hand-made PR promotes the signed digest."""
    promote_and_merge(cli, external_repo, "dev")
    run_git(external_repo, "pull", "--quiet", "origin", "main")
    poison(data_file(external_repo))
    commit_all(external_repo, "Retrain the weights")
    push_current(external_repo)
    tampered = run_git(external_repo, "rev-parse", "HEAD").strip()
    dev = (external_repo / "deploy" / "dev.yaml").read_text()
    run_git(external_repo, "checkout", "--quiet", "-b", "promote-dev-again")
    forged = "\n".join(
        f"    promoted_from: {{commit: {tampered}}}"
        if line.strip().startswith("promoted_from:")
        else line
        for line in dev.splitlines()
    )
    (external_repo / "deploy" / "dev.yaml").write_text(forged + "\n")
    commit_all(external_repo, f"Promote {DEMO_MODEL} 1.0.0 to dev from the retrained commit")
    result = cli("promote", "verify", "--base", "origin/main", cwd=external_repo)
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "PROMOTE-EVIDENCE" in result.stdout  # the weights at that commit are not the signed ones


def test_missing_data_file_fails(cli: Cli, external_repo: Path) -> None:
    data_file(external_repo).unlink()
    result = cli("verify", cwd=external_repo)
    assert result.exit_code == 1
    assert "does not exist" in result.stdout + result.stderr
    check = cli("check", "--only", "signature", "--format", "json", cwd=external_repo)
    assert check.exit_code == 1
    rules = [f["rule_id"] for f in json.loads(check.stdout)["results"][0]["findings"]]
    assert rules == ["SIG004"]


def test_upstream_model_signing_agrees(external_repo: Path) -> None:
    """``model_signing verify`` on the model's directory, with the file set the signature names."""
    args = [
        "verify", "key", MODEL_DIR,
        "--signature", f"{MODEL_DIR}/model.onnx.sig",
        "--public_key", "keys/signing-key.pub",
        "--ignore_unsigned_files",
    ]  # fmt: skip
    ok = upstream(*args, cwd=external_repo)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Verification succeeded" in ok.stdout
    poison(data_file(external_repo))
    bad = upstream(*args, cwd=external_repo)
    assert bad.returncode != 0
    assert DATA_NAME in bad.stdout + bad.stderr


def test_old_single_file_signature_does_not_cover_the_data(
    cli: Cli, external_repo: Path, tmp_path: Path
) -> None:
    """A signature made over model.onnx alone (before this fix) no longer verifies the model."""
    private, public = write_key_pair(tmp_path)
    model = external_repo / MODEL_DIR / "model.onnx"
    old = upstream("sign", "key", str(model), "--signature", str(tmp_path / "old.sig"),
                   "--private_key", str(private), cwd=external_repo)  # fmt: skip
    assert old.returncode == 0, old.stderr
    args = ["--signature", str(tmp_path / "old.sig"), "--public-key", str(public)]
    result = cli("verify", str(model), *args, cwd=external_repo)
    assert result.exit_code == 1
    assert "the model does not match its signature" in result.stderr


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("../outside.data", "'..'"),
        ("/etc/hostname", "absolute"),
        ("link.data", "symlink"),
        ("fifo.data", "not a regular file"),
        ("model.onnx.sig", "evidence"),
        ("sub/../model.onnx.data", "'..'"),
    ],
)
def test_refused_locations_are_never_signed(
    cli: Cli, external_repo: Path, tmp_path: Path, location: str, reason: str
) -> None:
    model_dir = external_repo / MODEL_DIR
    (external_repo.parent / "outside.data").write_bytes(data_file(external_repo).read_bytes())
    (model_dir / "link.data").symlink_to(data_file(external_repo))
    os.mkfifo(model_dir / "fifo.data")
    point_at(model_dir / "model.onnx", location)
    signed = cli("sign", cwd=external_repo)
    assert signed.exit_code == 2, signed.stdout + signed.stderr
    assert reason in signed.stderr and "external data" in signed.stderr
    verified = cli("verify", cwd=external_repo)
    assert verified.exit_code == 1
    assert reason in verified.stdout + verified.stderr


def test_changed_gitattributes_fails_verify(cli: Cli, tmp_path: Path) -> None:
    model = make_model(tmp_path)
    (model / ".gitattributes").write_text("*.bin filter=lfs\n")
    (model / ".github").mkdir()
    (model / ".github" / "hook.yml").write_text("on: push\n")
    private, public = write_key_pair(tmp_path)
    assert cli("sign", "model", "--key", str(private), cwd=tmp_path).exit_code == 0
    assert cli("verify", "model", "--public-key", str(public), cwd=tmp_path).exit_code == 0
    upstream_args = ["verify", "key", "model", "--signature", "model.sig"]
    upstream_args += ["--public_key", str(public), "--no-ignore-git-paths"]
    assert upstream(*upstream_args, cwd=tmp_path).returncode == 0
    (model / ".gitattributes").write_text("*.bin filter=evil\n")
    result = cli("verify", "model", "--public-key", str(public), cwd=tmp_path)
    assert result.exit_code == 1
    assert "changed: .gitattributes" in result.stdout + result.stderr
    assert upstream(*upstream_args, cwd=tmp_path).returncode != 0


@pytest.mark.parametrize(
    "added", [".github/workflows/x.yml", ".gitignore", "extra/new.bin", ".hidden", "empty.bin"]
)
def test_files_added_to_a_signed_directory_fail(cli: Cli, tmp_path: Path, added: str) -> None:
    model = make_model(tmp_path)
    private, public = write_key_pair(tmp_path)
    assert cli("sign", "model", "--key", str(private), cwd=tmp_path).exit_code == 0
    (model / added).parent.mkdir(parents=True, exist_ok=True)
    (model / added).write_bytes(b"" if added == "empty.bin" else b"x")
    result = cli("verify", "model", "--public-key", str(public), cwd=tmp_path)
    assert result.exit_code == 1
    assert f"added: {added}" in result.stdout + result.stderr


def test_links_and_renames_in_a_signed_directory(cli: Cli, tmp_path: Path) -> None:
    """A symlink or FIFO fails; a case-only rename fails; a hard link is a new file."""
    model = make_model(tmp_path)
    private, public = write_key_pair(tmp_path)
    assert cli("sign", "model", "--key", str(private), cwd=tmp_path).exit_code == 0
    verify = ("verify", "model", "--public-key", str(public))
    (model / "weights.bin").rename(model / "Weights.bin")
    assert cli(*verify, cwd=tmp_path).exit_code == 1
    (model / "Weights.bin").rename(model / "weights.bin")
    assert cli(*verify, cwd=tmp_path).exit_code == 0
    (model / "alias.bin").symlink_to("weights.bin")
    linked = cli(*verify, cwd=tmp_path)
    assert linked.exit_code == 1 and "symlink" in linked.stdout + linked.stderr + linked.stderr
    (model / "alias.bin").unlink()
    os.mkfifo(model / "pipe")
    piped = cli(*verify, cwd=tmp_path)
    assert piped.exit_code == 1 and "pipe" in piped.stdout + piped.stderr
    (model / "pipe").unlink()
    os.link(model / "config.json", model / "config-copy.json")
    assert cli(*verify, cwd=tmp_path).exit_code == 1  # a new name is a new file
    (model / "config-copy.json").unlink()
    flip_byte(model / "weights.bin")
    assert cli(*verify, cwd=tmp_path).exit_code == 1


def test_upstream_default_signature_leaving_out_git_files_fails(cli: Cli, tmp_path: Path) -> None:
    """model_signing leaves git files out by default; present in the model, they are unsigned."""
    model = make_model(tmp_path)
    private, public = write_key_pair(tmp_path)
    args = ["sign", "key", "model", "--signature", "model.sig", "--private_key", str(private)]
    assert upstream(*args, cwd=tmp_path).returncode == 0
    assert cli("verify", "model", "--public-key", str(public), cwd=tmp_path).exit_code == 0
    (model / ".gitattributes").write_text("*.bin filter=evil\n")
    result = cli("verify", "model", "--public-key", str(public), cwd=tmp_path)
    assert result.exit_code == 1
    assert "leaves out .gitattributes" in result.stdout + result.stderr


def test_onnx_in_a_directory_model_with_data_outside_is_refused(cli: Cli, tmp_path: Path) -> None:
    """In a directory every file is hashed; weights kept outside it cannot be, so it is refused."""
    model = make_model(tmp_path)
    save_external(model / "encoder.onnx", location="inside.data")
    (tmp_path / "outside.data").write_bytes((model / "inside.data").read_bytes())
    point_at(model / "encoder.onnx", "../outside.data")
    private, public = write_key_pair(tmp_path)
    signed = cli("sign", "model", "--key", str(private), cwd=tmp_path)
    assert signed.exit_code == 2
    assert "climbs out" in signed.stderr
    point_at(model / "encoder.onnx", "inside.data")
    assert cli("sign", "model", "--key", str(private), cwd=tmp_path).exit_code == 0
    assert cli("verify", "model", "--public-key", str(public), cwd=tmp_path).exit_code == 0
    point_at(model / "encoder.onnx", "../outside.data")
    refused = cli("verify", "model", "--public-key", str(public), cwd=tmp_path)
    assert refused.exit_code == 1
    assert "climbs out" in refused.stderr


def test_an_onnx_model_under_another_name_is_recognised(cli: Cli, tmp_path: Path) -> None:
    """onnxruntime loads a model whatever its name: so its data files count whatever its name."""
    model = save_external(tmp_path / "model.pb", location="weights.bin")
    private, public = write_key_pair(tmp_path)
    assert cli("sign", str(model), "--key", str(private), cwd=tmp_path).exit_code == 0
    verify = ("verify", str(model), "--public-key", str(public))
    assert cli(*verify, cwd=tmp_path).exit_code == 0
    poison(tmp_path / "weights.bin")
    result = cli(*verify, cwd=tmp_path)
    assert result.exit_code == 1
    assert "changed: weights.bin" in result.stderr


def _external_tensor(name: str, location: str) -> Any:
    from onnx import TensorProto, helper

    tensor = helper.make_tensor(name, TensorProto.FLOAT, [2], [0.0, 0.0])
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "8")):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return tensor


def test_every_kind_of_tensor_counts(tmp_path: Path) -> None:
    """Subgraph initializers, sparse initializers, attribute tensors and function nodes."""
    import onnx
    from onnx import TensorProto, helper

    from mlops_ci.signing.scope import ExternalDataError, external_data_files

    then_graph = helper.make_graph(
        [helper.make_node("Identity", ["sub"], ["y"])],
        "then",
        [],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
        [_external_tensor("sub", "subgraph.data")],
    )
    constant = helper.make_node("Constant", [], ["c"], value=_external_tensor("c", "attr.data"))
    branch = helper.make_node("If", ["cond"], ["y"], then_branch=then_graph, else_branch=then_graph)
    sparse = helper.make_sparse_tensor(
        _external_tensor("values", "sparse.data"),
        helper.make_tensor("idx", TensorProto.INT64, [2], [0, 1]),
        [4],
    )
    graph = helper.make_graph(
        [constant, branch],
        "g",
        [helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
        sparse_initializer=[sparse],
    )
    function_node = helper.make_node(
        "Constant", [], ["f"], value=_external_tensor("f", "function.data")
    )
    function = helper.make_function("local", "F", [], ["f"], [function_node], [])
    model = helper.make_model(graph, functions=[function])
    path = tmp_path / "model.onnx"
    onnx.save_model(model, str(path))
    names = ("subgraph.data", "attr.data", "sparse.data", "function.data")
    for name in names:
        (tmp_path / name).write_bytes(b"\0" * 8)
    assert [p.name for p in external_data_files(path)] == sorted(names)
    for name in names:
        (tmp_path / name).unlink()
        with pytest.raises(ExternalDataError, match="does not exist"):
            external_data_files(path)
        (tmp_path / name).write_bytes(b"\0" * 8)


def test_rollback_fetches_the_data_files_of_the_old_commit(cli: Cli, external_repo: Path) -> None:
    """Evidence read from the commit an entry came from includes that commit's weights."""
    promote_and_merge(cli, external_repo, "dev")
    run_git(external_repo, "pull", "--quiet", "origin", "main")
    card = external_repo / MODEL_DIR / "README.md"
    card.write_text(card.read_text().replace("version: 1.0.0", "version: 1.1.0", 1))
    save_external(external_repo / MODEL_DIR / "model.onnx", retrain=8)
    sign_and_commit(external_repo, "Model 1.1.0")
    promote_and_merge(cli, external_repo, "dev", "1.1.0")
    rolled = cli(
        "rollback", DEMO_MODEL, "--env", "dev", "--to", "1.0.0", "--forge", "none",
        cwd=external_repo,
    )  # fmt: skip
    assert rolled.exit_code == 0, rolled.stdout + rolled.stderr


def test_sbom_lists_the_data_file_and_the_covering_digest(external_repo: Path) -> None:
    """The SBOM hashes model.onnx.data, and its OMS digest is the one the signature vouches for."""
    from mlops_ci.sbom.mlbom import OMS_DIGEST_PROPERTY
    from mlops_ci.signing import model_digest

    bom = json.loads((external_repo / ".mlops-ci/sbom/fraud-detector.cdx.json").read_text())
    (model,) = [c for c in bom["components"] if c["type"] == "machine-learning-model"]
    files = {f["name"]: f["hashes"][0]["content"] for f in model["components"]}
    assert set(files) == {"model.onnx", DATA_NAME}
    digest = [p["value"] for p in model["properties"] if p["name"] == OMS_DIGEST_PROPERTY]
    assert digest == [model_digest(external_repo / MODEL_DIR / "model.onnx")]
    before = digest[0]
    poison(data_file(external_repo))
    assert model_digest(external_repo / MODEL_DIR / "model.onnx") != before


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("", "no location"),
        ("./", "no location"),
        ("/abs/w.bin", "an absolute path"),
        ("C:\\\\w.bin", "backslash"),
        ("C:w.bin", "an absolute path"),
        ("a\x00b", "NUL"),
        ("../w.bin", "'..'"),
        ("sub/../w.bin", "'..'"),
        ("missing.bin", "does not exist"),
        ("link.bin", "a symlink"),
        ("linkdir/w.bin", "a symlink"),
        ("sub", "not a regular file"),
        ("fifo", "not a regular file"),
        ("w.bin/x", "not a directory"),
        ("x" * 5000, "cannot be examined"),
        ("*/_ORT_MEM_ADDR_/*", "does not exist"),
    ],
)
def test_location_problems(tmp_path: Path, location: str, reason: str) -> None:
    from mlops_ci.scan.onnx_scan import location_problem

    (tmp_path / "w.bin").write_bytes(b"w")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "w.bin").write_bytes(b"w")
    (tmp_path / "link.bin").symlink_to("w.bin")
    (tmp_path / "linkdir").symlink_to("sub")
    os.mkfifo(tmp_path / "fifo")
    problem = location_problem(location, tmp_path)
    assert problem is not None and reason in problem
    assert location_problem("w.bin", tmp_path) is None
    assert location_problem("./sub/w.bin", tmp_path) is None
