"""Bad input to the SBOM gives exit 2 with file and line; parsers of user input never crash."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_ci.card.schema import DataSource, Governance
from mlops_ci.errors import InputError, MlopsCiError
from mlops_ci.findings import GitInfo
from mlops_ci.sbom.diff import load_sbom
from mlops_ci.sbom.document import assemble, render, validate
from mlops_ci.sbom.mlbom import ModelFacts, data_components, model_component
from mlops_ci.sbom.requirements import check_requirements_file
from tests.conftest import CliResult
from tests.test_sbom import COMPLETE, make_repo

Cli = Callable[..., CliResult]
CARD = "models/fraud-detector/README.md"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"numpy==2.1.3\n&&&bad\n", "requirements.txt:2: invalid requirement '&&&bad'"),
        (
            b"# pins\nnumpy=2\n",
            "requirements.txt:2: invalid requirement 'numpy=2' (= is not a valid",
        ),
        (
            b"numpy==2.1.3\n-r missing.txt\n",
            "requirements.txt:2: included file missing.txt does not exist",
        ),
        (
            b"numpy==2.1.3\nr\xe9quests==2\n",
            "requirements.txt:2: the requirements file is not UTF-8 text",
        ),
    ],
)
def test_bad_requirements_line_exits_2_with_file_and_line(
    cli: Cli, demo_repo: Path, content: bytes, expected: str
) -> None:
    (demo_repo / "requirements.txt").write_bytes(content)
    result = cli("sbom", cwd=demo_repo)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {expected}"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (demo_repo / ".mlops-ci" / "sbom").exists()


def test_missing_requirements_file_fails_the_check_run_with_exit_2(
    cli: Cli, demo_repo: Path
) -> None:
    (demo_repo / "requirements.txt").unlink()
    result = cli("check", cwd=demo_repo)
    assert result.exit_code == 2
    # the deps check reports the same missing file in its own words
    assert (
        "error: requirements.txt: requirements file does not exist; fix the path in"
        " 'sbom.requirements' or 'scan.requirements'\n"
    ) in result.stderr


def test_unreadable_requirements_file_exits_2(cli: Cli, demo_repo: Path) -> None:
    (demo_repo / "requirements.txt").unlink()
    (demo_repo / "requirements.txt").mkdir()
    result = cli("sbom", cwd=demo_repo)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: requirements.txt: cannot read the requirements file")


def test_included_file_with_a_bad_line_names_the_included_file(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("requests==2.32.3\nnot a requirement!\n")
    (tmp_path / "requirements.txt").write_text("-r base.txt\nnumpy==2.1.3\n")
    with pytest.raises(InputError) as caught:
        check_requirements_file(tmp_path / "requirements.txt", lambda p: p.name)
    assert str(caught.value).startswith("base.txt:2: invalid requirement 'not a requirement!'")


def test_valid_requirements_with_options_hashes_and_markers_pass(tmp_path: Path) -> None:
    (tmp_path / "constraints.txt").write_text("urllib3<3\n")
    (tmp_path / "requirements.txt").write_text(
        "--index-url https://pypi.org/simple\n-c constraints.txt\n"
        "numpy==2.1.3 \\\n    --hash=sha256:" + "a" * 64 + "\n"
        'pywin32==306; sys_platform == "win32"\nrequests[socks]>=2.31,<3  # comment\n'
    )
    check_requirements_file(tmp_path / "requirements.txt", str)


def test_malformed_card_exits_2_with_file_and_line(cli: Cli, demo_repo: Path) -> None:
    card = demo_repo / CARD
    card.write_text(card.read_text().replace("pipeline_tag: tabular", "pipeline_tag: [tabular", 1))
    result = cli("sbom", cwd=demo_repo)
    assert result.exit_code == 2
    assert re.match(rf"error: {CARD}:\d+:\d+: invalid YAML", result.stderr), result.stderr
    assert "Traceback" not in result.stderr


def test_sbom_source_without_requirements_is_a_config_error(cli: Cli, tmp_path: Path) -> None:
    repo = make_repo(tmp_path, COMPLETE)
    (repo / "mlops-ci.yaml").write_text(
        "models:\n  - {name: m, path: model.onnx, card: card.md}\nsbom: {source: requirements}\n"
    )
    result = cli("sbom", cwd=repo)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: mlops-ci.yaml: sbom.source is 'requirements' but no")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"bomFormat": "CycloneDX",\n "components": [}', "bad.json:2:17: not valid JSON"),
        ('{"spdxVersion": "SPDX-2.3"}', "bad.json:1: not a CycloneDX document"),
    ],
)
def test_diff_of_a_broken_file_exits_2(cli: Cli, tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "bad.json").write_text(text)
    (tmp_path / "good.json").write_text('{"bomFormat": "CycloneDX", "components": []}')
    result = cli("sbom", "diff", "good.json", "bad.json", cwd=tmp_path)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {expected}"), result.stderr
    missing = cli("sbom", "diff", "good.json", "nope.json", cwd=tmp_path)
    assert missing.exit_code == 2
    assert missing.stderr.startswith("error: nope.json: SBOM file not found")


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
requirement_lines = st.lists(
    st.one_of(
        st.text(max_size=30),
        st.sampled_from(
            [
                "numpy==1",
                "-r x.txt",
                "-c",
                "--hash=sha256:00",
                "-e .",
                "pkg @ https://x/y.whl",
                "a[b]>=1; python_version<'3'",
                "\\",
                "--index-url",
                "#",
                "a===",
                "a==1.*",
            ]
        ),
    ),
    max_size=6,
)


@FUZZ
@given(requirement_lines)
def test_requirements_checker_only_raises_input_error(lines: list[str]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "requirements.txt"
        path.write_text("\n".join(lines), encoding="utf-8", errors="surrogatepass")
        with contextlib.suppress(InputError):
            check_requirements_file(path, str)


@FUZZ
@given(st.text(max_size=200))
def test_sbom_loader_only_raises_input_error(text: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "x.json"
        path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
        with contextlib.suppress(MlopsCiError):
            load_sbom(path, "x.json")


card_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(card_text, card_text, card_text, card_text, card_text)
def test_any_card_text_gives_a_valid_document(
    name: str, source: str, owner: str, license_: str, digest: str
) -> None:
    dataset = DataSource(name=name, version="1", source=source, owners=[owner], license=license_)
    governance = Governance(training_data=[dataset], intended_use=source, architecture=owner)
    data = data_components(governance, "m")
    from mlops_ci.card.schema import CardMetadata

    card = CardMetadata(license=license_, governance=governance, pipeline_tag=name)
    facts = ModelFacts(name="m", files=[("model.onnx", "0" * 64)], card=card, oms_digest=digest)
    model = model_component(facts, [d["bom-ref"] for d in data])
    bom = assemble(
        timestamp="2026-01-01T00:00:00Z",
        tool_version="0",
        tools=[],
        git=GitInfo(),
        source="requirements",
        model=model,
        data=data,
        software=[],
        dependencies=[],
    )
    validate(render(bom))
    assert json.loads(render(bom))["components"][1]["name"] == name


def test_pyproject_files_are_not_taken_as_requirements(cli: Cli, tmp_path: Path) -> None:
    repo = make_repo(tmp_path, COMPLETE)
    (repo / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "1"\n')
    config = repo / "mlops-ci.yaml"
    models = "models:\n  - {name: m, path: model.onnx, card: card.md}\n"
    config.write_text(models + "scan: {requirements: [requirements.txt, pyproject.toml]}\n")
    inherited = cli("sbom", cwd=repo)
    assert inherited.exit_code == 0, inherited.stderr
    config.write_text(models + "sbom: {requirements: [pyproject.toml]}\n")
    explicit = cli("sbom", cwd=repo)
    assert explicit.exit_code == 2
    assert "the SBOM is made from requirements files, not pyproject.toml" in explicit.stderr


def test_credentials_in_a_bad_line_are_not_repeated(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text("foo @ https://bob:t0ken@files.example/foo.whl ; ;;\n")
    with pytest.raises(InputError) as caught:
        check_requirements_file(path, lambda p: p.name)
    assert "t0ken" not in str(caught.value)
    assert str(caught.value).startswith(
        "requirements.txt:1: invalid requirement 'foo @ https://***@"
    )
