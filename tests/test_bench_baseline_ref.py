"""Reading a bench baseline at a git ref (``gitops.read_file_at_ref``), asked of git itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlops_ci.errors import InputError
from mlops_ci.gitops import read_file_at_ref
from tests.gitrepos import git


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "--quiet", "--initial-branch=main")
    git(root, "config", "user.name", "t")
    git(root, "config", "user.email", "t@example.invalid")
    odd = root / "dir é x"  # a path git would quote, with a colon that `REV:PATH` must keep
    odd.mkdir()
    (odd / "a b:c.onnx").write_bytes(b"\x00old\xff")
    (root / "empty.onnx").write_bytes(b"")
    (root / "link").symlink_to("dir é x")
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", "one")
    git(root, "tag", "-a", "v1", "-m", "an annotated tag: peeled to its commit")
    (odd / "a b:c.onnx").write_bytes(b"new")
    (root / "new.onnx").write_bytes(b"new")
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", "two")
    return root


def test_bytes_at_a_ref_and_the_short_commit(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD~1")
    model = repo / "dir é x" / "a b:c.onnx"
    assert read_file_at_ref(model, "v1") == (b"\x00old\xff", first[:12])
    assert read_file_at_ref(model, "HEAD~1") == (b"\x00old\xff", first[:12])
    assert read_file_at_ref(model, first[:7]) == (b"\x00old\xff", first[:12])
    assert read_file_at_ref(model, "main")[0] == b"new"
    assert read_file_at_ref(repo / "new.onnx", "main")[0] == b"new"
    # The work-tree path is resolved first: through a symlink is the same file.
    assert read_file_at_ref(repo / "link" / "a b:c.onnx", "v1")[0] == b"\x00old\xff"
    assert read_file_at_ref(repo / "empty.onnx", "v1")[0] == b""


def test_a_file_missing_at_the_ref_or_a_directory_is_none(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD~1")
    assert read_file_at_ref(repo / "new.onnx", "v1") == (None, first[:12])
    assert read_file_at_ref(repo / "dir é x", "v1") == (None, first[:12])


@pytest.mark.parametrize("ref", ["nope", "v1:dir", "HEAD~9", "--output=/tmp/x", "", "a b"])
def test_refs_that_name_no_commit_are_input_errors(repo: Path, ref: str) -> None:
    with pytest.raises(InputError, match="does not exist in|is not a file, nor a valid git ref"):
        read_file_at_ref(repo / "new.onnx", ref)


def test_a_model_outside_any_repository_is_an_input_error(tmp_path: Path, repo: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    with pytest.raises(InputError, match="not in a git repository"):
        read_file_at_ref(outside / "m.onnx", "main")
    with pytest.raises(InputError, match="not in a git repository"):
        read_file_at_ref(tmp_path / "missing" / "m.onnx", "main")
    # A directory the work tree lacks (external data only at the ref): as GitPython, refused.
    with pytest.raises(InputError, match="not in a git repository"):
        read_file_at_ref(repo / "gone" / "data.bin", "main")
    # In the repository's directory, but a symlink out of it: outside the repository.
    (repo / "out").symlink_to(outside)
    with pytest.raises(InputError, match="outside the git repository"):
        read_file_at_ref(repo / "out" / "m.onnx", "main")


def test_reading_a_baseline_at_a_ref_imports_no_gitpython(repo: Path) -> None:
    # GitPython's import and repository opening cost ~0.07 s of the bench gate's lone run.
    code = (
        "import sys; from pathlib import Path; from mlops_ci.gitops import read_file_at_ref;"
        f" assert read_file_at_ref(Path({str(repo / 'new.onnx')!r}), 'main')[0] == b'new';"
        " print('git' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout.strip()) == (0, "False"), done.stderr
