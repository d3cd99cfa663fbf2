"""The composite GitHub actions, run step by step in a harness that plays the runner."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tests.actions_harness import ROOT, ActionRun, load_action, run_action
from tests.test_formats import validate_sarif
from tests.test_promote_e2e import _signed_template, signed_repo

CARD = Path("models/fraud-detector/README.md")
SHARED_FIXTURES = (_signed_template, signed_repo)  # the signed demo of the promotion tests
VENV_BIN = str(Path(sys.executable).parent)
PREINSTALLED = {"install": "false"}
FAKE_TOKEN = "t0ken-secret"  # noqa: S105  (a marker that must never be printed)


def command_exists(*words: str) -> bool:
    """Whether ``mlops-ci WORDS --help`` exists in this checkout (other issues add commands)."""
    from mlops_ci.cli import main

    try:
        return main([*words, "--help"]) == 0
    except SystemExit as exc:  # pragma: no cover - typer's help exits
        return exc.code == 0


def break_card(repo: Path) -> None:
    """An invalid risk level: the card check fails with a finding (exit 1)."""
    card = repo / CARD
    card.write_text(card.read_text().replace("risk_level: limited", "risk_level: extreme"))


def run(
    name: str,
    repo: Path,
    tmp_path: Path,
    event: str = "push",
    env: dict[str, str] | None = None,
    github_token: str = "",
    **inputs: str,
) -> ActionRun:
    env = {"PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}", **(env or {})}
    given = {**PREINSTALLED, **{k.replace("_", "-"): v for k, v in inputs.items()}}
    return run_action(
        name,
        given,
        workspace=repo,
        runner_temp=tmp_path / "runner",
        env=env,
        event_name=event,
        context={"github.token": github_token},
    )


def code_scanning_env(httpserver: HTTPServer) -> dict[str, str]:
    """The variables of a push run whose API (and code scanning endpoint) is ``httpserver``."""
    return {
        "GITHUB_API_URL": httpserver.url_for("").rstrip("/"),
        "GITHUB_REPOSITORY": "acme/models",
        "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
        "GITHUB_REF": "refs/heads/main",
    }


def test_every_action_maps_inputs_through_env_only() -> None:
    for name in ("check", "promote", "verify", "setup"):
        action = load_action(name)
        for step in action["runs"]["steps"]:
            # No `uses:` at all: a composite action's `uses:` is fetched even when its `if:` is
            # false (act in offline mode fails on it; GHES may not mirror the action).
            assert "uses" not in step, f"{name}: {step.get('name')}"
            assert step["shell"] == "bash"
            assert "${{" not in step["run"]
        if name != "setup":
            assert {"verdict", "report", "sarif", "sbom", "reports"} <= set(action["outputs"])
        assert action["inputs"]["version"]["default"] == ""  # the action's own checkout


def readme_check_inputs() -> dict[str, str]:
    """The ``with:`` of actions/check in the README's GitHub block (the token's expression
    becomes a value; mlops-ci is taken from this environment instead of being installed)."""
    from ruamel.yaml import YAML

    from tests.pre_commit_support import readme_block

    workflow = YAML(typ="safe").load(readme_block("github"))
    (step,) = [s for s in workflow["jobs"]["gates"]["steps"] if "actions/check@" in s["uses"]]
    given = {key: str(value) for key, value in step["with"].items()}
    assert given.pop("token") == "${{ github.token }}"
    return {**given, "token": FAKE_TOKEN}


def test_check_passes_on_the_demo_as_the_readme_uses_it(
    demo_repo: Path, tmp_path: Path, httpserver: HTTPServer
) -> None:
    from tests.test_code_scanning import CodeScanning, decoded

    stand_in = CodeScanning(httpserver)
    inputs = {key.replace("-", "_"): value for key, value in readme_check_inputs().items()}
    assert "version" not in inputs  # the README installs from the action's checkout
    done = run(
        "check",
        demo_repo,
        tmp_path,
        env=code_scanning_env(httpserver),
        github_token="ghs_sarif_token",  # noqa: S106  (the stand-in's fake token)
        **inputs,
    )
    assert not done.failed, done.log
    out = done.outputs
    assert out["verdict"] == "pass"
    assert out["exit-code"] == "0"
    assert out["report"] == str(demo_repo / "reports" / "mlops-ci.json")
    assert json.loads(Path(out["report"]).read_text())["verdict"] == "pass"
    validate_sarif(Path(out["sarif"]).read_text())
    assert Path(out["markdown"]).read_text() in done.summary
    assert "## ✅ mlops-ci: PASS" in done.summary
    from mlops_ci.checks import registry

    if "sbom" in registry():
        (sbom,) = out["sbom"].splitlines()
        assert Path(sbom).is_absolute() and json.loads(Path(sbom).read_text())["bomFormat"]
    assert out["reports"] == str(demo_repo / "reports")
    assert not done.step("Fail when a gate failed").ran
    upload = done.step("Upload SARIF to code scanning")
    assert upload.ran and "uploaded" in upload.stdout, done.log
    (sent,) = stand_in.uploads
    written = json.loads(Path(out["sarif"]).read_text())
    assert decoded(sent) == written  # no sarif-category: the report's own id, per model
    assert written["runs"][0]["automationDetails"]["id"] == "mlops-ci/check/fraud-detector/"
    assert Path(out["reports"], "mlops-ci.html").read_text().startswith("<!DOCTYPE html>")
    assert not done.step("Update the sticky PR comment").ran  # a push, not a pull request
    assert "no id-token: write permission" in done.step("Sign the models keylessly").stdout


def test_check_fails_on_a_broken_card_and_still_reports(
    demo_repo: Path, tmp_path: Path, httpserver: HTTPServer
) -> None:
    from tests.test_code_scanning import CodeScanning, decoded

    stand_in = CodeScanning(httpserver)
    break_card(demo_repo)
    done = run(
        "check",
        demo_repo,
        tmp_path,
        env=code_scanning_env(httpserver),
        github_token="ghs_sarif_token",  # noqa: S106  (the stand-in's fake token)
        upload_sarif="true",
        sarif_category="models/fraud",
    )
    assert done.failed
    assert done.outputs["verdict"] == "fail"
    assert done.outputs["exit-code"] == "1"
    assert "## ❌ mlops-ci: FAIL" in done.summary
    assert "CARD003" in done.summary
    assert done.step("Upload SARIF to code scanning").returncode == 0  # findings are uploaded
    (sent,) = stand_in.uploads
    sarif = decoded(sent)
    assert sarif["runs"][0]["automationDetails"]["id"] == "models/fraud/"
    assert "CARD003" in json.dumps(sarif["runs"][0]["results"])
    assert not done.step("Sign the models keylessly").ran  # a failing model is never signed
    final = done.step("Fail when a gate failed")
    assert final.returncode == 1
    assert "verdict fail, exit code 1" in final.stdout


def test_check_soft_mode_and_model_selection(demo_repo: Path, tmp_path: Path) -> None:
    break_card(demo_repo)
    done = run(
        "check",
        demo_repo,
        tmp_path,
        fail="false",
        models="fraud-detector",
        fail_on="critical",
        checks="card policy",
    )
    assert not done.failed, done.log
    assert done.outputs["verdict"] == "pass"  # nothing critical
    report = json.loads(Path(done.outputs["report"]).read_text())
    assert {r["check"] for r in report["results"]} == {"card", "policy"}
    unknown = run("check", demo_repo, tmp_path / "2", models="nope,", checks="card")
    assert unknown.outputs["verdict"] == "error"
    assert unknown.outputs["exit-code"] == "2"
    assert "unknown model 'nope'" in unknown.step("Run the gates").stderr
    assert "mlops-ci could not run" in unknown.summary


def test_check_changed_only_on_a_pull_request(demo_repo: Path, tmp_path: Path) -> None:
    done = run("check", demo_repo, tmp_path, changed_only="true", base="HEAD")
    assert not done.failed, done.log
    report = json.loads(Path(done.outputs["report"]).read_text())
    assert report["models"] == [] and report["verdict"] == "pass"
    missing = run("check", demo_repo, tmp_path / "2", changed_only="true")
    assert missing.failed
    assert "changed-only needs the base input" in missing.step("Run the gates").stdout


def test_check_policies_input_overrides_the_configuration(demo_repo: Path, tmp_path: Path) -> None:
    done = run("check", demo_repo, tmp_path, policies="strict", checks="card,policy")
    report = json.loads(Path(done.outputs["report"]).read_text())
    (policy,) = [r for r in report["results"] if r["check"] == "policy"]
    assert [p["name"] for p in policy["facts"]["packs"]] == ["strict"]


def test_sign_requires_an_id_token_when_asked(demo_repo: Path, tmp_path: Path) -> None:
    done = run("check", demo_repo, tmp_path, sign="true", checks="card")
    step = done.step("Sign the models keylessly")
    assert step.returncode == 2
    assert "id-token: write" in step.stdout


def _shim(tmp_path: Path, log: Path) -> str:
    """A ``mlops-ci`` earlier on PATH that logs its arguments, then runs the real one."""
    shim_dir = tmp_path / "shim"
    shim_dir.mkdir()
    shim = shim_dir / "mlops-ci"
    shim.write_text(
        f'#!/bin/sh\nprintf "%s (config: %s)\\n" "$*" "$MLOPS_CI_CONFIG" >> {log}\n'
        f'case "$1" in sign) exit 0 ;; esac\nexec {VENV_BIN}/mlops-ci "$@"\n'
    )
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    return f"{shim_dir}{os.pathsep}{VENV_BIN}{os.pathsep}{os.environ['PATH']}"


def test_sign_runs_keyless_when_the_job_has_an_id_token(demo_repo: Path, tmp_path: Path) -> None:
    # Keyless signing needs Fulcio and Rekor: the shim stops at that boundary and records the call.
    log = tmp_path / "calls.log"
    env = {"PATH": _shim(tmp_path, log), "ACTIONS_ID_TOKEN_REQUEST_URL": "http://127.0.0.1:9/token"}
    (demo_repo / "mlops-ci.yaml").rename(demo_repo / "gates.yaml")  # the config input is honoured
    done = run(
        "check",
        demo_repo,
        tmp_path,
        env=env,
        sigstore_staging="true",
        models="fraud-detector",
        checks="card",
        config="gates.yaml",
    )
    assert not done.failed, done.log
    calls = log.read_text().splitlines()
    assert calls[-1] == "sign --mode sigstore --staging --model fraud-detector (config: gates.yaml)"


def pull_request_env(tmp_path: Path, httpserver: HTTPServer, repository: str) -> dict[str, str]:
    """The variables GitHub sets on a pull_request run (PR #7), its API on ``httpserver``."""
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7}}))
    return {
        "GITHUB_API_URL": httpserver.url_for("").rstrip("/"),
        "GITHUB_REPOSITORY": repository,
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_RUN_ID": "42",
    }


def test_sticky_comment_is_created_then_updated(
    demo_repo: Path, tmp_path: Path, httpserver: HTTPServer
) -> None:
    env = pull_request_env(tmp_path, httpserver, "octo/models")
    listing = "/repos/octo/models/issues/7/comments"
    httpserver.expect_ordered_request(listing, method="GET").respond_with_json([])
    httpserver.expect_ordered_request(listing, method="POST").respond_with_json(
        {"id": 11, "html_url": "https://github.com/octo/models/pull/7#issuecomment-11"}, status=201
    )
    first = run(
        "check", demo_repo, tmp_path, event="pull_request", env=env, token=FAKE_TOKEN, checks="card"
    )
    assert not first.failed, first.log
    posted = json.loads(httpserver.log[1][0].data)["body"]
    assert posted.startswith("<!-- mlops-ci:report -->")
    assert httpserver.log[1][0].headers["Authorization"] == f"Bearer {FAKE_TOKEN}"

    httpserver.clear_log()
    httpserver.expect_ordered_request(listing, method="GET").respond_with_json(
        [{"id": 3, "body": "unrelated"}, {"id": 11, "body": posted}]
    )
    httpserver.expect_ordered_request(
        "/repos/octo/models/issues/comments/11", method="PATCH"
    ).respond_with_json({"id": 11, "html_url": "https://github.com/x"})
    second = run(
        "check",
        demo_repo,
        tmp_path / "2",
        event="pull_request",
        env=env,
        token=FAKE_TOKEN,
        checks="card",
    )
    assert not second.failed, second.log
    httpserver.check_assertions()
    assert FAKE_TOKEN not in second.log + second.summary


def test_comment_failure_is_a_warning(
    demo_repo: Path, tmp_path: Path, httpserver: HTTPServer
) -> None:
    env = pull_request_env(tmp_path, httpserver, "o/r")
    httpserver.expect_request("/repos/o/r/issues/7/comments").respond_with_json(
        {"message": "Resource not accessible by integration"}, status=403
    )
    done = run(
        "check", demo_repo, tmp_path, event="pull_request", env=env, token=FAKE_TOKEN, checks="card"
    )
    assert not done.failed, done.log
    step = done.step("Update the sticky PR comment")
    assert "::warning::mlops-ci: could not post the PR comment" in step.stdout
    assert "answered 403" in step.stderr and FAKE_TOKEN not in step.stderr


def test_install_from_the_action_checkout_or_pinned(tmp_path: Path) -> None:
    calls = tmp_path / "python-calls.log"
    fake = tmp_path / "fake-python"
    # A stand-in interpreter: `-m venv DIR` makes DIR/bin/{python,mlops-ci}; the rest is logged.
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {calls}\n'
        'if [ "$1 $2" = "-m venv" ]; then mkdir -p "$3/bin"; cp "$0" "$3/bin/python";'
        ' printf "#!/bin/sh\\necho mlops-ci 9.9.9\\n" > "$3/bin/mlops-ci"; chmod +x "$3/bin/mlops-ci"; fi\n'
    )
    fake.chmod(0o755)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    for version, expected in (
        ("", str(ROOT / "actions" / "check" / ".." / "..")),
        ("1.2.3", "mlops-ci==1.2.3"),
    ):
        runner = tmp_path / f"runner-{version or 'checkout'}"
        done = run_action(
            "check",
            {"python": str(fake), "version": version, "sign": "false"},
            workspace=workspace,
            runner_temp=runner,
        )
        install = done.step("Install mlops-ci")
        assert install.returncode == 0, done.log
        assert "mlops-ci 9.9.9" in install.stdout
        assert done.path_additions == [str(runner / "mlops-ci-venv" / "bin")]
        assert (
            calls.read_text()
            .splitlines()[-1]
            .endswith(f"install --quiet --disable-pip-version-check {expected}")
        )
        # The gates step then finds the installed (fake) mlops-ci first on PATH.
        assert done.step("Run the gates").ran
    setup = run_action(
        "setup", {"python": str(fake)}, workspace=workspace, runner_temp=tmp_path / "runner-setup"
    )
    assert not setup.failed, setup.log
    venv = tmp_path / "runner-setup" / "mlops-ci-venv" / "bin"
    assert setup.outputs == {"python": str(venv / "python"), "version": "mlops-ci 9.9.9"}
    assert setup.path_additions == [str(venv)]
    assert (
        calls.read_text().splitlines()[-1].endswith(str(ROOT / "actions" / "setup" / ".." / ".."))
    )


def test_install_without_python_says_what_to_do(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    done = run_action(
        "check", {"python": "no-such-python3"}, workspace=workspace, runner_temp=tmp_path / "r"
    )
    install = done.step("Install mlops-ci")
    assert install.returncode == 2
    assert "add actions/setup-python first" in install.stdout
    assert not done.step("Run the gates").ran


PROMOTION = "mlops-ci/promote/fraud-detector/dev/1.0.0-promote-"  # then digest and origin


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.mark.skipif(
    not command_exists("promote"), reason="'mlops-ci promote' is not on this branch yet (issue 8)"
)
def test_promote_verify_and_tag_through_the_actions(signed_repo: Path, tmp_path: Path) -> None:
    # The signed demo (model, attested passing report); its bare origin stands in for GitHub.
    demo_repo = signed_repo
    promoted = run(
        "promote",
        demo_repo,
        tmp_path / "p",
        models="fraud-detector",
        to="dev",
        forge="none",
        token=FAKE_TOKEN,
    )
    assert not promoted.failed, promoted.log
    assert promoted.outputs["verdict"] == "pass"
    assert (
        "## mlops-ci: promotion" in promoted.summary and f"pushed {PROMOTION}" in promoted.summary
    )
    heads = git(demo_repo, "ls-remote", "--heads", "origin").splitlines()
    (branch,) = [h.split("refs/heads/")[1] for h in heads if PROMOTION in h]
    assert FAKE_TOKEN not in promoted.log + promoted.summary

    git(demo_repo, "fetch", "-q", "origin")
    git(demo_repo, "checkout", "-q", "-b", "review", f"origin/{branch}")
    verified = run("verify", demo_repo, tmp_path / "v", base="main")
    assert not verified.failed, verified.log
    assert verified.outputs["verdict"] == "pass"
    report = json.loads(Path(verified.outputs["report"]).read_text())
    assert report["verdict"] == "pass" and report["results"]

    state = demo_repo / "deploy" / "dev.yaml"
    digest = "sha256:" + "0" * 64
    text = state.read_text()
    state.write_text(text.replace(text.split("digest: ")[1].split("\n")[0], digest))
    git(demo_repo, "commit", "-qam", "a hand edit")
    refused = run("verify", demo_repo, tmp_path / "r", base="main")
    assert refused.failed and refused.outputs["verdict"] == "fail"
    assert "## ❌" in refused.summary

    git(demo_repo, "checkout", "-q", "main")
    git(demo_repo, "merge", "-q", "--no-ff", "-m", "Merge the promotion", f"origin/{branch}")
    git(demo_repo, "push", "-q", "origin", "main")
    tagged = run("promote", demo_repo, tmp_path / "t", tag="true", token=FAKE_TOKEN)
    assert not tagged.failed, tagged.log
    assert "fraud-detector#dev#1" in git(demo_repo, "ls-remote", "--tags", "origin")


@pytest.mark.skipif(
    not command_exists("sign"), reason="'mlops-ci sign' is not on this branch yet (issue 7)"
)
def test_promote_action_commits_new_evidence_first(signed_repo: Path, tmp_path: Path) -> None:
    demo_repo = signed_repo
    env = {"PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(
        ["mlops-ci", "sign"],
        cwd=demo_repo,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )
    assert git(demo_repo, "status", "--porcelain")  # a fresh signature (ECDSA is randomised)
    done = run(
        "promote",
        demo_repo,
        tmp_path,
        models="fraud-detector",
        to="dev",
        forge="none",
        commit_evidence="true",
        token=FAKE_TOKEN,
    )
    assert not done.failed, done.log
    assert "evidence: committed" in done.summary
    assert git(demo_repo, "log", "-1", "--format=%s", "origin/main") == (
        "Evidence of the gates: signatures and attestations"
    )
    again = run(
        "promote",
        demo_repo,
        tmp_path / "2",
        models="fraud-detector",
        to="dev",
        forge="none",
        commit_evidence="true",
        token=FAKE_TOKEN,
    )
    assert "evidence: nothing new to commit" in again.summary


def test_promote_action_pushes_to_a_registry_and_promotes_by_digest(
    signed_repo: Path, tmp_path: Path
) -> None:
    """push-to: the model and its evidence go to the registry, the promotion names its digest,
    and no evidence commit is made (issue 17)."""
    from tests.oci_registry import start_registry

    main_before = git(signed_repo, "rev-parse", "origin/main")
    with start_registry(tmp_path / "registry") as registry:
        done = run(
            "promote",
            signed_repo,
            tmp_path / "p",
            env={"GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567"},
            models="fraud-detector",
            to="dev",
            forge="none",
            push_to=f"oci://{registry.host}/models/",
            registry_password=FAKE_TOKEN,
            token=FAKE_TOKEN,
        )
        assert not done.failed, done.log
        assert done.outputs["verdict"] == "pass"
        prefix = f"oci://{registry.host}/models/fraud-detector"
        assert f"pushed: fraud-detector to {prefix}@sha256:" in done.summary
        assert "referrer: signature" in done.summary and f"pushed {PROMOTION}" in done.summary
        # the runner consumes ::add-mask:: (it never reaches the log it shows); nothing else has it
        shown = [line for line in done.log.splitlines() if not line.startswith("::add-mask::")]
        assert FAKE_TOKEN not in "\n".join(shown) + done.summary
    heads = git(signed_repo, "ls-remote", "--heads", "origin").splitlines()
    (branch,) = [h.split("refs/heads/")[1] for h in heads if PROMOTION in h]
    git(signed_repo, "fetch", "-q", "origin")
    state = git(signed_repo, "show", f"origin/{branch}:deploy/dev.yaml")
    assert f"artifact: {prefix}@sha256:" in state
    assert git(signed_repo, "rev-parse", "origin/main") == main_before  # no evidence commit


def test_promote_action_needs_a_target(demo_repo: Path, tmp_path: Path) -> None:
    done = run("promote", demo_repo, tmp_path, models="fraud-detector", token=FAKE_TOKEN)
    assert done.failed
    assert "needs 'to'" in done.step("Promote").stdout


def test_verify_leaves_the_check_reports_alone(demo_repo: Path, tmp_path: Path) -> None:
    reports = demo_repo / "reports"
    reports.mkdir()
    check_files = {f"mlops-ci.{ext}": ext for ext in ("json", "md", "sarif", "junit.xml", "html")}
    for name, text in check_files.items():
        (reports / name).write_text(text)
    (reports / "mlops-ci-verify.json").write_text("stale")
    done = run("verify", demo_repo, tmp_path, promotion="false")
    assert not done.failed, done.log
    assert {p.name: p.read_text() for p in reports.iterdir()} == check_files  # stale one gone
    assert done.outputs["reports"] == str(reports) and done.outputs["report"] == ""
