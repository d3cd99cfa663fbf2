"""`promote tag` writes tags GTO itself reads back as mlops-ci's status and history say.

The judge is the ``gto`` package (a dev dependency): ``gto show`` must list each version once,
with the stages ``mlops-ci status`` gives it, and ``gto history`` must list each environment's
changes in the order ``mlops-ci history`` does, after promotions, a rollback and a roll-forward,
next to tags GTO wrote itself, after gaps in the numbering, and on a second run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlops_ci.demo import DEMO_MODEL
from mlops_ci.gitops import merge_and_push
from tests.conftest import CliResult, copy_demo, first_release_demo, retrain_demo_model
from tests.gitrepos import bare_remote
from tests.gitrepos import git as run_git
from tests.test_promote_e2e import _signed_template, sign_and_commit, signed_repo

gto_api = pytest.importorskip("gto.api", reason="gto is a dev dependency: pip install -e '.[dev]'")

Cli = Callable[..., CliResult]
ENVS = ("dev", "staging", "prod")
__all__ = ["_signed_template", "signed_repo"]  # fixtures shared with test_promote_e2e


@pytest.fixture(scope="session")
def _demo_lived(tmp_path_factory: pytest.TempPathFactory) -> Path:

    target = tmp_path_factory.mktemp("gto-demo") / "repo"
    assert first_release_demo(target) == 0
    return target


@pytest.fixture
def demo(_demo_lived: Path, tmp_path: Path) -> Path:
    """A copy of what ``mlops-ci demo`` leaves: a model promoted (and more) through a bare origin."""
    return copy_demo(_demo_lived, tmp_path / "demo")


@pytest.fixture
def promoted(cli: Cli, signed_repo: Path) -> Path:
    """The signed demo model, version 1.0.0, promoted to dev and staging (no tags yet)."""
    for env in ("dev", "staging"):
        land(cli, signed_repo, "promote", DEMO_MODEL, "--to", env)
    return signed_repo


def land(cli: Cli, repo: Path, *args: str) -> None:
    """Run a promote/rollback command with ``--forge none`` and merge the branch it pushed."""
    result = cli(*args, "--forge", "none", cwd=repo)
    assert result.exit_code == 0, result.stderr
    run_git(repo, "fetch", "--quiet", "--prune", "origin")
    pending = run_git(
        repo, "branch", "-r", "--no-merged", "origin/main", "--format=%(refname:short)"
    ).split()
    pending = [b for b in pending if b.startswith("origin/mlops-ci/")]
    assert len(pending) == 1, (result.stdout, pending)
    branch = pending[0].removeprefix("origin/")
    merge_and_push(repo, branch, f"Merge {branch}")


def tag(cli: Cli, repo: Path) -> list[str]:
    """``promote tag``; the tags it wrote."""
    result = cli("promote", "tag", cwd=repo)
    assert result.exit_code == 0, result.stderr
    return [
        line.removeprefix("tagged ") for line in result.stdout.splitlines() if "tagged " in line
    ]


def tags(repo: Path) -> set[str]:
    return set(run_git(repo, "tag", "--list").split())


def retrain(repo: Path, version: str, seed: int) -> None:

    card = repo / "models/fraud-detector/README.md"
    text = card.read_text()
    old = next(line for line in text.splitlines() if line.strip().startswith("version:"))
    card.write_text(text.replace(old, old.split(":")[0] + f": {version}", 1))
    retrain_demo_model(repo / "models/fraud-detector/model.onnx", seed)
    sign_and_commit(repo, f"Model {version}")


def mlops_status(cli: Cli, repo: Path) -> dict[str, str]:
    """``{env: "vX.Y.Z"}`` of the demo model, from ``mlops-ci status``."""
    result = cli("status", "--format", "json", cwd=repo)
    assert result.exit_code == 0, result.stderr
    table = json.loads(result.stdout)[DEMO_MODEL]
    return {env: f"v{row['version']}" for env, row in table.items() if row}


def mlops_history(cli: Cli, repo: Path) -> dict[str, list[str | None]]:
    """Each environment's versions, oldest first, one per change of version."""
    result = cli("history", DEMO_MODEL, "--format", "json", cwd=repo)
    assert result.exit_code == 0, result.stderr
    per_env: dict[str, list[str | None]] = {}
    for change in reversed(json.loads(result.stdout)):  # newest first within each environment
        entry = change["entry"]
        version = f"v{entry['version']}" if entry else None
        seen = per_env.setdefault(change["environment"], [])
        if not seen or seen[-1] != version:
            seen.append(version)
    return per_env


def gto_history(repo: Path) -> dict[str, list[str | None]]:
    """Each stage's versions, oldest first, from ``gto history`` (an unassignment alone: None)."""
    per_stage: dict[str, list[str | None]] = {}
    current: dict[str, str | None] = {}
    for event in gto_api.history(str(repo), artifact=DEMO_MODEL, ascending=True):
        stage = event["stage"]
        if event["event"] == "assignment":
            current[stage] = event["version"]
        elif event["event"] == "unassignment" and current.get(stage) == event["version"]:
            current[stage] = None
        else:
            continue
        seen = per_stage.setdefault(stage, [])
        if current[stage] is not None and (not seen or seen[-1] != current[stage]):
            seen.append(current[stage])
    return per_stage


def assert_gto_agrees(cli: Cli, repo: Path) -> None:
    """``gto show`` and ``gto history`` say what ``mlops-ci status`` and ``history`` say."""
    status = mlops_status(cli, repo)
    from gto.constants import VersionSort

    for sort in VersionSort:  # one active version per stage: GTO's sort order cannot matter
        for per_stage in (1, -1):
            registry = gto_api.show(str(repo), sort=sort, versions_per_stage=per_stage)
            shown = {s: v for s, v in registry[DEMO_MODEL]["stage"].items() if v}
            assert shown == status, (sort, per_stage)
    versions = gto_api.show(str(repo), name=DEMO_MODEL)
    names = [v["version"] for v in versions]
    assert len(names) == len(set(names)), names  # each version once
    assert all(n.startswith("v") for n in names), names  # no commit-hash "versions"
    stages = {v["version"]: sorted(s["stage"] for s in v["stages"]) for v in versions}
    for version, envs in stages.items():
        assert envs == sorted(e for e, v in status.items() if v == version), (version, stages)
    history = {env: [v for v in seq if v] for env, seq in mlops_history(cli, repo).items()}
    assert gto_history(repo) == {env: seq for env, seq in history.items() if seq}


def test_gto_agrees_after_the_demo_and_a_second_run_adds_nothing(cli: Cli, demo: Path) -> None:
    first = tag(cli, demo)
    assert first[0] == f"{DEMO_MODEL}@v1.0.0"
    assert f"{DEMO_MODEL}#dev#1" in first
    assert_gto_agrees(cli, demo)
    before = tags(demo)
    again = cli("promote", "tag", cwd=demo)
    assert again.exit_code == 0 and again.stdout.startswith("nothing to tag")
    assert tags(demo) == before


def test_gto_agrees_through_retrain_rollback_and_roll_forward(cli: Cli, signed_repo: Path) -> None:
    repo = signed_repo
    for env in ("dev", "staging"):
        land(cli, repo, "promote", DEMO_MODEL, "--to", env)
        tag(cli, repo)
        assert_gto_agrees(cli, repo)
    retrain(repo, "1.1.0", seed=8)
    for env in ("dev", "staging"):
        land(cli, repo, "promote", DEMO_MODEL, "--to", env)
        tag(cli, repo)
        assert_gto_agrees(cli, repo)
    land(cli, repo, "rollback", DEMO_MODEL, "--env", "staging", "--to", "1.0.0")
    assert set(tag(cli, repo)) == {f"{DEMO_MODEL}#staging!#7", f"{DEMO_MODEL}#staging#8"}
    assert mlops_status(cli, repo) == {"dev": "v1.1.0", "staging": "v1.0.0"}
    assert_gto_agrees(cli, repo)
    land(cli, repo, "promote", DEMO_MODEL, "--to", "staging", "--unpin")
    tag(cli, repo)
    assert mlops_status(cli, repo) == {"dev": "v1.1.0", "staging": "v1.1.0"}
    assert_gto_agrees(cli, repo)
    assert gto_history(repo)["staging"] == ["v1.0.0", "v1.1.0", "v1.0.0", "v1.1.0"]
    # The registration sits on the commit that holds each version's bytes, not on a merge.
    for version in ("v1.0.0", "v1.1.0"):
        target = run_git(repo, "rev-parse", f"{DEMO_MODEL}@{version}^{{commit}}")
        assert len(run_git(repo, "show", "-s", "--format=%P", target).split()) == 1
    # A second run on the same HEAD adds nothing; a catch-up run over the whole history
    # (no tags yet) writes the same tags as tagging after each merge did.
    written = tags(repo)
    assert tag(cli, repo) == []
    run_git(repo, "tag", "--delete", *written)
    assert set(tag(cli, repo)) == written
    assert_gto_agrees(cli, repo)


def _bytes_commit(repo: Path) -> str:
    """The commit that holds dev's bytes (the entry's ``promoted_from.commit``)."""
    from mlops_ci.promote.state import parse_state

    text = run_git(repo, "show", "main:deploy/dev.yaml")
    entry = parse_state(text, "dev", "dev", models=None).models[DEMO_MODEL]
    return entry.promoted_from["commit"]


def test_tags_gto_wrote_are_kept_and_counted(cli: Cli, promoted: Path) -> None:
    """Acceptance 5: GTO's own tags present; ``promote tag`` succeeds, is idempotent."""
    repo = str(promoted)
    gto_api.register(repo, DEMO_MODEL, ref=_bytes_commit(promoted), version="v1.0.0")
    gto_api.assign(repo, DEMO_MODEL, "staging", version="v1.0.0", force=True)
    gto_api.assign(repo, DEMO_MODEL, "staging", version="v1.0.0", force=True)
    assert {f"{DEMO_MODEL}@v1.0.0", f"{DEMO_MODEL}#staging#2"} <= tags(promoted)
    assert tag(cli, promoted) == [f"{DEMO_MODEL}#dev#3"]  # GTO's tags say the rest
    assert tag(cli, promoted) == []
    assert_versions_once(repo, {"v1.0.0": ["dev", "staging"]})
    # GTO goes on numbering after ours: no "tag already exists" on either side.
    event = gto_api.assign(repo, DEMO_MODEL, "prod", version="v1.0.0")
    assert event.tag == f"{DEMO_MODEL}#prod#4"


def assert_versions_once(repo: str, expected: dict[str, list[str]]) -> None:
    versions = gto_api.show(repo, name=DEMO_MODEL)
    got = {v["version"]: sorted(s["stage"] for s in v["stages"]) for v in versions}
    assert [v["version"] for v in versions].count("v1.0.0") == 1
    assert got == expected


def test_numbering_continues_after_a_gap_and_lightweight_tags(cli: Cli, promoted: Path) -> None:
    repo = str(promoted)
    commit = _bytes_commit(promoted)
    gto_api.register(repo, DEMO_MODEL, ref=commit, version="v1.0.0")
    run_git(promoted, "tag", "-a", f"{DEMO_MODEL}#dev#5", commit, "-m", "left after deletions")
    run_git(promoted, "tag", f"{DEMO_MODEL}#prod#7", commit)  # lightweight: GTO counts it too
    assert tag(cli, promoted) == [f"{DEMO_MODEL}#staging#8"]
    assert tag(cli, promoted) == []
    assert_versions_once(repo, {"v1.0.0": ["dev", "staging"]})
    assert gto_api.assign(repo, DEMO_MODEL, "prod", version="v1.0.0").tag == f"{DEMO_MODEL}#prod#9"


def test_a_registration_elsewhere_is_reported_not_overwritten(cli: Cli, promoted: Path) -> None:
    run_git(promoted, "tag", "-a", f"{DEMO_MODEL}@v1.0.0", "HEAD", "-m", "somewhere else")
    result = cli("promote", "tag", cwd=promoted)
    assert result.exit_code == 2
    assert f"tag {DEMO_MODEL}@v1.0.0 points to" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert tags(promoted) == {f"{DEMO_MODEL}@v1.0.0"}  # nothing half-mirrored for that version
    run_git(promoted, "tag", "--delete", f"{DEMO_MODEL}@v1.0.0")
    run_git(promoted, "tag", f"{DEMO_MODEL}@v1.0.0", _bytes_commit(promoted))  # lightweight
    result = cli("promote", "tag", cwd=promoted)
    assert result.exit_code == 2 and "is lightweight (GTO ignores it)" in result.stderr


def test_tag_names_parse_as_gto_parses_them() -> None:
    from gto.tag import parse_name

    from mlops_ci.promote.tags import parse_gto_name

    for name in (
        "fraud-detector@v1.0.0",
        "fraud-detector@v1.0.0!",
        "fraud-detector#staging#2",
        "fraud-detector#staging!#13",
        "fraud-detector@deprecated#4",
        "dir=sub/model@v2.0.0-rc.1+build.5",
        "a#b",
        "fraud-detector#dev#",
        "fraud.detector#dev#1",
        "-x#dev#1",
        "fraud-detector@1.0.0",
        "fraud-detector#dev#1#2",
    ):
        theirs = parse_name(name, raise_on_fail=False)
        ours = parse_gto_name(name)
        assert (ours is None) == (not theirs), name
        if ours is not None:
            assert ours.artifact == theirs["name"], name
            assert ours.counter == theirs.get("counter"), name
            assert ours.version == theirs.get("version"), name
            assert ours.stage == theirs.get("stage"), name


def test_push_replans_when_another_job_pushed_first(
    cli: Cli, promoted: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two tag jobs race: the loser's push is refused, it drops its tags, fetches and re-plans."""
    from mlops_ci.promote import tags as tags_module

    origin = promoted / ".git" / "mlops-ci-demo-origin.git"
    other = tmp_path / "other"
    run_git(tmp_path, "clone", "--quiet", str(origin), str(other))
    real_plan = tags_module.plan_tags
    calls: list[int] = []

    def racing(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:  # after this job fetched the remote's tags: GTO in another clone
            gto_api.register(str(other), DEMO_MODEL, ref=_bytes_commit(other), version="v1.0.0")
            gto_api.assign(str(other), DEMO_MODEL, "dev", version="v1.0.0")
            run_git(other, "push", "--quiet", "origin", "--tags")
        return real_plan(*args, **kwargs)

    monkeypatch.setattr(tags_module, "plan_tags", racing)
    result = cli("promote", "tag", "--push", cwd=promoted)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split() == ["tagged", f"{DEMO_MODEL}#staging#2"]
    assert len(calls) == 2
    remote = set(run_git(origin, "tag", "--list").split())
    assert remote == {f"{DEMO_MODEL}@v1.0.0", f"{DEMO_MODEL}#dev#1", f"{DEMO_MODEL}#staging#2"}
    assert_versions_once(str(promoted), {"v1.0.0": ["dev", "staging"]})


def _state(version: str, commit: str) -> str:
    return (
        f"models:\n  m:\n    version: '{version}'\n    artifact: models/m.onnx\n"
        f"    digest: sha256:{'a' * 64}\n    promoted_from: {{commit: {commit}}}\n"
    )


def test_what_gto_cannot_hold_is_named_not_tagged(tmp_path: Path) -> None:
    """A non-SemVer version, or one version from two commits: named, never tagged wrongly."""
    from mlops_ci.promote.gitwork import Author, PromotionRepo
    from mlops_ci.promote.tags import tag_promotions

    _, repo = bare_remote(tmp_path, {"models/m.onnx": "one"})
    first = run_git(repo, "rev-parse", "HEAD")
    steps = [("dev", "1.0", first), ("dev", "2.0.0", first), ("staging", "2.0.0", first)]
    for env, version, commit in steps:
        (repo / "deploy").mkdir(exist_ok=True)
        (repo / "deploy" / f"{env}.yaml").write_text(_state(version, commit))
        run_git(repo, "add", "-A")
        run_git(repo, "commit", "--quiet", "-m", f"{env} {version}")
    (repo / "models/m.onnx").write_text("two")
    run_git(repo, "commit", "--quiet", "-am", "retrained, same version")
    second = run_git(repo, "rev-parse", "HEAD")
    (repo / "deploy" / "prod.yaml").write_text(_state("2.0.0", second))
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "--quiet", "-m", "prod 2.0.0 from other bytes")
    promotion = PromotionRepo(repo)
    try:
        outcome = tag_promotions(promotion, "deploy", ENVS, Author("ci", "ci@example.com"))
    finally:
        promotion.close()
    assert outcome.created == ()
    assert outcome.skipped == (
        "m 1.0: the version is not SemVer (GTO registers vMAJOR.MINOR.PATCH)",
        "m 2.0.0: this version was promoted from two commits (GTO: one commit per version)",
    )
    assert tags(repo) == set()
