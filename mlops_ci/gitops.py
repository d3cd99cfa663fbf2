"""Git access (GitPython): what commit a run is about, and the few writes the tool makes."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from mlops_ci.findings import GitInfo

DEMO_AUTHOR = ("mlops-ci demo", "demo@mlops-ci.invalid")


def git_info(path: Path) -> GitInfo:
    """Commit, branch, dirtiness and origin URL of the repository containing ``path``.

    Asked of ``git`` itself (``status --porcelain=v2 --branch``), not GitPython: every ``check``
    starts here, and importing GitPython and opening the repository cost ~0.2 s of a warm re-run
    that should take under a second. "Dirty" means what ``Repo.is_dirty(untracked_files=False)``
    means: the index or the work tree differs from ``HEAD``; untracked files do not count.
    """
    status = _git(path, "status", "--porcelain=v2", "--branch", "--untracked-files=no")
    if status is None:
        return GitInfo()  # not a repository (or git refuses it): a report about no commit
    headers = {}
    dirty = False
    for line in status.splitlines():
        if line.startswith("# "):
            key, _, value = line[2:].partition(" ")
            headers[key] = value
        elif line:
            dirty = True  # "1 ...", "2 ..." (changed, renamed) or "u ..." (unmerged) entries
    oid = headers.get("branch.oid", "(initial)")
    commit = None if oid == "(initial)" else oid
    committed_at = None
    if commit is not None:
        when = (_git(path, "show", "-s", "--format=%ct", commit) or "").strip()
        committed_at = int(when) if when.isdigit() else None
    head = headers.get("branch.head", "(detached)")
    origin = (_git(path, "config", "--get", "remote.origin.url") or "").strip()
    return GitInfo(
        commit=commit,
        branch=None if head == "(detached)" else head,
        dirty=dirty,
        remote_url=_redact(origin) if origin else None,
        committed_at=committed_at,
    )


def _git(path: Path, *args: str) -> str | None:
    """The output of ``git -C path ARGS`` as text, or None when git fails or is missing."""
    out = _git_bytes(path, *args)
    return None if out is None else out.decode("utf-8", errors="replace")


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
    """Files changed in the work tree (staged, unstaged, untracked), plus ``base...HEAD`` if given.

    Paths are relative to the work tree's root; a rename counts both its old and its new path.
    Asked of ``git status -z`` (one process, no GitPython import: this is on every ``check``'s
    path, warm re-runs included). Outside a repository, or where git fails, nothing changed.
    """
    status = _git(path, "status", "--porcelain=v1", "-z", "--untracked-files=all")
    if status is None:
        return []
    names: set[str] = set()
    fields = iter(status.split("\0"))
    for entry in fields:
        if len(entry) < 4:
            continue  # the empty field after the last NUL
        names.add(entry[3:])
        if entry[0] in "RC" or entry[1] in "RC":
            names.add(next(fields, ""))  # a rename or copy: its source path follows
    if base:
        committed = _git(
            path, "diff", "--name-only", "-z", "--end-of-options", f"{base}...HEAD", "--"
        )
        names.update((committed or "").split("\0"))
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
    ``main`` or ``master``; None outside a repository or when none of them exists. Asked of
    ``git`` directly (no GitPython import on the eval gate's path).
    """
    where = path if path.is_dir() else path.parent
    remote_head = _git(where, "symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD")
    if remote_head and remote_head.strip():
        return remote_head.strip()
    listed = _git(
        where, "for-each-ref", "--format=%(refname)", "refs/heads/main", "refs/heads/master"
    )
    local = set((listed or "").split())
    return next((name for name in ("main", "master") if f"refs/heads/{name}" in local), None)


def read_file_at_ref(path: Path, ref: str) -> tuple[bytes | None, str]:
    """The bytes of file ``path`` as committed at ``ref``, and the commit's short SHA.

    ``path`` is a file in the work tree of a git repository; the bytes are None when the file
    does not exist at ``ref`` (nor does a directory count as one). A ref that does not exist, or
    a path outside any repository, is an :class:`InputError`.

    Asked of ``git`` itself (``rev-parse``, ``cat-file``), not GitPython: the bench gate reads
    its baseline here while it runs alone on the critical path, and importing GitPython and
    opening the repository cost ~0.07 s there. The ref goes after ``--end-of-options``, so a ref
    from a flag is never read as an option.
    """
    from mlops_ci.errors import InputError, SourcePosition

    if not ref or ref.startswith("-") or any(c.isspace() for c in ref):
        raise InputError(f"--baseline {ref!r} is not a file, nor a valid git ref")
    found_at = _repository_above(path.parent)
    top = _git_bytes(found_at, "rev-parse", "--show-toplevel") if found_at else None
    if not top or not top.strip():
        raise InputError(
            f"--baseline {ref!r} looks like a git ref, but the model is not in a git repository;"
            " give the baseline as an .onnx file",
            SourcePosition(str(path)),
        )
    work_tree = os.fsdecode(top.rstrip(b"\n"))
    root = Path(work_tree).resolve()
    # ``^{commit}``: a tag or any other name of a commit peels to the commit itself.
    found = _git_bytes(
        root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"
    )
    commit = found.decode("ascii", "replace").strip() if found else ""
    if not commit:
        raise InputError(
            f"git ref {ref!r} does not exist in {work_tree}; fetch it first"
            " (e.g. git fetch origin main) or give the baseline as an .onnx file"
        )
    try:
        relative = path.resolve().relative_to(root).as_posix()
    except ValueError:
        raise InputError(
            f"the model is outside the git repository {root}; give the baseline as a file",
            SourcePosition(str(path)),
        ) from None
    # ``COMMIT:PATH`` names the path literally (it has no leading ./ or ../); a path that is
    # missing at the commit, or not a blob there, fails, which is "no such file".
    data = _git_bytes(root, "cat-file", "blob", f"{commit}:{relative}")
    return data, commit[:12]


def _repository_above(start: Path) -> Path | None:
    """The nearest of ``start`` and its parents that holds ``.git``, searched lexically.

    Lexically, as GitPython searched: a model reached through a symlink out of the repository
    is then "outside the repository" (and refused), where git's own search from the symlink's
    target would read the baseline from whatever repository the target lies in.
    """
    current = Path(os.path.normpath(start.absolute()))
    if not current.is_dir():
        return None  # GitPython refused a directory that does not exist, before any search
    for directory in (current, *current.parents):
        if (directory / ".git").exists():
            return directory
    return None


def _git_bytes(path: Path, *args: str) -> bytes | None:
    """The raw output of ``git -C path ARGS``, or None when git fails or is missing."""
    import subprocess

    try:
        done = subprocess.run(
            ["git", "-C", str(path), "--no-optional-locks", *args],
            capture_output=True,
            check=False,
        )
    except OSError:
        return None
    return done.stdout if done.returncode == 0 else None


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
