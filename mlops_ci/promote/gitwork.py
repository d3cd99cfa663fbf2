"""Git for promotions: read the default branch, build commits, push branches, read history.

Commits are built with git plumbing (a temporary index, ``commit-tree``) from the fetched default
branch, so a promotion never touches the user's checkout, HEAD or index, and several promotions
can run at once. Only the tool's own ``mlops-ci/promote/...`` branches are ever force-pushed, and
only with ``--force-with-lease`` against the value just fetched.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from mlops_ci.errors import InputError, MlopsCiError

# Objects as stored: no refs/replace substitutions (a fetched replace ref could swap a commit's
# tree under every read), and no pager.
_PLAIN_GIT = {"GIT_NO_REPLACE_OBJECTS": "1", "GIT_PAGER": "cat"}
_LOCK_HINTS = ("cannot lock ref", "unable to create", ".lock", "is at", "but expected")


class GitError(MlopsCiError):
    """A git operation failed in a way the user must look at."""


@dataclass(frozen=True)
class Author:
    """Who a commit is by."""

    name: str
    email: str


@dataclass(frozen=True)
class LogEntry:
    """One commit that touched a file."""

    commit: str
    date: str
    author: str


class PromotionRepo:
    """The repository a promotion changes, through its remote."""

    def __init__(
        self, root: Path, remote: str = "origin", default_branch: str | None = None
    ) -> None:
        import git

        try:
            self.repo = git.Repo(root, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise InputError(
                f"{root} is not inside a git repository; promotions need one"
            ) from None
        self.root = Path(self.repo.working_tree_dir or root)
        self.remote = remote
        if remote not in [r.name for r in self.repo.remotes]:
            raise InputError(
                f"the repository has no remote {remote!r}; add it, or set promotion.remote"
            )
        self.default_branch = default_branch or self._detect_default_branch()

    def close(self) -> None:
        """Release GitPython's resources."""
        self.repo.close()

    def _git(
        self, *args: str, env: Mapping[str, str] | None = None, stdin: str | None = None
    ) -> str:
        import git

        try:
            output = self.repo.git.execute(
                ["git", *args],
                istream=None if stdin is None else _stdin(stdin),
                env={**os.environ, **_PLAIN_GIT, **(env or {})},
            )
            return str(output)
        except git.GitCommandError as exc:
            raise GitError(f"git {args[0]} failed: {_stderr(exc)}") from None

    def git_bytes(self, *args: str) -> bytes | None:
        """The raw standard output of ``git ARGS`` (None when git fails): exact bytes, no decoding."""
        import git

        try:
            output = self.repo.git.execute(
                ["git", *args], stdout_as_string=False, env={**os.environ, **_PLAIN_GIT}
            )
        except git.GitCommandError:
            return None
        return output if isinstance(output, bytes) else str(output).encode()

    def is_ancestor(self, commit: str, ref: str) -> bool:
        """Whether ``commit`` is a commit reachable from ``ref`` (itself included)."""
        kind = self.git_bytes("cat-file", "-t", commit)
        if kind is None or kind.strip() != b"commit":
            return False
        return self.git_bytes("merge-base", "--is-ancestor", commit, ref) is not None

    def commits_between(self, start: str, end: str) -> int:
        """How many non-merge commits ``end`` has that ``start`` does not."""
        out = self.git_bytes("rev-list", "--count", "--no-merges", f"{start}..{end}")
        return int(out.strip()) if out else 0

    def merge_base(self, one: str, other: str) -> str | None:
        """The best common ancestor of two commits (None: unrelated histories)."""
        out = self.git_bytes("merge-base", one, other)
        return out.decode().strip() if out else None

    def blob_id(self, ref: str, path: str) -> str | None:
        """The object id of ``path`` at ``ref`` (None when absent)."""
        out = self.git_bytes("rev-parse", "--verify", "--quiet", f"{ref}:{path}")
        return out.decode().strip() if out else None

    def _detect_default_branch(self) -> str:
        try:
            ref = self._git("symbolic-ref", "--quiet", f"refs/remotes/{self.remote}/HEAD")
            return ref.rsplit(f"refs/remotes/{self.remote}/", 1)[-1]
        except GitError:
            pass
        try:
            for line in self._git("ls-remote", "--symref", self.remote, "HEAD").splitlines():
                if line.startswith("ref: refs/heads/"):
                    return line.split("refs/heads/", 1)[1].split()[0]
        except GitError:
            pass
        return "main"

    @property
    def default_ref(self) -> str:
        """The remote-tracking ref of the default branch."""
        return f"refs/remotes/{self.remote}/{self.default_branch}"

    def remote_url(self) -> str | None:
        """The URL of the remote."""
        try:
            return self._git("remote", "get-url", self.remote)
        except GitError:
            return None

    def fetch(self, attempts: int = 5) -> None:
        """Fetch the default branch and the promotion branches (retrying on ref-lock races)."""
        refspecs = [
            f"+refs/heads/{self.default_branch}:{self.default_ref}",
            f"+refs/heads/mlops-ci/*:refs/remotes/{self.remote}/mlops-ci/*",
        ]
        for attempt in range(1, attempts + 1):
            try:
                self._git("fetch", "--quiet", "--prune", self.remote, *refspecs)
                return
            except GitError as exc:
                if attempt == attempts or not any(h in str(exc) for h in _LOCK_HINTS):
                    raise
                time.sleep(0.2 * attempt)

    def resolve(self, ref: str) -> str | None:
        """The commit ``ref`` names, or None."""
        try:
            return self._git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        except GitError:
            return None

    def head(self) -> str:
        """The commit checked out."""
        sha = self.resolve("HEAD")
        if sha is None:
            raise InputError("the repository has no commits yet")
        return sha

    def read_at(self, ref: str, path: str) -> str | None:
        """The text of ``path`` at ``ref`` (None when it does not exist there)."""
        try:
            return self._git("show", f"{ref}:{path}") + "\n"
        except GitError:
            return None

    def remote_branch(self, branch: str) -> str | None:
        """The fetched commit of ``branch`` on the remote, if it exists."""
        return self.resolve(f"refs/remotes/{self.remote}/{branch}")

    def commit_file(self, base: str, path: str, text: str, message: str, author: Author) -> str:
        """A new commit on top of ``base`` where ``path`` holds ``text``; nothing checked out changes."""
        blob = self._git("hash-object", "-w", "--stdin", stdin=text)
        with tempfile.TemporaryDirectory(prefix="mlops-ci-index-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            self._git("read-tree", base, env=env)
            self._git("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
            tree = self._git("write-tree", env=env)
        identity = {
            "GIT_AUTHOR_NAME": author.name,
            "GIT_AUTHOR_EMAIL": author.email,
            "GIT_COMMITTER_NAME": author.name,
            "GIT_COMMITTER_EMAIL": author.email,
        }
        return self._git("commit-tree", tree, "-p", base, "-F", "-", env=identity, stdin=message)

    def push_branch(
        self, commit: str, branch: str, expected: str | None, push_options: Sequence[str] = ()
    ) -> bool:
        """Push ``commit`` to ``branch`` if the remote still has ``expected`` there (None: absent).

        Returns False when the push was rejected because the remote moved (the caller re-plans).
        """
        if not branch.startswith("mlops-ci/"):
            raise GitError(f"refusing to push {branch}: only mlops-ci/... branches are pushed")
        lease = f"--force-with-lease=refs/heads/{branch}:{expected or ''}"
        options = [f"--push-option={o}" for o in push_options]
        try:
            self._git(
                "push",
                "--quiet",
                "--porcelain",
                lease,
                *options,
                self.remote,
                f"{commit}:refs/heads/{branch}",
            )
        except GitError as exc:
            text = str(exc)
            if any(
                word in text for word in ("rejected", "stale info", "failed to push", "fetch first")
            ):
                return False
            raise
        return True

    def log(self, ref: str, path: str) -> list[LogEntry]:
        """Commits on ``ref``'s first-parent line that changed ``path``, newest first.

        First parents only: what the branch itself held (a merge commit counts as the change),
        never the intermediate states of a merged pull request's own commits.
        """
        out = self._git("log", "--first-parent", "--format=%H%x1f%cI%x1f%an", ref, "--", path)
        entries = []
        for line in out.splitlines():
            commit, date, author = line.split("\x1f")
            entries.append(LogEntry(commit, date, author))
        return entries

    def extract(self, commit: str, paths: Sequence[str], destination: Path) -> None:
        """Write ``paths`` (files or directories) as they are at ``commit`` under ``destination``."""
        import tarfile

        archive = destination / ".extract.tar"
        for path in paths:
            try:
                self._git("archive", "--format=tar", f"--output={archive}", commit, "--", path)
            except GitError:
                continue  # missing at that commit: verification then names what is absent
            try:
                with tarfile.open(archive) as tar:
                    tar.extractall(destination, filter="data")
            except (tarfile.TarError, OSError):
                pass  # a link leaving the tree, an odd member: left out, so verification fails
            finally:
                archive.unlink(missing_ok=True)

    def changed_files(self, base: str, head: str = "HEAD") -> list[str]:
        """Files changed on ``head`` since it diverged from ``base``."""
        return [n for n in self._git("diff", "--name-only", f"{base}...{head}").splitlines() if n]

    def tag(self, name: str, commit: str, message: str, author: Author, push: bool) -> None:
        """Create an annotated tag (and push it)."""
        identity = {
            "GIT_COMMITTER_NAME": author.name,
            "GIT_COMMITTER_EMAIL": author.email,
        }
        self._git("tag", "-a", name, commit, "-m", message, env=identity)
        if push:
            self._git("push", "--quiet", self.remote, f"refs/tags/{name}")

    def tags(self, pattern: str) -> list[str]:
        """Tag names matching a glob."""
        return [t for t in self._git("tag", "--list", pattern).splitlines() if t]


def _stdin(text: str) -> BinaryIO:
    handle = tempfile.TemporaryFile()  # noqa: SIM115 (GitPython reads and closes it)
    handle.write(text.encode("utf-8"))
    handle.seek(0)
    return handle


def _stderr(exc: object) -> str:
    text = str(getattr(exc, "stderr", "") or exc)
    lines = [ln.strip() for ln in text.replace("stderr:", "").splitlines() if ln.strip()]
    return " ".join(lines)[:300].strip("' ")
