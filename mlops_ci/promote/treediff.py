"""What a pull request changes, read the way git stores it: tree against tree, no heuristics.

``promote verify`` must see every change a merge would make, so it compares the base commit's
tree with HEAD's tree directly (``git diff-tree -r --no-renames``): a rename is a deletion plus
an addition (git's rename detection would otherwise pair a deleted workflow with a new state
file, or hide ``git mv staging.yaml prod.yaml``), and every record keeps both modes, so a file
made executable, replaced by a symlink or by a submodule is a change of its own. Paths are read
NUL-separated as bytes (no quoting, no decoding guesses).
"""

from __future__ import annotations

from dataclasses import dataclass

from mlops_ci.promote.gitwork import GitError, PromotionRepo

REGULAR = "100644"
_KINDS = {
    "100644": "a regular file",
    "100755": "an executable file",
    "120000": "a symbolic link",
    "160000": "a submodule (gitlink)",
    "040000": "a directory",
    "000000": "absent",
}
_STATUS = {"A": "added", "D": "deleted", "M": "changed", "T": "changed in type"}


@dataclass(frozen=True)
class TreeChange:
    """One path that differs between two trees."""

    status: str  # A added, D deleted, M modified (content or mode), T type changed
    path: str
    old_mode: str
    new_mode: str
    old_id: str
    new_id: str

    @property
    def described(self) -> str:
        """``added``, ``deleted``, ``changed``, or the mode change in words."""
        if self.status in ("M", "T") and self.old_mode != self.new_mode:
            return f"changed from {kind(self.old_mode)} to {kind(self.new_mode)}"
        return _STATUS.get(self.status, "changed")


def kind(mode: str) -> str:
    """A git file mode in words."""
    return _KINDS.get(mode, f"mode {mode}")


def tree_changes(repo: PromotionRepo, base: str, head: str) -> list[TreeChange]:
    """Every path whose content, mode or type differs between ``base`` and ``head``."""
    out = repo.git_bytes(
        "diff-tree",
        "-r",
        "-z",
        "--raw",
        "--no-abbrev",
        "--no-renames",
        "--ignore-submodules=none",
        base,
        head,
    )
    if out is None:
        raise GitError(f"git diff-tree {base[:12]} {head[:12]} failed; fetch both commits")
    fields = out.split(b"\0")
    changes: list[TreeChange] = []
    index = 0
    while index + 1 < len(fields):
        meta, raw_path = fields[index], fields[index + 1]
        index += 2
        if not meta.startswith(b":"):
            continue  # the commit id line diff-tree prints when given one commit (not used)
        old_mode, new_mode, old_id, new_id, status = meta[1:].decode("ascii").split(" ")
        path = raw_path.decode("utf-8", errors="surrogateescape")
        changes.append(TreeChange(status[:1], path, old_mode, new_mode, old_id, new_id))
    return changes


def display_path(path: str) -> str:
    """``path`` safe to print: undecodable bytes and control characters escaped, bounded."""
    text = path.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="backslashreplace")
    text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    return text if len(text) <= 200 else text[:197] + "..."
