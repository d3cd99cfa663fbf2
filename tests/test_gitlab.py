"""The GitLab CI/CD components, run for real by gitlab-ci-local with the shell executor."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.conftest import REPO_ROOT
from tests.test_promote_e2e import _signed_template, signed_repo

GITLAB_CI_LOCAL_VERSION = "4.60.0"
LOCAL_BINARY = (
    REPO_ROOT / ".tools" / "gitlab-ci-local" / "node_modules" / ".bin" / "gitlab-ci-local"
)
CARD = Path("models/fraud-detector/README.md")
SHARED_FIXTURES = (_signed_template, signed_repo)  # the signed demo of the promotion tests


def _version(binary: str) -> str | None:
    try:
        done = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@pytest.fixture(scope="session")
def gitlab_ci_local() -> str:
    """gitlab-ci-local 4.60.0 with rsync; the test run installs nothing (``.ci/run`` runs
    ``.ci/install-tools`` first), so without them these tests skip, saying why."""
    candidates = [str(LOCAL_BINARY), shutil.which("gitlab-ci-local") or ""]
    found = next((c for c in candidates if c and _version(c) == GITLAB_CI_LOCAL_VERSION), None)
    if found is None or shutil.which("rsync") is None:
        pytest.skip(
            "gitlab-ci-local 4.60.0 and rsync are not installed: run .ci/install-tools (.ci/run"
            " does) to run the GitLab component tests"
        )
    return found


def run_pipeline(
    binary: str,
    repo: Path,
    *args: str,
    variables: dict[str, str] | None = None,
    path_first: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run gitlab-ci-local in ``repo``; mlops-ci comes from this test's virtualenv (after
    ``path_first``, a directory of stand-in commands)."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    env = {**os.environ, "PATH": f"{path_first}{os.pathsep}{path}" if path_first else path}
    command = [
        binary,
        "--force-shell-executor",
        "--no-color",
        "--home",
        str(repo.parent / "glci-home"),
    ]
    for key, value in (variables or {}).items():
        command += ["--variable", f"{key}={value}"]
    return subprocess.run(
        [*command, *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def commit(repo: Path, message: str) -> None:
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", message], cwd=repo, check=True)


def use_component(repo: Path, pipeline: str) -> None:
    """Copy the components into the repository and include them as ``local:`` files."""
    (repo / "ci").mkdir()
    for name in ("check", "promote"):
        shutil.copy(REPO_ROOT / "templates" / f"{name}.yml", repo / "ci" / f"{name}.yml")
    (repo / ".gitlab-ci.yml").write_text(pipeline)
    commit(repo, "CI")


def readme_gitlab_block() -> str:
    """The GitLab usage block of the README, with the component included from this checkout."""
    readme = (REPO_ROOT / "README.md").read_text()
    match = re.search(r"<!-- test: gitlab -->\n```yaml\n(.*?)```", readme, re.S)
    assert match, "README.md: the GitLab usage block (marked <!-- test: gitlab -->) is missing"
    block = match.group(1)
    return re.sub(
        r"- component: \$CI_SERVER_FQDN/mlops-ci/mlops-ci/(\w+)@[\w.]+",
        lambda m: f"- local: ci/{m.group(1)}.yml",
        block,
    )


def with_preinstalled_mlops_ci(pipeline: str) -> str:
    """The same pipeline, told that mlops-ci is on PATH already (no pip install)."""
    data = YAML(typ="safe").load(pipeline)
    for include in data["include"]:
        include.setdefault("inputs", {})["install"] = "none"
    return json.dumps(data)  # JSON is YAML


def test_check_component_reports_and_fails_on_a_broken_card(
    gitlab_ci_local: str, demo_repo: Path
) -> None:
    use_component(demo_repo, with_preinstalled_mlops_ci(readme_gitlab_block()))
    done = run_pipeline(gitlab_ci_local, demo_repo, "mlops-ci-check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASS  mlops-ci-check" in done.stdout
    artifacts = demo_repo / ".gitlab-ci-local" / "artifacts" / "mlops-ci-check" / "reports"
    junit = ET.parse(artifacts / "mlops-ci.junit.xml").getroot()
    assert junit.tag == "testsuites" and int(junit.get("failures", "0")) == 0
    quality = json.loads((artifacts / "gl-code-quality-report.json").read_text())
    # A 1 s bench budget on a loaded runner may leave the same-run comparison undecided: a
    # medium BENCH-INCONCLUSIVE, reported but not blocking. Nothing else may be reported.
    assert [q for q in quality if q["check_name"] != "BENCH-INCONCLUSIVE"] == []

    card = demo_repo / CARD
    card.write_text(card.read_text().replace("risk_level: limited", "risk_level: extreme"))
    commit(demo_repo, "Break the card")
    failed = run_pipeline(gitlab_ci_local, demo_repo, "mlops-ci-check")
    assert failed.returncode != 0
    assert "FAIL  mlops-ci-check" in failed.stdout
    quality = json.loads((artifacts / "gl-code-quality-report.json").read_text())
    assert {item["check_name"] for item in quality} >= {"CARD003"}
    assert all(item["location"]["path"] == CARD.as_posix() for item in quality)
    junit = ET.parse(artifacts / "mlops-ci.junit.xml").getroot()
    assert int(junit.get("failures", "0")) >= 1


def _has_sbom_check() -> bool:
    from mlops_ci.checks import registry

    return "sbom" in registry()


@pytest.mark.skipif(
    not _has_sbom_check(),
    reason="the sbom check is not on this branch yet (issue 5): nothing writes gl-sbom-*.cdx.json",
)
def test_check_component_writes_the_cyclonedx_report(gitlab_ci_local: str, demo_repo: Path) -> None:
    use_component(demo_repo, with_preinstalled_mlops_ci(readme_gitlab_block()))
    done = run_pipeline(gitlab_ci_local, demo_repo, "mlops-ci-check")
    assert done.returncode == 0, done.stdout + done.stderr
    artifacts = demo_repo / ".gitlab-ci-local" / "artifacts" / "mlops-ci-check" / "reports"
    (sbom,) = artifacts.glob("gl-sbom-*.cdx.json")
    assert sbom.name == "gl-sbom-fraud-detector.cdx.json"
    document = json.loads(sbom.read_text())
    assert document["bomFormat"] == "CycloneDX" and document["specVersion"] == "1.6"


def test_monorepo_child_pipeline_runs_the_changed_models(
    gitlab_ci_local: str, demo_repo: Path, tmp_path: Path
) -> None:
    from tests.test_matrix import add_models

    add_models(demo_repo, ["alpha", "beta"])
    commit(demo_repo, "Two more models")
    base = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=demo_repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    card = demo_repo / "models" / "beta" / "README.md"
    card.write_text(card.read_text().replace("Score card", "Score debit card"))
    commit(demo_repo, "Change beta's card")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    child = subprocess.run(
        ["mlops-ci", "matrix", "--gitlab", "--base", base, "--install", ""],
        cwd=demo_repo,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (demo_repo / "child.yml").write_text(child)
    listed = run_pipeline(gitlab_ci_local, demo_repo, "--file", "child.yml", "--list")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "mlops-ci: beta" in listed.stdout
    assert "mlops-ci: alpha" not in listed.stdout and "fraud-detector" not in listed.stdout
    done = run_pipeline(gitlab_ci_local, demo_repo, "--file", "child.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASS  mlops-ci: beta" in done.stdout


def test_promote_component_expands_with_its_inputs(gitlab_ci_local: str, demo_repo: Path) -> None:
    use_component(
        demo_repo,
        "include:\n  - local: ci/promote.yml\n    inputs: {model: fraud-detector, to: staging, when: on_success}\n",
    )
    done = run_pipeline(gitlab_ci_local, demo_repo, "--list-json")
    assert done.returncode == 0, done.stdout + done.stderr
    jobs = {job["name"]: job for job in json.loads(done.stdout[done.stdout.index("[") :])}
    assert "mlops-ci-promote" in jobs and "mlops-ci-promote-tag" in jobs
    assert "mlops-ci-promotion-verify" in jobs
    preview = run_pipeline(gitlab_ci_local, demo_repo, "--preview")
    assert "MLOPS_CI_INPUT_TO: staging" in preview.stdout


def test_promote_component_verifies_a_promotion_merge_request(
    gitlab_ci_local: str, signed_repo: Path
) -> None:
    repo = signed_repo
    use_component(repo, "include:\n  - local: ci/promote.yml\n    inputs: {install: none}\n")
    subprocess.run(["git", "push", "-q", "origin", "main"], cwd=repo, check=True)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    pushed = subprocess.run(
        ["mlops-ci", "promote", "fraud-detector", "--to", "dev", "--forge", "none"],
        cwd=repo,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    # one branch per requested transition: version, kind, digest and the state it starts from
    branch = pushed.stdout.split("pushed ")[-1].split(" ")[0]
    assert branch.startswith("mlops-ci/promote/fraud-detector/dev/1.0.0-promote-"), pushed.stdout
    subprocess.run(["git", "fetch", "-q", "origin"], cwd=repo, check=True)
    subprocess.run(
        ["git", "checkout", "-q", "-b", "review", f"origin/{branch}"], cwd=repo, check=True
    )
    merge_request = {
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": branch,
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": subprocess.run(
            ["git", "merge-base", "main", "HEAD"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip(),
    }
    done = run_pipeline(gitlab_ci_local, repo, "mlops-ci-promotion-verify", variables=merge_request)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASS  mlops-ci-promotion-verify" in done.stdout
    junit = repo / ".gitlab-ci-local/artifacts/mlops-ci-promotion-verify/reports"
    assert (junit / "mlops-ci-promotion.junit.xml").is_file()

    state = repo / "deploy" / "dev.yaml"
    text = state.read_text()
    state.write_text(text.replace(text.split("digest: ")[1].split("\n")[0], "sha256:" + "0" * 64))
    commit(repo, "A hand edit of the state")
    refused = run_pipeline(
        gitlab_ci_local, repo, "mlops-ci-promotion-verify", variables=merge_request
    )
    assert refused.returncode != 0
    assert "FAIL  mlops-ci-promotion-verify" in refused.stdout


def install_script(component: str) -> str:
    """The install part of a component's job script (the same text in both components)."""
    data = YAML(typ="safe").load(
        (REPO_ROOT / "templates" / component).read_text().split("\n---\n")[1]
    )
    job = data["mlops-ci-check"] if component == "check.yml" else data[".mlops-ci-promote-base"]
    script = (job.get("before_script") or job["script"])[0]
    start = script.index("# Install mlops-ci")
    return script[start : script.index("\nesac\n", start) + len("\nesac\n")]


def stand_in_python(tmp_path: Path) -> tuple[Path, Path]:
    """A ``python`` first on PATH: ``-m pip install SPEC`` is logged and, for a git URL, checked
    for real (clone, checkout of the ref, mlops-ci's pyproject.toml there); anything else runs
    this virtualenv's Python. (A real build needs the package index for setuptools.)"""
    bin_dir = tmp_path / "stand-in-bin"
    bin_dir.mkdir(parents=True)
    log = tmp_path / "pip.log"
    python = bin_dir / "python"
    python.write_text(
        "#!/bin/sh\n"
        'if [ "$1 $2 $3" = "-m pip install" ]; then\n'
        "  for spec; do :; done\n"
        f'  printf "%s\\n" "$spec" >> {log}\n'
        '  case "$spec" in "mlops-ci @ git+"*) ;; *) exit 0 ;; esac\n'
        '  url="${spec#mlops-ci @ git+}" && ref="${url##*@}" && url="${url%@*}"\n'
        f'  dir="$(mktemp -d {tmp_path}/clone.XXXXXX)"\n'
        '  git clone -q "$url" "$dir" && git -C "$dir" checkout -q "$ref" || exit 1\n'
        '  grep -q \'^name = "mlops-ci"\' "$dir/pyproject.toml" || exit 1\n'
        '  echo "stand-in pip: mlops-ci at $(git -C "$dir" rev-parse HEAD)"; exit 0\n'
        "fi\n"
        f'exec {sys.executable} "$@"\n'
    )
    python.chmod(0o755)
    return bin_dir, log


def run_install(
    tmp_path: Path, variables: dict[str, str], component: str = "check.yml"
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run the install part under POSIX sh with ``variables``; the specs pip was given."""
    bin_dir, log = stand_in_python(tmp_path)
    script = tmp_path / "install.sh"
    script.write_text("set -eu\n" + install_script(component))
    defaults = {
        "MLOPS_CI_INSTALL": "repository",
        "MLOPS_CI_INSTALL_VERSION": "0.1.0",
        "MLOPS_CI_INSTALL_REPOSITORY": "",
        "MLOPS_CI_COMPONENT_REFERENCE": "$[[ component.reference ]]",
        "MLOPS_CI_COMPONENT_SHA": "$[[ component.sha ]]",
        "CI_SERVER_FQDN": "gitlab.example.com",
        "CI_SERVER_URL": "https://gitlab.example.com",
    }
    env = {
        **os.environ,
        **defaults,
        **variables,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
    }
    done = subprocess.run(
        ["sh", str(script)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    return done, log.read_text().splitlines() if log.exists() else []


def test_both_components_install_the_same_way() -> None:
    assert install_script("check.yml") == install_script("promote.yml")
    for name in ("check.yml", "promote.yml"):
        header = YAML(typ="safe").load(
            (REPO_ROOT / "templates" / name).read_text().split("\n---\n")[0]
        )
        assert header["spec"]["component"] == ["sha", "reference"]
        assert header["spec"]["inputs"]["install"]["default"] == "repository"


def test_component_install_resolves_the_component_project(tmp_path: Path) -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    # What GitLab interpolates for `component: gitlab.example.com/tools/mlops-ci/check@1.0`.
    context = {
        "MLOPS_CI_COMPONENT_REFERENCE": "gitlab.example.com/tools/mlops-ci/check@1.0",
        "MLOPS_CI_COMPONENT_SHA": sha,
    }
    done, specs = run_install(
        tmp_path / "same", {**context, "CI_SERVER_URL": "http://gitlab.example.com"}
    )
    assert specs == [f"mlops-ci @ git+http://gitlab.example.com/tools/mlops-ci.git@{sha}"], (
        done.stderr
    )
    other = {**context, "MLOPS_CI_COMPONENT_REFERENCE": "gitlab.com/mlops-ci/mlops-ci/check@0.1.0"}
    done, specs = run_install(tmp_path / "other", other)
    assert specs == [f"mlops-ci @ git+https://gitlab.com/mlops-ci/mlops-ci.git@{sha}"], done.stderr
    mirror = {**context, "MLOPS_CI_INSTALL_REPOSITORY": "https://mirror.example/ml/mlops-ci.git"}
    done, specs = run_install(tmp_path / "mirror", mirror)
    assert specs == [f"mlops-ci @ git+https://mirror.example/ml/mlops-ci.git@{sha}"], done.stderr
    done, specs = run_install(tmp_path / "index", {"MLOPS_CI_INSTALL": "index"}, "promote.yml")
    assert specs == ["mlops-ci==0.1.0"], done.stderr
    done, specs = run_install(tmp_path / "none", {"MLOPS_CI_INSTALL": "none"})
    assert done.returncode == 0 and specs == []
    # Included without `component:` (no context): say what to do, install nothing.
    done, specs = run_install(tmp_path / "local", {})
    assert done.returncode == 2 and specs == []
    assert "needs the component context" in done.stderr
    done, specs = run_install(tmp_path / "bad", {"MLOPS_CI_INSTALL": "pypi"})
    assert done.returncode == 2 and "repository, index or none" in done.stderr


def test_promote_component_installs_from_the_component_repository(
    gitlab_ci_local: str, demo_repo: Path, tmp_path: Path
) -> None:
    # The component project's repository, served as a file URL by a stand-in "GitLab server".
    server = tmp_path / "server"
    project = server / "tools" / "mlops-ci.git"
    subprocess.run(["git", "init", "-q", "--bare", str(project)], check=True)
    subprocess.run(
        ["git", "push", "-q", str(project), "HEAD:refs/heads/main"], cwd=REPO_ROOT, check=True
    )
    sha = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    use_component(demo_repo, "include:\n  - local: ci/promote.yml\n")  # install: repository
    bin_dir, log = stand_in_python(tmp_path)
    context = {  # what GitLab sets and interpolates for component: gitlab.example.com/tools/mlops-ci/promote@SHA
        "CI_SERVER_FQDN": "gitlab.example.com",
        "CI_SERVER_URL": f"file://{server}",
        "MLOPS_CI_COMPONENT_REFERENCE": f"gitlab.example.com/tools/mlops-ci/promote@{sha}",
        "MLOPS_CI_COMPONENT_SHA": sha,
    }
    done = run_pipeline(
        gitlab_ci_local, demo_repo, "mlops-ci-promote-tag", variables=context, path_first=bin_dir
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"installing from file://{project}" in done.stdout
    assert f"stand-in pip: mlops-ci at {sha}" in done.stdout
    assert log.read_text().splitlines() == [f"mlops-ci @ git+file://{project}@{sha}"]
    assert "PASS  mlops-ci-promote-tag" in done.stdout


def promote_job_script() -> str:
    """The ``mlops-ci-promote`` job's script, as GitLab runs it (its parts in order)."""
    data = YAML(typ="safe").load(
        (REPO_ROOT / "templates" / "promote.yml").read_text().split("\n---\n")[1]
    )
    return "\n".join(data["mlops-ci-promote"]["script"])


def test_promote_job_pushes_to_a_registry_and_promotes_by_digest(
    signed_repo: Path, tmp_path: Path
) -> None:
    """push_to (issue 17), run under POSIX sh without gitlab-ci-local: the model and its
    evidence go to a real loopback registry and the promotion names the printed digest."""
    from tests.oci_registry import start_registry

    origin = signed_repo / ".git" / "mlops-ci-demo-origin.git"
    # GitLab opens the MR from a push option (no GITLAB_TOKEN here); the bare origin accepts it
    subprocess.run(
        ["git", "config", "receive.advertisePushOptions", "true"], cwd=origin, check=True
    )
    script = tmp_path / "promote.sh"
    script.write_text("set -eu\nmkdir -p reports\n" + promote_job_script())
    with start_registry(tmp_path / "registry") as registry:
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "MLOPS_CI_INPUT_MODEL": "fraud-detector",
            "MLOPS_CI_INPUT_TO": "dev",
            "MLOPS_CI_INPUT_COMMIT_EVIDENCE": "false",
            "MLOPS_CI_INPUT_PUSH_TO": f"oci://{registry.host}/models",
            "CI_COMMIT_SHA": "0123456789abcdef0123456789abcdef01234567",
            "CI_REGISTRY_USER": "",
            "CI_PROJECT_PATH": "acme/models",
            "CI_SERVER_URL": "https://gitlab.example.com",
        }
        done = subprocess.run(
            ["sh", str(script)],
            cwd=signed_repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    prefix = f"oci://{registry.host}/models/fraud-detector"
    assert f"pushed: fraud-detector to {prefix}@sha256:" in done.stdout
    heads = subprocess.run(
        ["git", "ls-remote", "--heads", "origin"],
        cwd=signed_repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (branch,) = [h.split("refs/heads/")[1] for h in heads.splitlines() if "mlops-ci/promote/" in h]
    state = subprocess.run(
        ["git", "show", f"{branch}:deploy/dev.yaml"],
        cwd=origin,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"artifact: {prefix}@sha256:" in state
