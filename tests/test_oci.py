"""The OCI package without a registry: references, manifests read from a registry, what push
refuses before any network, and what ``pull`` refuses to write over (issue 17)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from mlops_ci.oci.errors import ArtifactError, OciError
from mlops_ci.oci.modelpack import (
    MODEL_ARTIFACT_TYPE,
    fallback_tag,
    read_model_manifest,
)
from mlops_ci.oci.reference import OciReference, parse_reference
from tests.conftest import CliResult
from tests.oci_models import signed_repo

Cli = Callable[..., CliResult]
HEX = "a" * 64


def test_references_parse() -> None:
    assert parse_reference("oci://127.0.0.1:5000/models/m:v1") == OciReference(
        "127.0.0.1:5000", "models/m", "v1", None
    )
    pinned = parse_reference(f"oci://registry.example/team/m@sha256:{HEX}")
    assert (pinned.tag, pinned.digest, pinned.manifest_reference) == (
        None,
        f"sha256:{HEX}",
        f"sha256:{HEX}",
    )
    assert str(pinned) == f"oci://registry.example/team/m@sha256:{HEX}"
    assert parse_reference("oci://[::1]:5000/m:v1").is_loopback
    assert parse_reference("oci://localhost:5000/m").scheme() == "http"
    assert parse_reference("oci://registry.example/m").scheme() == "https"
    assert parse_reference("oci://registry.example/m").scheme(plain_http=True) == "http"


@pytest.mark.parametrize(
    "text",
    [
        "docker://host/m",
        "oci://host",
        "oci:///m",
        "oci://host/Models",
        "oci://host/m:",
        "oci://host/m@sha256:short",
        "oci://host/m:-bad",
        "oci://ho st/m",
    ],
)
def test_bad_references_are_refused(text: str) -> None:
    with pytest.raises(OciError) as raised:
        parse_reference(text)
    assert raised.value.exit_code == 2


def test_fallback_tag() -> None:
    assert fallback_tag(f"sha256:{HEX}") == f"sha256-{HEX}"


def _manifest(paths: list[str], model_path: str = "model") -> bytes:
    layer = {"mediaType": "x", "digest": f"sha256:{HEX}", "size": 1}
    return json.dumps(
        {
            "artifactType": MODEL_ARTIFACT_TYPE,
            "config": layer,
            "layers": [
                {**layer, "annotations": {"org.cncf.model.filepath": path}} for path in paths
            ],
            "annotations": {"dev.mlops-ci.model.path": model_path},
        }
    ).encode()


@pytest.mark.parametrize(
    "paths",
    [
        ["../escape"],
        ["/etc/passwd"],
        ["model/../../x"],
        ["model/./x"],
        ["model\\x"],
        ["model/a", "model/a"],
        ["model/a", "model/a/b"],
        ["model/a/b", "model/a"],
        [""],
    ],
)
def test_layer_paths_that_leave_the_destination_are_refused(paths: list[str]) -> None:
    with pytest.raises(ArtifactError) as raised:
        read_model_manifest(_manifest(paths), "test")
    assert raised.value.exit_code == 1


def test_other_artifacts_are_refused() -> None:
    with pytest.raises(ArtifactError, match="not a ModelPack model"):
        read_model_manifest(json.dumps({"artifactType": "x"}).encode(), "test")
    with pytest.raises(ArtifactError, match="single name"):
        read_model_manifest(_manifest(["a/b"], model_path="a/b"), "test")
    assert read_model_manifest(_manifest(["model/a", "model/b/c"]), "t").model_path.name == "model"


def test_push_refuses_an_unsigned_model(cli: Cli, tmp_path: Path) -> None:
    repo = signed_repo(tmp_path / "repo", cli)
    (repo / "model.sig").unlink()
    result = cli("push", "m", "--to", "oci://127.0.0.1:1/models/m", cwd=repo)
    assert result.exit_code == 2
    assert "has no signature" in result.stderr and "mlops-ci sign --model m" in result.stderr


def test_push_refuses_a_model_changed_after_signing(cli: Cli, tmp_path: Path) -> None:
    repo = signed_repo(tmp_path / "repo", cli)
    (repo / "model" / "config.json").write_text('{"layers": 3}\n')
    (repo / "model" / "extra.bin").write_bytes(b"x")
    result = cli("push", "m", "--to", "oci://127.0.0.1:1/models/m", cwd=repo)
    assert result.exit_code == 2
    assert "changed: config.json" in result.stderr and "added: extra.bin" in result.stderr


def test_bad_input_is_exit_2_in_one_line(cli: Cli, tmp_path: Path) -> None:
    repo = signed_repo(tmp_path / "repo", cli)
    for args in (
        ("push", "m", "--to", "https://registry.example/m"),
        ("push", "m", "--to", f"oci://127.0.0.1:1/m@sha256:{HEX}"),
        ("push", "nope", "--to", "oci://127.0.0.1:1/m"),
        ("pull", "oci://127.0.0.1:1/M", "--to", str(tmp_path / "out")),
        ("verify", "oci://127.0.0.1:1/m:v1", "--model", "m"),
        ("verify", "model", "--plain-http"),
    ):
        result = cli(*args, cwd=repo)
        assert result.exit_code == 2, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_pull_refuses_a_destination_with_files(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = cli("pull", f"oci://127.0.0.1:1/m@sha256:{HEX}", "--to", str(out))
    assert result.exit_code == 2
    assert "already holds files" in result.stderr
    assert (out / "keep.txt").read_text() == "mine"


def test_progress_is_drawn_on_a_terminal_only() -> None:
    import io

    from mlops_ci.oci.progress import MIB, terminal_progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert terminal_progress("push", MIB, io.StringIO()) is None
    screen = Terminal()
    progress = terminal_progress("push", 3 * MIB, screen)
    assert progress is not None
    progress(MIB)
    progress.close()
    assert screen.getvalue() == "\rpush  1 / 3 MiB\rpush  1 / 3 MiB\n"
