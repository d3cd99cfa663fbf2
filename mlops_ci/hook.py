"""The git pre-push hook for users without pre-commit: install, remove, and what it runs.

The hook is a two-line shell script that execs ``mlops-ci hook run``, preferring the
``mlops-ci`` that installed it (a push from an IDE often has no virtualenv on ``PATH``). A hook
file without our marker line belongs to someone else and is only replaced with ``force``, after a
backup.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from pathlib import Path

from mlops_ci.config import PRE_PUSH_CHECKS, Config
from mlops_ci.errors import UsageError
from mlops_ci.fsutil import atomic_write

HOOK_MARKER = "# mlops-ci-hook"
BACKUP_SUFFIX = ".mlops-ci-backup"


def hooks_dir(path: Path) -> Path:
    """The hooks directory of the repository at ``path`` (honours ``core.hooksPath``)."""
    import git

    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise UsageError(f"{path} is not inside a git repository; run 'git init' first") from None
    with repo:
        relative = str(repo.git.rev_parse("--git-path", "hooks"))
        return (Path(str(repo.working_tree_dir)) / relative).resolve()


def hook_script(executable: str) -> str:
    """The text of the pre-push hook, calling ``executable`` when it still exists."""
    return (
        "#!/bin/sh\n"
        f"{HOOK_MARKER}: written by 'mlops-ci hook install'; 'mlops-ci hook uninstall' removes it.\n"
        "# Runs the fast mlops-ci gates (card, policy, model files, ONNX validity) offline.\n"
        f"MLOPS_CI={shlex.quote(executable)}\n"
        '[ -x "$MLOPS_CI" ] || MLOPS_CI=mlops-ci\n'
        'exec "$MLOPS_CI" hook run\n'
    )


def is_ours(hook: Path) -> bool:
    """Whether the hook file was written by mlops-ci."""
    try:
        return HOOK_MARKER in hook.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def install_hook(path: Path, executable: str, *, force: bool = False) -> tuple[Path, str]:
    """Write ``.git/hooks/pre-push``; returns the hook and ``created``/``updated``/``replaced``.

    A foreign hook is refused without ``force``; with it, the old hook is kept beside as
    ``pre-push.mlops-ci-backup``.
    """
    hook = hooks_dir(path) / "pre-push"
    action = "created"
    if hook.exists() or hook.is_symlink():
        if is_ours(hook):
            action = "updated"
        elif not force:
            raise UsageError(
                f"{hook} exists and was not written by mlops-ci; pass --force to replace it"
                f" (the old hook is kept as pre-push{BACKUP_SUFFIX}), or call 'mlops-ci hook run'"
                " from it"
            )
        else:
            hook.replace(hook.with_name(f"pre-push{BACKUP_SUFFIX}"))
            action = "replaced"
    atomic_write(hook, hook_script(executable), mode=0o755)
    return hook, action


def uninstall_hook(path: Path) -> Path | None:
    """Remove our pre-push hook (and restore a backed-up one); None when there was none."""
    hook = hooks_dir(path) / "pre-push"
    if not is_ours(hook):
        return None
    hook.unlink()
    backup = hook.with_name(f"pre-push{BACKUP_SUFFIX}")
    if backup.exists():
        backup.replace(hook)
    return hook


def pre_push_checks(config: Config, registered: Iterable[str]) -> tuple[str, ...]:
    """The checks the hook runs: ``hook.checks`` as configured, else the fast default subset."""
    if config.hook.checks is not None:
        return tuple(config.hook.checks)
    known = set(registered)
    return tuple(name for name in PRE_PUSH_CHECKS if name in known)
