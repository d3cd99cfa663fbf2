"""The parts of ``promote verify`` that decide what a PR changes and what is trusted.

End-to-end forgeries live in ``tests/corpus/promotions.py`` (run by ``tests/test_corpus.py``);
these tests pin the mechanisms on small repositories.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_ci.errors import InputError
from mlops_ci.promote.gitwork import PromotionRepo
from mlops_ci.promote.treediff import display_path, tree_changes
from mlops_ci.promote.trusted import base_config, base_config_path
from tests.gitrepos import bare_remote, git

CONFIG = "version: 1\nmodels: [{name: m, path: models/m.onnx}]\nenvironments: [dev, prod]\n"


@pytest.fixture
def work(tmp_path: Path) -> Path:
    _, clone = bare_remote(
        tmp_path,
        {
            "mlops-ci.yaml": CONFIG,
            "deploy/dev.yaml": "models: {}\n",
            "deploy/prod.yaml": "models: {}\n",
            ".github/workflows/ci.yml": "on: push\n",
        },
    )
    return clone


def changes_after(work: Path, *commands: tuple[str, ...]) -> dict[str, tuple[str, str, str]]:
    base = git(work, "rev-parse", "HEAD")
    for command in commands:
        git(work, *command)
    git(work, "commit", "--quiet", "-m", "pr")
    repo = PromotionRepo(work)
    try:
        found = tree_changes(repo, base, "HEAD")
    finally:
        repo.close()
    return {c.path: (c.status, c.old_mode, c.new_mode) for c in found}


def test_a_rename_is_a_deletion_and_an_addition(work: Path) -> None:
    found = changes_after(work, ("mv", "deploy/dev.yaml", "deploy/qa.yaml"))
    assert found == {
        "deploy/dev.yaml": ("D", "100644", "000000"),
        "deploy/qa.yaml": ("A", "000000", "100644"),
    }


def test_a_deleted_workflow_is_not_paired_with_a_new_state_file(work: Path) -> None:
    (work / "deploy/staging.yaml").write_text("on: push\n")  # identical: git would call it a rename
    found = changes_after(
        work, ("rm", "--quiet", ".github/workflows/ci.yml"), ("add", "deploy/staging.yaml")
    )
    assert found == {
        ".github/workflows/ci.yml": ("D", "100644", "000000"),
        "deploy/staging.yaml": ("A", "000000", "100644"),
    }


def test_mode_type_and_gitlink_changes_are_seen(work: Path) -> None:
    head = git(work, "rev-parse", "HEAD")
    (work / "deploy/prod.yaml").unlink()
    (work / "deploy/prod.yaml").symlink_to("dev.yaml")
    found = changes_after(
        work,
        ("update-index", "--chmod=+x", "deploy/dev.yaml"),
        ("add", "deploy/prod.yaml"),
        ("update-index", "--add", "--cacheinfo", f"160000,{head},deploy/qa.yaml"),
    )
    assert found == {
        "deploy/dev.yaml": ("M", "100644", "100755"),
        "deploy/prod.yaml": ("T", "100644", "120000"),
        "deploy/qa.yaml": ("A", "000000", "160000"),
    }


def test_odd_file_names_are_read_exactly_and_printed_escaped(work: Path) -> None:
    name = "deploy/prod.yaml\nnotes"
    (work / name).write_text("x\n")
    found = changes_after(work, ("add", "-A"))
    assert list(found) == [name]
    assert display_path(name) == "deploy/prod.yaml\\x0anotes"
    assert display_path("a/\udcff.yaml") == "a/\\xff.yaml"


def test_base_config_is_read_from_the_base_commit_not_the_checkout(work: Path) -> None:
    base = git(work, "rev-parse", "HEAD")
    (work / "mlops-ci.yaml").write_text(CONFIG.replace("[dev, prod]", "[prod]"))
    git(work, "commit", "--quiet", "-am", "the PR relaxes the ladder")
    (work / "mlops-ci.yaml").write_text("environments: [")  # and the checkout is broken
    repo = PromotionRepo(work)
    try:
        with base_config(repo, base, "mlops-ci.yaml", {}) as loaded:
            assert loaded.config.environments == ["dev", "prod"]
            assert loaded.root != work and not (loaded.root / "deploy").exists()
        missing = pytest.raises(InputError, match=r"^mlops-ci\.yml@\w+: the base commit has no")
        with missing, base_config(repo, base, "mlops-ci.yml", {}):
            pass
    finally:
        repo.close()


def test_reachability_is_from_the_base_branch_only(work: Path) -> None:
    base = git(work, "rev-parse", "HEAD")
    git(work, "checkout", "--quiet", "-b", "pr")
    git(work, "commit", "--quiet", "--allow-empty", "-m", "only in the PR")
    only_pr = git(work, "rev-parse", "HEAD")
    repo = PromotionRepo(work)
    try:
        assert repo.is_ancestor(base, base)
        assert not repo.is_ancestor(only_pr, base)
        assert not repo.is_ancestor("0" * 40, base)
        tree = git(work, "rev-parse", "HEAD^{tree}")
        assert not repo.is_ancestor(tree, base)  # an object, but not a commit
        assert repo.commits_between(base, "HEAD") == 1
    finally:
        repo.close()


def test_which_configuration_counts_is_decided_in_the_base_commit(work: Path) -> None:
    base = git(work, "rev-parse", "HEAD")
    git(work, "mv", "mlops-ci.yaml", "mlops-ci.yml")  # found first in the PR's checkout
    git(work, "commit", "--quiet", "-m", "rename")
    repo = PromotionRepo(work)
    try:
        assert base_config_path(repo, base, None, work) == "mlops-ci.yaml"
        assert base_config_path(repo, base, work / "mlops-ci.yml", work) == "mlops-ci.yml"
        with pytest.raises(InputError, match="must be a file in the repository"):
            base_config_path(repo, base, work.parent / "elsewhere.yaml", work)
        # from a subdirectory, the nearest one above it, as in a checkout (issue 15)
        assert base_config_path(repo, base, None, work / "deploy") == "mlops-ci.yaml"
        git(work, "rm", "--quiet", "mlops-ci.yml")
        git(work, "commit", "--quiet", "-m", "no configuration")
        with pytest.raises(InputError, match="the base commit has no mlops-ci.yaml in deploy or"):
            base_config_path(repo, git(work, "rev-parse", "HEAD"), None, work / "deploy")
    finally:
        repo.close()


def test_the_base_is_a_branch_never_a_tag_of_the_same_name(work: Path) -> None:
    from mlops_ci.errors import UsageError
    from mlops_ci.promote.review import _resolve_base

    main = git(work, "rev-parse", "main")
    git(work, "checkout", "--quiet", "-b", "pr")
    git(work, "commit", "--quiet", "--allow-empty", "-m", "forged")
    git(work, "tag", "main")
    git(work, "tag", "origin/main")
    repo = PromotionRepo(work)
    try:
        assert _resolve_base(repo, "main") == main
        assert _resolve_base(repo, "origin/main") == main
        git(work, "branch", "--quiet", "origin/main", "pr")  # a local branch shadowing the remote
        with pytest.raises(UsageError, match="both a local and a remote-tracking branch"):
            _resolve_base(repo, "origin/main")
        assert _resolve_base(repo, main) == main
    finally:
        repo.close()


def test_the_summary_says_what_was_verified_or_refused() -> None:
    from mlops_ci.promote.review_summary import summary

    record = {
        "model": "m",
        "environment": "prod",
        "kind": "rollback",
        "from": "rollback",
        "version": "1.0.0",
        "digest": "sha256:" + "ab" * 32,
        "commit": "c" * 40,
        "evidence": {
            "signature": {"mode": "sigstore", "signer": "ci@example.com", "issuer": "x"},
            "attestation": True,
            "gate_verdict": "",
            "policies": [],
            "policy_rules_passed": 0,
        },
    }
    base, head = "b" * 40, "h" * 40
    shown = summary("origin/main", base, head, "fix", [record], 0, ["deploy/prod.yaml"])
    assert shown["result"] == (
        "verified fix (hhhhhhhhhhhh) against origin/main (bbbbbbbbbbbb):"
        " m 1.0.0 (sha256:abababababab) rollback in prod"
    )
    assert shown["m in prod"] == (
        "1.0.0 sha256:abababababab from commit cccccccccccc; signature (sigstore, ci@example.com);"
        " attestation; no promotion policies configured"
    )
    nothing = summary("origin/main", base, head, "", [], 0, [])
    assert nothing == {
        "result": "verified hhhhhhhhhhhh against origin/main (bbbbbbbbbbbb): it changes no state"
        " entry",
        "changed files": "none",
    }
    refused = summary(base, base, head, "x", [], 2, [f"f{i}" for i in range(7)])
    assert refused["result"] == (
        "refused x (hhhhhhhhhhhh) against bbbbbbbbbbbb: 2 finding(s); 0 changed entries verified"
    )
    assert refused["changed files"] == "f0, f1, f2, f3, f4 (+2 more)"
