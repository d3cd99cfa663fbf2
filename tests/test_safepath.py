"""Path confinement (mlops_ci.safepath) and the scrubber (mlops_ci.scrub): issue 12, classes 2
and 5. The corpus (tests/corpus/leaks.py) and tests/test_marker_leak.py run them end to end."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_ci.errors import ConfigError, InputError, MlopsCiError
from mlops_ci.findings import Finding, Severity
from mlops_ci.fsutil import atomic_write
from mlops_ci.safepath import confine, output_path, read_text, refuse_escaping_links
from mlops_ci.scrub import (
    REDACTED,
    ScrubbingStream,
    excerpt,
    scrub,
    secret_values,
    subprocess_environ,
)
from tests.conftest import CliResult


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    """A repository and a directory beside it holding a secret."""
    repo, outside = tmp_path / "repo", tmp_path / "outside"
    (repo / "sub").mkdir(parents=True)
    outside.mkdir()
    (repo / "sub" / "ok.txt").write_text("fine\n")
    (outside / "secret.txt").write_text("s3cret\n")
    return repo, outside


@pytest.mark.parametrize(
    ("written", "problem"),
    [
        ("/etc/passwd", "absolute path"),
        ("/proc/self/environ", "absolute path"),
        ("../outside/secret.txt", "leads outside"),
        ("sub/../../outside/secret.txt", "leads outside"),
        ("a\0b", "NUL"),
        (".git/config", ".git/"),
    ],
)
def test_untrusted_paths_are_refused(tree: tuple[Path, Path], written: str, problem: str) -> None:
    repo, _ = tree
    with pytest.raises(InputError, match=problem):
        confine(written, repo, what="path")


def test_symlinks_out_are_refused_whatever_their_shape(tree: tuple[Path, Path]) -> None:
    repo, outside = tree
    (repo / "file").symlink_to(outside / "secret.txt")
    (repo / "dir").symlink_to(outside)
    (repo / "chain").symlink_to("file")
    (repo / "proc").symlink_to("/proc/self")
    (repo / "git").mkdir()
    (repo / ".git").mkdir()
    (repo / ".git" / "config").write_text("token\n")
    (repo / "gitlink").symlink_to(".git/config")
    for written in ("file", "dir/secret.txt", "chain"):
        with pytest.raises(InputError, match="symlink"):
            confine(written, repo, what="path")
    with pytest.raises(InputError, match="special file system"):
        confine("proc/environ", repo, what="path")
    with pytest.raises(InputError, match=".git/"):
        confine("gitlink", repo, what="path")


def test_paths_inside_resolve_to_real_paths(tree: tuple[Path, Path]) -> None:
    repo, _ = tree
    (repo / "link.txt").symlink_to("sub/ok.txt")
    assert confine("link.txt", repo, what="p") == (repo / "sub" / "ok.txt").resolve()
    assert confine("ok.txt", repo, what="p", base=repo / "sub") == (repo / "sub" / "ok.txt")
    assert confine("missing/later.json", repo, what="p") == repo.resolve() / "missing/later.json"


def test_trusted_paths_may_lie_outside_but_not_through_a_planted_link(
    tree: tuple[Path, Path],
) -> None:
    repo, outside = tree
    secret = outside / "secret.txt"
    assert confine(str(secret), repo, what="--key", trusted=True) == secret.resolve()
    (repo / "key.pem").symlink_to(secret)
    with pytest.raises(InputError, match="symlink"):
        confine(str(repo / "key.pem"), repo, what="--key", trusted=True)
    with pytest.raises(InputError, match="special file system"):
        confine("/proc/self/environ", repo, what="--config", trusted=True)


def test_the_error_class_and_position_are_the_callers(tree: tuple[Path, Path]) -> None:
    repo, _ = tree
    from mlops_ci.errors import SourcePosition

    with pytest.raises(ConfigError) as caught:
        confine(
            "/x", repo, what="'waivers'", position=SourcePosition("c.yaml", 3), error=ConfigError
        )
    assert str(caught.value).startswith("c.yaml:3: 'waivers' '/x' is an absolute path")


def test_a_fifo_is_never_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    done = threading.Event()
    errors: list[BaseException] = []

    def read() -> None:
        try:
            read_text(fifo, what="requirements file")
        except MlopsCiError as exc:
            errors.append(exc)
        done.set()

    threading.Thread(target=read, daemon=True).start()
    assert done.wait(5), "reading a FIFO blocked"
    assert "a FIFO, not a regular file" in str(errors[0])


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/stdin", "/proc/self/environ"])
def test_special_files_are_never_read(special: str) -> None:
    with pytest.raises(InputError, match="special file system"):
        read_text(Path(special), what="file")


def test_size_cap(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * 2048)
    with pytest.raises(InputError, match="over the"):
        read_text(big, what="file", max_bytes=1024)


def test_bad_utf8_names_its_line_only(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\nsecret=caf\xe9\n")
    with pytest.raises(InputError) as caught:
        read_text(bad, what="requirements file")
    assert ":2:" in str(caught.value) and "secret" not in str(caught.value)


def test_writes_never_follow_a_planted_link_out(tree: tuple[Path, Path]) -> None:
    """A symlinked directory is refused; a symlink at the name itself is replaced, not followed."""
    repo, outside = tree
    (repo / "out").symlink_to(outside)
    with pytest.raises(InputError, match="symlink"):
        output_path(repo / "out" / "model.onnx.sig", repo, what="signature")
    (repo / "model.onnx.sig").symlink_to(outside / "secret.txt")
    target = output_path(repo / "model.onnx.sig", repo, what="signature")
    atomic_write(target, "bundle")
    assert (outside / "secret.txt").read_text() == "s3cret\n"
    assert not (repo / "model.onnx.sig").is_symlink()
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


def test_sign_writes_nothing_outside_through_a_symlinked_model_dir(
    demo_repo: Path, cli: Callable[..., CliResult]
) -> None:
    """`sign` with the model directory linked outside the repository: exit 2, no file there."""
    import shutil

    outside = demo_repo.parent / "outside"
    outside.mkdir()
    shutil.move(demo_repo / "models", outside / "models")
    (demo_repo / "models").symlink_to(outside / "models")
    before = sorted(str(p) for p in outside.rglob("*"))
    result = cli("sign", cwd=demo_repo)
    assert result.exit_code == 2, result.stderr
    assert "symlink" in result.stderr
    assert sorted(str(p) for p in outside.rglob("*")) == before


def test_source_trees_with_links_out_are_refused(tree: tuple[Path, Path]) -> None:
    repo, outside = tree
    (repo / "sub" / "x.py").symlink_to(outside / "secret.txt")
    with pytest.raises(InputError, match="symlink"):
        refuse_escaping_links(repo / "sub", repo, what="source file")


def test_scrub_removes_credentials_and_secret_values() -> None:
    environ = {"GITHUB_TOKEN": "ghs_abcdef123456", "HOME": "/root", "FLAG_KEY": "yes"}
    text = (
        "https://user:pa55@host/x?token=abc&x=1 password: hunter2 Authorization: Bearer"
        " abcdefghijkl and ghs_abcdef123456 at /root yes"
    )
    scrubbed = scrub(text, environ)
    for secret in ("pa55", "abc&", "hunter2", "abcdefghijkl", "ghs_abcdef123456"):
        assert secret not in scrubbed
    assert "/root" in scrubbed and scrubbed.endswith(" yes")  # not secrets: left alone
    assert secret_values(environ) == ["ghs_abcdef123456"]


def test_excerpt_is_short_one_line_and_binary_free() -> None:
    shown = excerpt("A=1\0B=2\n" * 100)
    assert len(shown) <= 80 and "\0" not in shown and "\n" not in shown


def test_subprocesses_get_no_secret_variables() -> None:
    env = subprocess_environ({"GITHUB_TOKEN": "t", "CI_JOB_TOKEN": "t", "PATH": "/bin"})
    assert env == {"PATH": "/bin"}


def test_every_message_and_finding_is_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI_JOB_TOKEN", "glcbt-0123456789")
    error = InputError("bad line 'x glcbt-0123456789 https://u:p@h/'")
    assert "glcbt" not in str(error) and "u:p@" not in str(error)
    finding = Finding("R", Severity.HIGH, "saw glcbt-0123456789", None, "f")
    assert finding.message == f"saw {REDACTED}"


def test_the_cli_streams_are_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setenv("GITLAB_TOKEN", "glpat-0123456789")
    sink = io.StringIO()
    stream = ScrubbingStream(sink)
    stream.write("token glpat-0123456789\n")
    assert sink.getvalue() == f"token {REDACTED}\n"
    with pytest.raises(AttributeError):
        stream.buffer  # noqa: B018  (no binary side door)


def test_trust_is_keyed_a_pipeline_path_does_not_open_other_keys(tree: tuple[Path, Path]) -> None:
    """MLOPS_CI_SIGNING_KEY_FILE may point outside; the same string as a card is still refused."""
    from mlops_ci.config import load_config

    repo, outside = tree
    key = str(outside / "secret.txt")
    environ = {"MLOPS_CI_SIGNING_KEY_FILE": key}
    (repo / "mlops-ci.yaml").write_text("version: 1\n")
    loaded = load_config(cwd=repo, environ=environ)
    assert loaded.resolve(key, "signing.key") == Path(key).resolve()
    with pytest.raises(ConfigError, match="absolute path"):
        loaded.resolve(key, "models.card")
    with pytest.raises(ConfigError, match="absolute path"):
        loaded.resolve(key)
    (repo / "mlops-ci.yaml").write_text(
        f"version: 1\nmodels:\n  - {{name: m, path: m.onnx, card: {key}}}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(cwd=repo, environ=environ)
    assert "mlops-ci.yaml:3:" in str(caught.value) and "models[0].card" in str(caught.value)


def test_a_config_path_out_names_its_key_and_line(tree: tuple[Path, Path]) -> None:
    from mlops_ci.config import load_config

    repo, _ = tree
    (repo / "mlops-ci.yaml").write_text("version: 1\nscan:\n  vuln_db: ../outside\n")
    with pytest.raises(ConfigError) as caught:
        load_config(cwd=repo, environ={})
    assert str(caught.value).startswith("mlops-ci.yaml:3:3: 'scan.vuln_db' '../outside' leads")


def test_init_writes_nothing_through_a_linked_directory(
    tree: tuple[Path, Path], cli: Callable[..., CliResult]
) -> None:
    repo, outside = tree
    (repo / ".github").symlink_to(outside)
    result = cli("init", str(repo))
    assert result.exit_code == 2 and "symlink" in result.stderr
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


def test_scrubbing_a_json_report_keeps_it_json() -> None:
    """Report files are scrubbed whole: the result must still parse."""
    import json

    environ = {"GITHUB_TOKEN": "ghs_abcdef123456", "SECRET_PIN": "123456"}
    document = {
        "message": 'password: "hunter2" and token=ghs_abcdef123456 at https://u:p@h/x',
        "path": "C:\\\\dir\\\\password=x",
        "count": 123456,
        "url": "https://user:ghs_abcdef123456@host/",
    }
    text = scrub(json.dumps(document), environ)
    parsed = json.loads(text)
    assert parsed["count"] == 123456
    assert "ghs_abcdef123456" not in text and "u:p@" not in text


def test_a_json_document_stays_json_even_when_a_secret_sits_in_an_escape() -> None:
    import json

    from mlops_ci.scrub import scrub_document

    environ = {"ODD_TOKEN": "u00e9abcdef"}
    text = json.dumps({"name": "caf\u00e9abcdef", "n": 1})
    assert "\\u00e9abcdef" in text
    parsed = json.loads(scrub_document(text, environ))
    assert parsed["n"] == 1


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(document=_json_values, secret=st.text(min_size=6, max_size=20))
def test_scrubbed_json_always_parses_and_holds_no_secret(document: object, secret: str) -> None:
    """Whatever the document and whatever the secret value, the result is JSON."""
    import json

    from mlops_ci.scrub import scrub_document

    text = json.dumps({"doc": document, "leak": f"https://u:{secret}@h/ {secret}"}, indent=2)
    out = scrub_document(text, {"CI_JOB_TOKEN": secret})
    json.loads(out)
