"""Landing promotions on a real bare remote with a stand-in GitHub: idempotence, races, stale PRs."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from mlops_ci.config import ForgeConfig
from mlops_ci.forge.detect import ForgeTarget, make_forge
from mlops_ci.forge.http import RetryPolicy
from mlops_ci.promote.apply import MergedButNotThere, PullSettings, land
from mlops_ci.promote.gitwork import Author, PromotionRepo
from mlops_ci.promote.history import read_states
from mlops_ci.promote.plan import PromotionPlan, branch_name, plan_promotion
from mlops_ci.promote.state import StateEntry, parse_state
from tests.forges import FakeGitHub
from tests.gitrepos import bare_remote, clone, git

LADDER = ["dev", "staging", "prod"]
AUTHOR = Author("Promo Bot", "bot@example.com")
STAGING = "# staging: reviewed by the platform team\nmodels: {}\n"


def planner(repo: PromotionRepo, model: str, version: str = "1.0"):  # type: ignore[no-untyped-def]
    def make() -> PromotionPlan | None:
        states = read_states(repo, repo.default_ref, "deploy", LADDER, models=None)
        # dev runs every model at sha256:<model> (set up below); staging takes it from dev
        return plan_promotion(
            model=model,
            environment="staging",
            ladder=LADDER,
            state_dir="deploy",
            states=states,
            candidate=None,
            version=None,
            actor="bot",
            now_iso="2026-11-22T00:00:00+00:00",
        )

    return make


def digest(model: str) -> str:
    """A well-formed digest standing for ``model``'s bytes."""
    return "sha256:" + hashlib.sha256(model.encode()).hexdigest()


def staged(model: str, version: str = "1.0", model_digest: str | None = None) -> str:
    """The branch of promoting ``model`` into an empty staging (one name per transition)."""
    return branch_name(model, "staging", version, digest=model_digest or digest(model), since="new")


def dev_state(models: list[str]) -> str:
    lines = ["models:"]
    for m in models:
        lines += [
            f"  {m}:",
            "    version: '1.0'",
            f"    artifact: models/{m}.onnx",
            f"    digest: {digest(m)}",
        ]
    return "\n".join(lines) + "\n"


def github_target(server: HTTPServer) -> tuple[FakeGitHub, ForgeTarget]:
    fake = FakeGitHub(server).install()
    target = make_forge(
        "github",
        ForgeConfig(repository=fake.repository, api_url=fake.url),
        None,
        {"GITHUB_TOKEN": fake.token},
        RetryPolicy(sleep=lambda s: None),
    )
    return fake, target


def run_land(clone_dir: Path, target: ForgeTarget, model: str):  # type: ignore[no-untyped-def]
    repo = PromotionRepo(clone_dir)
    try:
        return land(
            planner(repo, model),
            repo,
            target,
            author=AUTHOR,
            body=lambda p: f"<!-- mlops-ci:promotion -->\n{p.title}",
            comment=lambda p: f"<!-- status -->\n{p.title}",
            settings=PullSettings(["mlops-ci"], ["alice"]),
        )
    finally:
        repo.close()


def test_same_promotion_three_times_opens_one_pull(tmp_path: Path, httpserver: HTTPServer) -> None:
    bare, work = bare_remote(
        tmp_path, {"deploy/dev.yaml": dev_state(["m"]), "deploy/staging.yaml": STAGING}
    )
    fake, target = github_target(httpserver)
    outcomes = [run_land(work, target, "m").outcome for _ in range(3)]
    assert outcomes == ["opened", "updated", "updated"]
    assert len(fake.pulls) == 1
    assert [c["body"].splitlines()[0] for c in fake.comments] == ["<!-- status -->"]
    branch = staged("m")
    assert branch == f"mlops-ci/promote/m/staging/1.0-promote-{digest('m')[7:19]}-new"
    assert git(bare, "rev-parse", "--verify", f"refs/heads/{branch}")
    text = git(bare, "show", f"{branch}:deploy/staging.yaml")
    assert text.startswith("# staging: reviewed by the platform team")
    assert parse_state(text, "staging", "s", models=None).entry("m") is not None
    assert git(bare, "log", "--format=%an", "-1", branch) == "Promo Bot"
    assert git(bare, "log", "--format=%s", "-1", "main") == "initial"  # main untouched
    assert fake.pulls[0]["labels"] == [{"name": "mlops-ci"}]


def test_merged_pull_the_default_branch_lacks_is_an_error(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    """The forge says merged, the default branch does not run it: non-zero, never "done"."""
    _, work = bare_remote(
        tmp_path, {"deploy/dev.yaml": dev_state(["m"]), "deploy/staging.yaml": STAGING}
    )
    fake, target = github_target(httpserver)
    run_land(work, target, "m")
    fake.merge(1)
    with pytest.raises(MergedButNotThere, match="was merged, but origin/main does not run m 1.0"):
        run_land(work, target, "m")
    assert MergedButNotThere.exit_code == 1 and len(fake.pulls) == 1


def test_already_promoted_only_when_the_entry_on_main_equals_the_request(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    bare, work = bare_remote(
        tmp_path, {"deploy/dev.yaml": dev_state(["m"]), "deploy/staging.yaml": STAGING}
    )
    fake, target = github_target(httpserver)
    run_land(work, target, "m")
    git(bare, "update-ref", "refs/heads/main", staged("m"))  # the PR's commit lands on main
    fake.merge(1)
    landed = run_land(work, target, "m")
    assert landed.outcome == "already-promoted" and landed.plan is None and len(fake.pulls) == 1


def test_closed_unmerged_pull_gets_a_new_one(tmp_path: Path, httpserver: HTTPServer) -> None:
    _, work = bare_remote(
        tmp_path, {"deploy/dev.yaml": dev_state(["m"]), "deploy/staging.yaml": STAGING}
    )
    fake, target = github_target(httpserver)
    run_land(work, target, "m")
    fake.pulls[0]["state"] = "closed"
    assert run_land(work, target, "m").outcome == "opened"
    assert [p["state"] for p in fake.pulls] == ["closed", "open"]


def test_newer_promotion_closes_the_stale_pull(tmp_path: Path, httpserver: HTTPServer) -> None:
    bare, work = bare_remote(
        tmp_path, {"deploy/dev.yaml": dev_state(["m"]), "deploy/staging.yaml": STAGING}
    )
    fake, target = github_target(httpserver)
    run_land(work, target, "m")
    seed = clone(bare, tmp_path / "editor")
    (seed / "deploy/dev.yaml").write_text(dev_state(["m"]).replace("'1.0'", "'2.0'"))
    git(seed, "commit", "--quiet", "-am", "dev runs 2.0")
    git(seed, "push", "--quiet", "origin", "main")
    landed = run_land(work, target, "m")
    assert landed.outcome == "opened" and landed.plan is not None
    assert landed.plan.branch == staged("m", "2.0")
    assert [p["state"] for p in fake.pulls] == ["closed", "open"]
    assert "Superseded by" in fake.comments[-2]["body"] or any(
        "Superseded" in c["body"] for c in fake.comments
    )


def test_ten_concurrent_promotions_all_land(tmp_path: Path, httpserver: HTTPServer) -> None:
    models = [f"model-{i}" for i in range(10)]
    bare, _ = bare_remote(
        tmp_path, {"deploy/dev.yaml": dev_state(models), "deploy/staging.yaml": STAGING}
    )
    clones = [clone(bare, tmp_path / f"job-{i}") for i in range(10)]
    fake, target = github_target(httpserver)
    main_before = git(bare, "rev-parse", "main")
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda i: run_land(clones[i], target, models[i]), range(10)))
    assert [r.outcome for r in results] == ["opened"] * 10
    branches = git(
        bare, "for-each-ref", "--format=%(refname:short)", "refs/heads/mlops-ci"
    ).splitlines()
    assert sorted(branches) == sorted(staged(m) for m in models)
    assert sorted(p["head"]["ref"] for p in fake.pulls) == sorted(branches)
    assert git(bare, "rev-parse", "main") == main_before  # the default branch was never pushed


def test_forge_none_pushes_the_branch(tmp_path: Path) -> None:
    bare, work = bare_remote(
        tmp_path, {"deploy/dev.yaml": dev_state(["m"]), "deploy/staging.yaml": STAGING}
    )
    landed = run_land(work, ForgeTarget("none", None, None), "m")
    assert landed.outcome == "pushed"
    assert "open a pull request from it into main" in landed.note
    assert git(bare, "rev-parse", "--verify", f"refs/heads/{staged('m')}")


def test_promotion_never_touches_the_checkout(tmp_path: Path) -> None:
    _, work = bare_remote(
        tmp_path, {"deploy/dev.yaml": dev_state(["m"]), "deploy/staging.yaml": STAGING}
    )
    (work / "scratch.txt").write_text("uncommitted work")
    head = git(work, "rev-parse", "HEAD")
    run_land(work, ForgeTarget("none", None, None), "m")
    assert git(work, "rev-parse", "HEAD") == head
    assert git(work, "status", "--porcelain") == "?? scratch.txt"
    assert (work / "deploy/staging.yaml").read_text() == STAGING


def test_state_entry_of_dev_is_carried(tmp_path: Path) -> None:
    bare, work = bare_remote(
        tmp_path, {"deploy/dev.yaml": dev_state(["m"]), "deploy/staging.yaml": STAGING}
    )
    run_land(work, ForgeTarget("none", None, None), "m")
    entry = parse_state(
        git(bare, "show", f"{staged('m')}:deploy/staging.yaml"),
        "s",
        "s",
        models=["m"],
    ).entry("m")
    assert entry == StateEntry(
        "1.0",
        "models/m.onnx",
        digest("m"),
        promoted_from={"environment": "dev"},
        promoted_at="2026-11-22T00:00:00+00:00",
        promoted_by="bot",
    )
