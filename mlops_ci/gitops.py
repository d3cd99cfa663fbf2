"""Git access (GitPython): what commit a run is about, and the few writes the tool makes."""

from __future__ import annotations

from collections.abc import Sequence
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
            committed_at: int | None = int(repo.head.commit.committed_date)
        except ValueError:  # a repository without commits
            commit, committed_at = None, None
        branch = None if repo.head.is_detached else repo.active_branch.name
        remote_url = None
        if "origin" in [r.name for r in repo.remotes]:
            remote_url = _redact(repo.remotes.origin.url)
        return GitInfo(
            commit=commit,
            branch=branch,
            dirty=repo.is_dirty(untracked_files=False),
            remote_url=remote_url,
            committed_at=committed_at,
        )


def last_commit_of(root: Path, paths: Sequence[Path]) -> tuple[str, int] | None:
    """The newest commit (hexsha, commit time) that changed any of ``paths`` (those inside
    ``root``'s repository), or None outside git or when none did.

    The time and commit of evidence that must stay byte-identical while its inputs do (the SBOM):
    commits that only add signatures, attestations or state files do not move it.
    """
    import git

    try:
        repo = git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    with repo:
        top = Path(repo.working_tree_dir or root).resolve()
        inside = []
        for path in paths:
            try:
                inside.append(path.resolve().relative_to(top).as_posix() or ".")
            except ValueError:
                continue  # outside the repository: no commit can speak for it
        if not inside:
            return None
        try:
            line = repo.git.log("-1", "--format=%H %ct", "--", *inside).strip()
        except git.GitCommandError:
            return None
    sha, _, when = line.partition(" ")
    return (sha, int(when)) if sha and when.isdigit() else None


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


def changed_since(path: Path, base: str) -> tuple[Path, list[str], str]:
    """Files changed between the merge base of ``base`` and HEAD, and in the work tree.

    Returns the work tree root, the changed paths relative to it (committed, staged, unstaged and
    untracked; both sides of a rename) and the merge-base commit. A ``base`` that names no commit,
    or shares no history with HEAD (a shallow clone), is a UsageError saying what to fetch.
    """
    import git

    from mlops_ci.errors import UsageError

    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise UsageError(f"--base {base}: {path} is not inside a git repository") from None
    with repo:
        try:
            repo.git.rev_parse("--verify", "--quiet", f"{base}^{{commit}}")
        except git.GitCommandError:
            raise UsageError(
                f"--base {base!r}: no such commit, branch or tag; fetch it first"
                " (git fetch origin, or actions/checkout with fetch-depth: 0)"
            ) from None
        try:
            merge_base = repo.git.merge_base(base, "HEAD").strip()
        except git.GitCommandError:
            raise UsageError(
                f"--base {base!r}: no common history with HEAD; fetch the full history"
                " (actions/checkout with fetch-depth: 0, or GIT_DEPTH: 0 on GitLab)"
            ) from None
        names = set(repo.git.diff("--name-only", "--no-renames", "-z", merge_base).split("\0"))
        names.update(repo.git.ls_files("--others", "--exclude-standard", "-z").split("\0"))
        root = Path(str(repo.working_tree_dir))
        return root, sorted(n for n in names if n), merge_base


def default_branch(path: Path) -> str | None:
    """The default branch of the repository containing ``path``, as a ref to read files at.

    ``origin/HEAD``'s target (``origin/main``) when the remote's HEAD is known, else a local
    ``main`` or ``master``; None outside a repository or when none of them exists.
    """
    import git

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


def read_file_at_ref(path: Path, ref: str) -> tuple[bytes | None, str]:
    """The bytes of file ``path`` as committed at ``ref``, and the commit's short SHA.

    ``path`` is a file in the work tree of a git repository; the bytes are None when the file
    does not exist at ``ref``. A ref that does not exist, or a path outside any repository, is
    an :class:`InputError`.
    """
    import git

    from mlops_ci.errors import InputError, SourcePosition

    if not ref or ref.startswith("-") or any(c.isspace() for c in ref):
        raise InputError(f"--baseline {ref!r} is not a file, nor a valid git ref")
    try:
        repo = git.Repo(path.parent, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise InputError(
            f"--baseline {ref!r} looks like a git ref, but the model is not in a git repository;"
            " give the baseline as an .onnx file",
            SourcePosition(str(path)),
        ) from None
    with repo:
        try:
            commit = repo.commit(ref)
        except (git.BadName, git.BadObject, ValueError, git.GitCommandError):
            raise InputError(
                f"git ref {ref!r} does not exist in {repo.working_tree_dir}; fetch it first"
                " (e.g. git fetch origin main) or give the baseline as an .onnx file"
            ) from None
        root = Path(str(repo.working_tree_dir)).resolve()
        try:
            relative = path.resolve().relative_to(root).as_posix()
        except ValueError:
            raise InputError(
                f"the model is outside the git repository {root}; give the baseline as a file",
                SourcePosition(str(path)),
            ) from None
        try:
            blob = commit.tree / relative
        except KeyError:
            return None, commit.hexsha[:12]
        return bytes(blob.data_stream.read()), commit.hexsha[:12]


def merge_and_push(
    path: Path, branch: str, message: str, author: tuple[str, str] = DEMO_AUTHOR
) -> str:
    """Merge ``origin/<branch>`` into the checked-out branch (no fast-forward) and push it.

    This is what a reviewer's "merge" button does; the demo uses it to land promotion PRs.
    """
    import git

    with git.Repo(path) as repo:
        origin = repo.remotes.origin
        origin.fetch()
        name, email = author
        env = {
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
        }
        repo.git.merge("--no-ff", "-m", message, f"origin/{branch}", env=env)
        current = repo.active_branch.name
        origin.push(refspec=f"{current}:{current}")
        return str(repo.head.commit.hexsha)


def push_current(path: Path) -> None:
    """Push the checked-out branch to ``origin``."""
    import git

    with git.Repo(path) as repo:
        current = repo.active_branch.name
        repo.remotes.origin.push(refspec=f"{current}:{current}")


def is_tracked(root: Path, path: Path) -> bool:
    """Whether git tracks ``path`` (a file, or any file under a directory) in ``root``'s repository.

    Files a pull request commits are the attacker's; a tool the pipeline installed (a virtualenv)
    is untracked. Outside a git repository nothing is tracked.
    """
    import subprocess

    try:
        relative = path.relative_to(root)
    except ValueError:
        return False
    completed = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z", "--", relative.as_posix() or "."],
        capture_output=True,
        check=False,
    )
    return completed.returncode == 0 and bool(completed.stdout.strip(b"\0"))
