"""Git access (GitPython): what commit a run is about, and the few writes the tool makes."""

from __future__ import annotations

from pathlib import Path

from mlops_ci.findings import GitInfo

DEMO_AUTHOR = ("mlops-ci demo", "demo@mlops-ci.invalid")


def git_info(path: Path) -> GitInfo:
    """Commit, branch, dirtiness and origin URL of the repository containing ``path``."""
    import git

    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return GitInfo()
    with repo:
        try:
            commit: str | None = repo.head.commit.hexsha
        except ValueError:  # a repository without commits
            commit = None
        branch = None if repo.head.is_detached else repo.active_branch.name
        remote_url = None
        if "origin" in [r.name for r in repo.remotes]:
            remote_url = _redact(repo.remotes.origin.url)
        return GitInfo(
            commit=commit,
            branch=branch,
            dirty=repo.is_dirty(untracked_files=False),
            remote_url=remote_url,
        )


def _redact(url: str) -> str:
    """Drop credentials from an https URL (``https://user:token@host/...``)."""
    if "://" in url and "@" in url.split("://", 1)[1].split("/", 1)[0]:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://{rest.split('@', 1)[1]}"
    return url


def init_repository(path: Path, *, branch: str = "main") -> None:
    """Create a git repository at ``path`` with ``branch`` as its first branch."""
    import git

    git.Repo.init(path, initial_branch=branch).close()


def commit_all(path: Path, message: str, author: tuple[str, str] = DEMO_AUTHOR) -> str:
    """Stage everything in the work tree of ``path`` and commit it; returns the commit SHA."""
    import git

    with git.Repo(path) as repo:
        repo.git.add(A=True)
        actor = git.Actor(*author)
        commit = repo.index.commit(message, author=actor, committer=actor)
        return str(commit.hexsha)


def add_bare_origin(path: Path, bare: Path, *, branch: str = "main") -> None:
    """Create a bare repository at ``bare``, make it ``origin`` of ``path``, push ``branch``."""
    import git

    git.Repo.init(bare, bare=True, initial_branch=branch).close()
    with git.Repo(path) as repo:
        origin = repo.create_remote("origin", str(bare))
        origin.push(refspec=f"{branch}:{branch}", set_upstream=True)


def changed_files(path: Path, base: str | None = None) -> list[str]:
    """Files changed in the work tree (staged, unstaged, untracked), plus ``base...HEAD`` if given."""
    import git

    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return []
    with repo:
        names: set[str] = set(repo.untracked_files)
        try:
            names.update(d.a_path or d.b_path or "" for d in repo.index.diff(None))
            names.update(d.a_path or d.b_path or "" for d in repo.index.diff("HEAD"))
            if base:
                names.update(repo.git.diff("--name-only", f"{base}...HEAD").splitlines())
        except (git.GitCommandError, git.BadName, ValueError):
            pass
        return sorted(n for n in names if n)
