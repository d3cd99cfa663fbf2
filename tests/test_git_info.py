"""``git_info`` asks git itself; GitPython, which it replaced on the run's path, is the oracle."""

from __future__ import annotations

import subprocess
from pathlib import Path

import git
import pytest

from mlops_ci.findings import GitInfo
from mlops_ci.gitops import _redact, changed_files, git_info


def _run(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@invalid", *args],
        check=True,
        capture_output=True,
    )


def _oracle(path: Path) -> GitInfo:
    """What the GitPython implementation (before issue 16) returned for ``path``."""
    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return GitInfo()
    with repo:
        try:
            commit: str | None = repo.head.commit.hexsha
            committed_at: int | None = int(repo.head.commit.committed_date)
        except ValueError:
            commit, committed_at = None, None
        branch = None if repo.head.is_detached else repo.active_branch.name
        remote = repo.remotes.origin.url if "origin" in [r.name for r in repo.remotes] else None
        return GitInfo(
            commit=commit,
            branch=branch,
            dirty=repo.is_dirty(untracked_files=False),
            remote_url=_redact(remote) if remote else None,
            committed_at=committed_at,
        )


def test_outside_a_repository(tmp_path: Path) -> None:
    assert git_info(tmp_path) == GitInfo() == _oracle(tmp_path)
    assert git_info(tmp_path / "missing") == GitInfo()


def test_every_state_matches_gitpython(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    _run(tmp_path, "init", "-q", "-b", "main", str(repo))
    (repo / "sub").mkdir()
    seen = []

    def same(state: str, where: Path = repo) -> None:
        ours, oracle = git_info(where), _oracle(where)
        assert ours == oracle, (state, ours, oracle)
        seen.append((state, ours))

    same("no commits yet")
    (repo / "a.txt").write_text("one\n")
    _run(repo, "add", "a.txt")
    same("staged file, no commits")
    _run(repo, "commit", "-qm", "first")
    same("clean")
    same("asked from a subdirectory", repo / "sub")
    (repo / "untracked.txt").write_text("x\n")
    same("untracked file only (not dirty)")
    (repo / "a.txt").write_text("two\n")
    same("modified tracked file")
    _run(repo, "add", "a.txt")
    same("staged modification")
    _run(repo, "commit", "-qm", "second")
    _run(repo, "remote", "add", "origin", "https://user:s3cret@example.invalid/o/r.git")
    same("origin with credentials")
    _run(repo, "checkout", "-q", "--detach", "HEAD~1")
    same("detached head")
    _run(repo, "checkout", "-q", "-b", "feature/x")
    (repo / "a.txt").unlink()
    same("deleted tracked file on a branch with a slash")
    assert isinstance(seen[2][1].committed_at, int)
    assert not any("s3cret" in str(info) for _, info in seen)
    assert seen[3][1] == seen[2][1] and not seen[4][1].dirty and seen[5][1].dirty


@pytest.mark.parametrize("unborn_branch", ["main", "trunk"])
def test_unborn_branch_is_named(tmp_path: Path, unborn_branch: str) -> None:
    _run(tmp_path, "init", "-q", "-b", unborn_branch, str(tmp_path / "r"))
    assert git_info(tmp_path / "r") == GitInfo(branch=unborn_branch) == _oracle(tmp_path / "r")


def _changed_oracle(path: Path, base: str | None) -> set[str]:
    """GitPython's answer (the implementation before issue 16), renames' new paths added."""
    with git.Repo(path, search_parent_directories=True) as repo:
        names = set(repo.untracked_files)
        for diff in (*repo.index.diff(None), *repo.index.diff("HEAD", R=True)):
            names.update(p for p in (diff.a_path, diff.b_path) if p)
        if base:
            names.update(repo.git.diff("--name-only", f"{base}...HEAD").splitlines())
        return names


def test_changed_files_matches_gitpython(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    _run(tmp_path, "init", "-q", "-b", "main", str(repo))
    assert changed_files(repo) == []
    (repo / "keep.txt").write_text("k\n")
    (repo / "old name.txt").write_text("o\n" * 50)
    (repo / ".gitignore").write_text("ignored/\n")
    _run(repo, "add", "-A")
    _run(repo, "commit", "-qm", "base")
    _run(repo, "branch", "base")
    (repo / "committed.txt").write_text("c\n")
    _run(repo, "add", "committed.txt")
    _run(repo, "commit", "-qm", "on main")
    (repo / "sub" / "deep").mkdir(parents=True)
    (repo / "sub" / "deep" / "untracked é.txt").write_text("u\n")
    (repo / "ignored").mkdir()
    (repo / "ignored" / "x.txt").write_text("i\n")
    (repo / "keep.txt").write_text("changed\n")
    _run(repo, "mv", "old name.txt", "new name.txt")
    for base in (None, "base"):
        ours = changed_files(repo / "sub", base)
        assert set(ours) == _changed_oracle(repo, base), base
        assert "ignored/x.txt" not in ours and "sub/deep/untracked é.txt" in ours
        assert {"old name.txt", "new name.txt"} <= set(ours)
    assert "committed.txt" in changed_files(repo, "base")
    assert "committed.txt" not in changed_files(repo)


def test_changed_files_base_is_never_an_option(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    _run(tmp_path, "init", "-q", "-b", "main", str(repo))
    (repo / "a").write_text("a\n")
    _run(repo, "add", "a")
    _run(repo, "commit", "-qm", "a")
    written = tmp_path / "written"
    assert changed_files(repo, f"--output={written}") == []
    assert not written.exists()
    assert changed_files(tmp_path / "not-a-repo") == []


def _default_branch_oracle(path: Path) -> str | None:
    """What the GitPython implementation of ``default_branch`` (before issue 16) returned."""
    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    with repo:
        try:
            remote_head = str(
                repo.git.symbolic_ref("--quiet", "--short", "refs/remotes/origin/HEAD")
            )
        except git.GitCommandError:
            remote_head = ""
        if remote_head.strip():
            return remote_head.strip()
        local = {head.name for head in repo.heads}
        return next((name for name in ("main", "master") if name in local), None)


def test_default_branch_matches_gitpython(tmp_path: Path) -> None:
    from mlops_ci.gitops import default_branch

    repo = tmp_path / "repo"
    assert default_branch(repo) is None  # no such path
    repo.mkdir()
    (repo / "sub").mkdir()
    seen = []

    def agree() -> None:
        for where in (repo, repo / "sub", repo / "sub" / "file.txt"):
            found = default_branch(where)
            assert found == _default_branch_oracle(where), where
        seen.append(found)

    agree()  # not a repository
    _run(repo, "init", "-q", "-b", "trunk")
    agree()  # unborn, neither main nor master
    (repo / "sub" / "file.txt").write_text("x")
    _run(repo, "add", "-A")
    _run(repo, "commit", "-q", "-m", "one")
    agree()  # only "trunk"
    _run(repo, "branch", "master")
    agree()
    _run(repo, "branch", "main")
    _run(repo, "branch", "main-old")
    agree()  # both: main first
    _run(repo, "update-ref", "refs/remotes/origin/release", "HEAD")
    _run(repo, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/release")
    agree()  # the remote's HEAD wins
    assert seen == [None, None, None, "master", "main", "origin/release"]
