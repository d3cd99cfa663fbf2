"""Promotion end to end on the real demo repository: signed model, bare origin, real git."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from mlops_ci.demo import DEMO_MODEL, ORIGIN_DIRNAME, create_demo
from mlops_ci.gitops import commit_all, merge_and_push, push_current
from mlops_ci.promote.state import parse_state
from tests.conftest import CliResult, copy_demo, retrain_demo_model
from tests.forges import FakeGitHub
from tests.gitrepos import git as run_git

Cli = Callable[..., CliResult]
BRANCH = re.compile(r"mlops-ci/promote/fraud-detector/[A-Za-z0-9._+/-]+?(?=[ ;]|$)", re.M)


def branch_of(result: CliResult) -> str:
    """The promotion branch a command pushed (one name per requested transition)."""
    found = BRANCH.search(result.stdout)
    assert found, result.stdout + result.stderr
    return found.group(0)


def sign_and_commit(repo: Path, message: str = "Sign the model", *, commit: bool = True) -> None:
    from mlops_ci.demo.signing import REPORT, sign_demo
    from mlops_ci.outputs import OutputSpec, deliver
    from mlops_ci.pipeline import CheckRequest, run_check

    (repo / REPORT).unlink(missing_ok=True)  # as in a fresh CI checkout
    report = run_check(CheckRequest(cwd=repo, offline=True))
    assert report.verdict == "pass", [f.message for _, f in report.all_findings()]
    deliver(report, [OutputSpec("json", repo / REPORT)])
    sign_demo(repo)
    if commit:
        commit_all(repo, message)
        push_current(repo)


@pytest.fixture(scope="session")
def _signed_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = create_demo(tmp_path_factory.mktemp("signed") / "repo")
    sign_and_commit(repo)
    return repo


@pytest.fixture
def signed_repo(_signed_template: Path, tmp_path: Path) -> Iterator[Path]:
    yield copy_demo(_signed_template, tmp_path / "repo")


def origin(repo: Path) -> Path:
    return repo / ".git" / ORIGIN_DIRNAME


def promote(cli: Cli, repo: Path, env: str, *extra: str) -> CliResult:
    return cli("promote", DEMO_MODEL, "--to", env, "--forge", "none", *extra, cwd=repo)


def promote_and_merge(cli: Cli, repo: Path, env: str, version: str = "1.0.0") -> None:
    result = promote(cli, repo, env)
    assert result.exit_code == 0, result.stderr
    branch = branch_of(result)
    assert f"pushed: Promote fraud-detector {version} to {env}" in result.stdout
    assert branch.startswith(f"mlops-ci/promote/fraud-detector/{env}/{version}-promote-")
    merge_and_push(repo, branch, f"Merge {branch}")


def verify_branch(cli: Cli, repo: Path, branch: str) -> int:
    """``promote verify`` on the pushed ``branch`` (checked out for it, then back to main)."""
    run_git(repo, "fetch", "--quiet", "origin")
    run_git(repo, "checkout", "--quiet", "--detach", f"origin/{branch}")
    try:
        result = cli("promote", "verify", "--base", "origin/main", "--format", "json", cwd=repo)
    finally:
        run_git(repo, "checkout", "--quiet", "main")
    findings = json.loads(result.stdout)["results"][0]["findings"] if result.stdout else []
    assert result.exit_code == 0, [f["message"] for f in findings] or result.stderr
    return result.exit_code


def state_on_main(repo: Path, env: str) -> dict:  # type: ignore[type-arg]
    text = run_git(origin(repo), "show", f"main:deploy/{env}.yaml")
    return parse_state(text, env, env, models=[DEMO_MODEL]).models  # type: ignore[return-value]


def test_dev_staging_prod(cli: Cli, signed_repo: Path) -> None:
    for env in ("dev", "staging", "prod"):
        promote_and_merge(cli, signed_repo, env)
    prod = state_on_main(signed_repo, "prod")[DEMO_MODEL]
    dev = state_on_main(signed_repo, "dev")[DEMO_MODEL]
    assert prod.digest == dev.digest and prod.digest.startswith("sha256:")
    assert prod.promoted_from["environment"] == "staging"
    assert prod.promoted_from["commit"] == dev.promoted_from["commit"]
    status = cli("status", "--format", "json", cwd=signed_repo)
    assert status.exit_code == 0
    table = json.loads(status.stdout)[DEMO_MODEL]
    assert {env: table[env]["version"] for env in ("dev", "staging", "prod")} == {
        "dev": "1.0.0",
        "staging": "1.0.0",
        "prod": "1.0.0",
    }
    history = cli("history", DEMO_MODEL, "--format", "json", cwd=signed_repo)
    assert [c["environment"] for c in json.loads(history.stdout)] == ["dev", "staging", "prod"]
    again = promote(cli, signed_repo, "prod")
    assert again.exit_code == 0 and "already promoted" in again.stdout
    tagged = cli("promote", "tag", "--push", cwd=signed_repo)  # after the prod merge, on main
    names = [
        "fraud-detector@v1.0.0",
        *(f"fraud-detector#{e}#{n}" for n, e in enumerate(("dev", "staging", "prod"), 1)),
    ]
    assert tagged.stdout.split() == [w for n in names for w in ("tagged", n)]
    assert sorted(run_git(origin(signed_repo), "tag", "--list").split()) == sorted(names)
    on_date = cli("history", DEMO_MODEL, "--env", "prod", "--at", "2999-01-01", cwd=signed_repo)
    assert "1.0.0" in on_date.stdout.splitlines()[1]


def test_skipping_staging_is_refused(cli: Cli, signed_repo: Path) -> None:
    promote_and_merge(cli, signed_repo, "dev")
    result = promote(cli, signed_repo, "prod")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "refused: staging does not run fraud-detector; promote it to staging first"
        " (environments are promoted in order: dev -> staging -> prod)"
    )


def test_a_version_the_previous_environment_does_not_run_is_refused(
    cli: Cli, signed_repo: Path
) -> None:
    promote_and_merge(cli, signed_repo, "dev")
    result = promote(cli, signed_repo, "staging", "--version", "9.9.9")
    assert result.exit_code == 1
    assert "dev runs fraud-detector 1.0.0, not 9.9.9" in result.stderr


def test_tampered_signature_is_refused(cli: Cli, signed_repo: Path) -> None:
    signature = signed_repo / "models/fraud-detector/model.onnx.sig"
    bundle = json.loads(signature.read_text())
    sig = bundle["messageSignature"]["signature"] if "messageSignature" in bundle else None
    text = signature.read_text()
    if sig is None:
        payload = bundle["dsseEnvelope"]["signatures"][0]["sig"]
        text = text.replace(
            payload, payload[:10] + ("A" if payload[10] != "A" else "B") + payload[11:]
        )
    signature.write_text(text)
    commit_all(signed_repo, "tamper")
    result = promote(cli, signed_repo, "dev")
    assert result.exit_code == 1
    assert result.stderr.startswith("refused: fraud-detector: ")
    assert run_git(origin(signed_repo), "branch", "--list", "mlops-ci/*") == ""  # nothing pushed


def test_modified_model_is_refused(cli: Cli, signed_repo: Path) -> None:
    model = signed_repo / "models/fraud-detector/model.onnx"
    data = bytearray(model.read_bytes())
    data[-1] ^= 1
    model.write_bytes(bytes(data))
    result = promote(cli, signed_repo, "dev")
    assert result.exit_code == 1
    assert "refused: fraud-detector: " in result.stderr


def test_promotion_names_only_a_commit_the_default_branch_holds(
    cli: Cli, signed_repo: Path
) -> None:
    """The first rung's entry names the checked-out commit: it must be pushed, and hold the
    bytes (an uncommitted model is refused: test_modified_model_is_refused)."""
    run_git(signed_repo, "commit", "--quiet", "--allow-empty", "-m", "local only")
    result = cli("promote", DEMO_MODEL, "--to", "dev", "--forge", "none", cwd=signed_repo)
    assert result.exit_code == 1
    assert "is not on origin/main; push it" in result.stderr
    assert run_git(origin(signed_repo), "branch", "--list", "mlops-ci/*") == ""


def test_a_signed_but_uncommitted_model_is_refused(cli: Cli, signed_repo: Path) -> None:
    """Evidence that verifies in the checkout is not enough: the entry names the commit, and
    the commit must hold those bytes, or a deploy from the state file would ship others."""

    retrain_demo_model(signed_repo / "models/fraud-detector/model.onnx", 8)
    sign_and_commit(signed_repo, commit=False)
    result = promote(cli, signed_repo, "dev")
    assert result.exit_code == 1
    assert "the model files differ from commit" in result.stderr
    assert "commit and push them, then promote again" in result.stderr
    assert run_git(origin(signed_repo), "branch", "--list", "mlops-ci/*") == ""


def test_state_file_keeps_comments_and_order(cli: Cli, signed_repo: Path) -> None:
    config = signed_repo / "mlops-ci.yaml"  # a state file holds only configured models
    config.write_text(
        config.read_text().replace(
            "models:\n", "models:\n  - name: zeta-ranker\n    path: models/zeta/model.onnx\n", 1
        )
    )
    deploy = signed_repo / "deploy"
    deploy.mkdir()
    (deploy / "dev.yaml").write_text(
        "# dev: what the dev cluster runs (Argo CD syncs this file)\n"
        "models:\n"
        "  # a model another team owns\n"
        "  zeta-ranker:   # do not touch\n"
        "    version: '3.1'\n"
        "    artifact: models/zeta/model.onnx\n"
        "    digest: sha256:" + "0123456789abcdef" * 4 + "\n"
    )
    commit_all(signed_repo, "dev state")
    push_current(signed_repo)
    result = promote(cli, signed_repo, "dev")
    assert result.exit_code == 0, result.stderr
    text = run_git(origin(signed_repo), "show", branch_of(result) + ":deploy/dev.yaml")
    assert text.startswith(
        "# dev: what the dev cluster runs (Argo CD syncs this file)\nmodels:\n"
        "  # a model another team owns\n  zeta-ranker:   # do not touch\n    version: '3.1'\n"
    )
    assert text.index("zeta-ranker") < text.index("fraud-detector")


def test_dry_run_changes_nothing(cli: Cli, signed_repo: Path) -> None:
    result = promote(cli, signed_repo, "dev", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "plan: Promote fraud-detector 1.0.0 to dev" in result.stdout
    assert "+++ b/deploy/dev.yaml" in result.stdout and "evidence: verified" in result.stdout
    assert run_git(origin(signed_repo), "branch", "--list", "mlops-ci/*") == ""


def test_promote_verify_passes_a_tool_pr_and_fails_a_hand_edit(cli: Cli, signed_repo: Path) -> None:
    promote_and_merge(cli, signed_repo, "dev")
    branch = branch_of(promote(cli, signed_repo, "staging"))
    run_git(signed_repo, "fetch", "--quiet", "origin")
    run_git(signed_repo, "checkout", "--quiet", "-b", "review", f"origin/{branch}")
    passed = cli("promote", "verify", "--base", "origin/main", "-f", "json", cwd=signed_repo)
    assert passed.exit_code == 0, passed.stdout + passed.stderr
    # It says what it verified: the branch, the change, and the evidence (issue 15).
    (result,) = json.loads(passed.stdout)["results"]
    statement = result["summary"]["result"]
    assert statement.startswith("verified review (") and "against origin/main (" in statement
    assert "fraud-detector 1.0.0 (sha256:" in statement and "dev → staging" in statement
    (record,) = result["facts"]["verified"]
    assert (record["model"], record["environment"], record["from"]) == (
        DEMO_MODEL,
        "staging",
        "dev",
    )
    evidence = record["evidence"]
    assert evidence["signature"]["mode"] == "key" and evidence["attestation"] is True
    assert evidence["policies"] == ["baseline"] and evidence["policy_rules_passed"] > 0
    assert "signature (key" in result["summary"][f"{DEMO_MODEL} in staging"]
    # Every report to a file: the text summary still says what was verified (issue 15).
    report = signed_repo.parent / "verify.json"
    to_file = cli(
        "promote", "verify", "--base", "origin/main", "-f", f"json={report}", cwd=signed_repo
    )
    assert to_file.exit_code == 0, to_file.stderr
    assert to_file.stdout.startswith("mlops-ci: PASS") and "verified review (" in to_file.stdout
    assert f"reports written to: {report}" in to_file.stdout
    assert json.loads(report.read_text())["verdict"] == "pass"
    quiet = cli(
        "promote", "verify", "--base", "origin/main", "-q", "-f", f"json={report}", cwd=signed_repo
    )
    assert quiet.exit_code == 0 and quiet.stdout == ""
    run_git(signed_repo, "checkout", "--quiet", "-b", "hand-edit", "origin/main")
    prod = signed_repo / "deploy" / "prod.yaml"
    prod.write_text(
        "models:\n  fraud-detector:\n    version: 1.0.0\n    artifact: models/fraud-detector/model.onnx\n"
        "    digest: sha256:" + "f" * 64 + "\n"
    )
    commit_all(signed_repo, "set prod by hand")
    failed = cli("promote", "verify", "--base", "origin/main", "--format", "json", cwd=signed_repo)
    assert failed.exit_code == 1
    findings = json.loads(failed.stdout)["results"][0]["findings"]
    assert [f["rule_id"] for f in findings] == ["PROMOTE-LADDER"]
    assert "staging runs nothing" in findings[0]["message"]
    (signed_repo / "notes.txt").write_text("x")
    commit_all(signed_repo, "sneak a file in")
    foreign = cli("promote", "verify", "--base", "origin/main", "--format", "json", cwd=signed_repo)
    rules = [f["rule_id"] for f in json.loads(foreign.stdout)["results"][0]["findings"]]
    assert "PROMOTE-FOREIGN-FILE" in rules


def test_rollback_pins_and_promote_needs_unpin(cli: Cli, signed_repo: Path) -> None:
    promote_and_merge(cli, signed_repo, "dev")
    card = signed_repo / "models/fraud-detector/README.md"
    card.write_text(card.read_text().replace("version: 1.0.0", "version: 1.1.0", 1))

    retrain_demo_model(signed_repo / "models/fraud-detector/model.onnx", 8)
    sign_and_commit(signed_repo, "Model 1.1.0")
    promote_and_merge(cli, signed_repo, "dev", "1.1.0")
    rolled = cli(
        "rollback", DEMO_MODEL, "--env", "dev", "--to", "1.0.0", "--forge", "none", cwd=signed_repo
    )
    assert rolled.exit_code == 0, rolled.stderr
    rollback_branch = branch_of(rolled)
    assert rollback_branch.startswith("mlops-ci/promote/fraud-detector/dev/1.0.0-rollback-")
    assert verify_branch(cli, signed_repo, rollback_branch) == 0
    merge_and_push(signed_repo, rollback_branch, "Merge rollback")
    entry = state_on_main(signed_repo, "dev")[DEMO_MODEL]
    assert (entry.version, entry.pinned, entry.rollback_of) == ("1.0.0", True, "1.1.0")
    _assert_status_columns_align(cli, signed_repo, "1.0.0 (pinned)")
    refused = promote(cli, signed_repo, "dev")
    assert refused.exit_code == 1
    assert "dev is pinned to fraud-detector 1.0.0 by a rollback; pass --unpin" in refused.stderr
    unpinned = promote(cli, signed_repo, "dev", "--unpin")
    assert unpinned.exit_code == 0, unpinned.stderr
    assert branch_of(unpinned).startswith("mlops-ci/promote/fraud-detector/dev/1.1.0-unpin-")
    assert verify_branch(cli, signed_repo, branch_of(unpinned)) == 0
    at = cli("history", DEMO_MODEL, "--env", "dev", "--format", "json", cwd=signed_repo)
    assert [c["entry"]["version"] for c in json.loads(at.stdout)] == ["1.0.0", "1.1.0", "1.0.0"]


def _assert_status_columns_align(cli: Cli, repo: Path, dev_version: str) -> None:
    """``status`` prints one value per column, each starting where its header does."""
    shown = cli("status", cwd=repo)
    assert shown.exit_code == 0, shown.stderr
    header, *rows = shown.stdout.splitlines()
    names = re.split(r"\s{2,}", header.strip())
    assert names == [
        "MODEL",
        "ENVIRONMENT",
        "VERSION",
        "DIGEST",
        "BYTES (COMMIT:PATH)",
        "PROMOTED",
        "BY",
    ]
    starts = [header.index(name) for name in names]
    for row in rows:
        for start in starts:
            if start < len(row):
                assert row[start] != " " and (start == 0 or row[start - 1] == " "), (row, start)
    dev = next(row for row in rows if row.split()[1] == "dev")
    assert dev[starts[2] : starts[3]].strip() == dev_version


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("promote", DEMO_MODEL, "--to", "qa"),
            "mlops-ci.yaml:{environments}:1: unknown environment 'qa'",
        ),
        (
            ("promote", "fraud-detectr", "--to", "dev"),
            "mlops-ci.yaml:{models}:1: unknown model 'fraud-detectr'; did you mean 'fraud-detector'?",
        ),
        (
            ("rollback", DEMO_MODEL, "--env", "prd", "--to", "1"),
            "unknown environment 'prd'; did you mean 'prod'?",
        ),
    ],
)
def test_unknown_environment_or_model_exits_2(
    cli: Cli, signed_repo: Path, args: tuple[str, ...], message: str
) -> None:
    lines = (signed_repo / "mlops-ci.yaml").read_text().splitlines()
    where = {
        key: next(i for i, line in enumerate(lines, 1) if line.startswith(f"{key}:"))
        for key in ("environments", "models")
    }
    result = cli(*args, cwd=signed_repo)
    assert result.exit_code == 2
    assert message.format(**where) in result.stderr and result.stderr.count("\n") == 1


def test_malformed_state_file_exits_2(cli: Cli, signed_repo: Path) -> None:
    deploy = signed_repo / "deploy"
    deploy.mkdir()
    (deploy / "dev.yaml").write_text("models:\n  fraud-detector:\n    version: [1\n")
    commit_all(signed_repo, "broken state")
    push_current(signed_repo)
    result = promote(cli, signed_repo, "dev")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: deploy/dev.yaml:4:1: invalid YAML")


def test_github_promotion_is_idempotent_and_token_safe(
    cli: Cli, signed_repo: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeGitHub(httpserver).install()
    config = signed_repo / "mlops-ci.yaml"
    config.write_text(
        config.read_text().replace(
            "forge: {kind: none}",
            f"forge: {{kind: github, repository: {fake.repository}, api_url: '{fake.url}'}}",
        )
    )
    commit_all(signed_repo, "use GitHub")
    push_current(signed_repo)
    monkeypatch.setenv("GITHUB_TOKEN", fake.token)
    for _ in range(3):
        result = cli("promote", DEMO_MODEL, "--to", "dev", cwd=signed_repo)
        assert result.exit_code == 0, result.stderr
    assert len(fake.pulls) == 1
    body = fake.pulls[0]["body"]
    assert (
        body.startswith("<!-- mlops-ci:promotion -->")
        and "sha256:" in body
        and "key signature" in body
    )
    assert fake.token not in result.stdout + result.stderr
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_WRONG_TOKEN_MARKER")
    denied = cli("promote", DEMO_MODEL, "--to", "dev", cwd=signed_repo)
    assert denied.exit_code == 2
    assert "401" in denied.stderr and "lacks permission" in denied.stderr
    assert "ghp_WRONG_TOKEN_MARKER" not in denied.stdout + denied.stderr


def test_bench_baseline_is_what_an_environment_runs(cli: Cli, signed_repo: Path) -> None:
    promote_and_merge(cli, signed_repo, "dev")
    run_git(signed_repo, "pull", "--quiet", "origin", "main")
    result = cli(
        "bench",
        DEMO_MODEL,
        "--baseline",
        "env:dev",
        "--budget-s",
        "2",
        "--format",
        "json",
        cwd=signed_repo,
    )
    assert result.exit_code == 0, result.stderr
    (bench,) = [r for r in json.loads(result.stdout)["results"] if r["check"] == "bench"]
    assert bench["facts"]["verdict"] in ("pass", "inconclusive")
    assert "env:dev (fraud-detector 1.0.0" in json.dumps(bench["facts"])
    nothing = cli("bench", DEMO_MODEL, "--baseline", "env:prod", "--budget-s", "1", cwd=signed_repo)
    assert nothing.exit_code == 0, nothing.stderr
    unknown = cli("bench", DEMO_MODEL, "--baseline", "env:qa", cwd=signed_repo)
    assert unknown.exit_code == 2 and "unknown environment 'qa'" in unknown.stderr


def test_sign_and_verify_take_the_configuration_by_path(
    cli: Cli, signed_repo: Path, tmp_path: Path
) -> None:
    """``-c/--config`` on ``sign`` and ``verify`` (issue 15): run from another directory, they
    read the named configuration, resolved from its own directory."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    config = str(signed_repo / "mlops-ci.yaml")
    verified = cli("verify", "-c", config, cwd=elsewhere)
    assert verified.exit_code == 0, verified.stderr
    assert verified.stdout.startswith("verified  model        models/fraud-detector/model.onnx")
    missing = cli("verify", "--config", str(tmp_path / "nope.yaml"), cwd=elsewhere)
    assert missing.exit_code == 2 and "nope.yaml" in missing.stderr
