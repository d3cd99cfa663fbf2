"""Static checks of every CI file: zizmor (offline) and check-jsonschema's vendored schemas."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from mlops_ci import __version__
from tests.conftest import REPO_ROOT
from tests.pre_commit_support import readme_block

BIN = Path(sys.executable).parent
ACTIONS = sorted((REPO_ROOT / "actions").glob("*/action.yml"))
WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
GITHUB_TEMPLATES = sorted((REPO_ROOT / "templates" / "github").glob("*.yml"))
COMPONENTS = sorted((REPO_ROOT / "templates").glob("*.yml"))
ZIZMOR_CONFIG = REPO_ROOT / ".github" / "zizmor.yml"


def tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.skip(f"{name} is not installed in this environment (it is in the dev extra)")
    return str(path)


def zizmor(*paths: Path, config: Path | None = ZIZMOR_CONFIG) -> subprocess.CompletedProcess[str]:
    """zizmor offline with ``config``; None: the config it discovers beside the inputs."""
    flags = ["--config", str(config)] if config is not None else []
    return subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", *flags, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def validate(schema: str, *paths: Path) -> None:
    done = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", schema, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def component_documents(path: Path, target: Path) -> list[Path]:
    """A component's two documents: its ``spec:`` header, and its jobs with default inputs."""
    text = path.read_text()
    header, jobs = text.split("\n---\n", 1)
    spec = YAML(typ="safe").load(header)["spec"]["inputs"]

    def default(match: re.Match[str]) -> str:
        value = spec[match.group(1)]["default"]
        return str(value).lower() if isinstance(value, bool) else str(value)

    rendered = re.sub(r"\$\[\[\s*inputs\.(\w+)\s*\]\]", default, jobs)
    # What GitLab's component context gives for `component: HOST/mlops-ci/mlops-ci/NAME@0.1.0`.
    context = {"sha": "0" * 40, "reference": f"gitlab.com/mlops-ci/mlops-ci/{path.stem}@0.1.0"}
    rendered = re.sub(r"\$\[\[\s*component\.(\w+)\s*\]\]", lambda m: context[m.group(1)], rendered)
    assert "$[[" not in rendered
    (target / f"{path.stem}-spec.yml").write_text(header)
    (target / f"{path.stem}-jobs.yml").write_text(rendered)
    return [target / f"{path.stem}-spec.yml", target / f"{path.stem}-jobs.yml"]


def test_every_ci_file_is_covered() -> None:
    assert [p.parent.name for p in ACTIONS] == ["check", "promote", "setup", "verify"]
    assert {p.name for p in GITHUB_TEMPLATES} == {
        "check.yml",
        "promote.yml",
        "bench-gpu.yml",
        "monorepo.yml",
    }
    assert [p.name for p in COMPONENTS] == ["check.yml", "promote.yml"]
    assert any(p.name == "dogfood.yml" for p in WORKFLOWS)


def test_zizmor_finds_nothing(tmp_path: Path) -> None:
    readme = tmp_path / "readme-github.yml"
    readme.write_text(readme_block("github"))
    done = zizmor(REPO_ROOT / "actions", REPO_ROOT / ".github", *GITHUB_TEMPLATES, readme)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout + done.stderr
    assert "failed to parse" not in done.stdout + done.stderr  # zizmor only warns on those


def test_zizmor_on_what_init_writes(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    workflows: list[Path] = []
    gitlab: list[Path] = []
    for flags in ((), ("--monorepo", "--gpu")):
        target = tmp_path / ("plain" if not flags else "mono")
        target.mkdir()
        (target / ".git").mkdir()  # zizmor's config discovery stops at the repository root
        assert cli("init", str(target), *flags).exit_code == 0
        written = sorted((target / ".github" / "workflows").glob("*.yml"))
        assert len(written) == (2 if not flags else 3)
        assert f"@v{__version__}" in written[0].read_text()
        workflows += written
        gitlab.append(target / ".gitlab-ci.yml")
        # The zizmor config init writes is found by zizmor itself, as in the user's repository.
        done = zizmor(target, config=None)
        assert done.returncode == 0, done.stdout + done.stderr
    assert zizmor(*workflows, config=None).returncode == 0
    validate("vendor.github-workflows", *workflows)
    validate("vendor.gitlab-ci", *gitlab)


def test_schemas_of_actions_and_workflows(tmp_path: Path) -> None:
    validate("vendor.github-actions", *ACTIONS)
    readme = tmp_path / "readme-github.yml"
    readme.write_text(readme_block("github"))
    validate("vendor.github-workflows", *WORKFLOWS, *GITHUB_TEMPLATES, readme)


def test_schemas_of_gitlab_files(cli, demo_repo: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    documents = [doc for path in COMPONENTS for doc in component_documents(path, tmp_path)]
    readme = tmp_path / "readme-gitlab.yml"
    readme.write_text(readme_block("gitlab"))
    child = tmp_path / "child.yml"
    child.write_text(cli("matrix", "--gitlab", cwd=demo_repo).stdout)
    from mlops_ci.scaffold import render_template

    init = []
    for template in sorted((REPO_ROOT / "templates" / "init").glob("gitlab-ci*.yml")):
        init.append(tmp_path / template.name)
        init[-1].write_text(render_template(f"init/{template.name}"))
    validate("vendor.gitlab-ci", *documents, readme, child, *init)


def test_components_install_this_version() -> None:
    for path in COMPONENTS:
        header = YAML(typ="safe").load(path.read_text().split("\n---\n", 1)[0])
        assert header["spec"]["inputs"]["version"]["default"] == __version__, path.name
    assert f"check@{__version__}" in readme_block("gitlab")
    assert f"rev: v{__version__}" in readme_block("pre-push")
    assert f"actions/check@v{__version__}" in readme_block("github")


def test_readme_github_block_uses_real_inputs() -> None:
    workflow = YAML(typ="safe").load(readme_block("github"))
    inputs = YAML(typ="safe").load((REPO_ROOT / "actions/check/action.yml").read_text())["inputs"]
    (step,) = [s for s in workflow["jobs"]["gates"]["steps"] if "actions/check@" in s["uses"]]
    assert set(step["with"]) <= set(inputs)
    for template in GITHUB_TEMPLATES:
        data = YAML(typ="safe").load(template.read_text())
        for job in data["jobs"].values():
            for used in job.get("steps", []):
                match = re.match(r"mlops-ci/mlops-ci/actions/(\w+)@", used.get("uses", ""))
                if match:
                    action = YAML(typ="safe").load(
                        (REPO_ROOT / "actions" / match.group(1) / "action.yml").read_text()
                    )
                    assert set(used.get("with", {})) <= set(action["inputs"]), template.name
