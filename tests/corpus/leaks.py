"""Secrets and paths (issue 12, classes 2 and 5): every way a repository file can point mlops-ci
at something outside the repository, or make it echo a secret.

Each case plants one hostile input in the demo repository: a requirements include in every
spelling pip accepts (to ``/proc/self/environ``, ``/dev/zero``, a FIFO, a symlink, ``..``), URL
credentials, configured paths that are absolute, climb out with ``..`` or pass a symlink, a
configuration that is itself a link, and command-line paths. The harness plants marker values in
every CI token variable and in ``outside/secret.txt``; ``_git_credentials`` also writes one into
``.git/config`` the way ``actions/checkout`` stores its token. No marker may appear anywhere.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from tests.corpus import MARKER, Case

Setup = Callable[[Path, Path], None]

DEPS = ("check", "--offline", "--only", "deps")
CARD = ("check", "--offline", "--only", "card")
POLICY = ("check", "--offline", "--only", "policy")
SAST = ("check", "--offline", "--only", "sast")
SBOM = ("sbom",)

ABSOLUTE = "is an absolute path"
OUTSIDE = "leads outside the repository"
SYMLINK = "is a symlink"
SPECIAL = "special file system"
GIT_DIR = "points into .git/"
NOT_REGULAR = "not a regular file"


def _aged(path: Path) -> None:
    """Date a planted file an hour back: it is the pull request's input, not something the
    command wrote (the harness greps only files written during the run)."""
    past = time.time() - 3600
    os.utime(path, (past, past))


def _append(name: str, *lines: str) -> Setup:
    def setup(repo: Path, outside: Path) -> None:
        with (repo / name).open("a", encoding="utf-8") as handle:
            handle.write("".join(f"{line}\n" for line in lines))
        _aged(repo / name)

    return setup


def _write(name: str, text: str) -> Setup:
    def setup(repo: Path, outside: Path) -> None:
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    return setup


def _link(name: str, target: str) -> Setup:
    def setup(repo: Path, outside: Path) -> None:
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        path.symlink_to(target)

    return setup


def _fifo(name: str) -> Setup:
    def setup(repo: Path, outside: Path) -> None:
        path = repo / name
        if path.exists():
            path.unlink()
        os.mkfifo(path)

    return setup


def _config(old: str, new: str) -> Setup:
    def setup(repo: Path, outside: Path) -> None:
        config = repo / "mlops-ci.yaml"
        text = config.read_text(encoding="utf-8")
        assert old in text, old
        config.write_text(text.replace(old, new, 1), encoding="utf-8")
        _aged(config)

    return setup


def _nothing(repo: Path, outside: Path) -> None:
    """Leave the demo as it is (the hostile part is on the command line)."""


def _git_credentials(repo: Path, outside: Path) -> None:
    """What actions/checkout leaves: the job's token as an http extraheader in .git/config."""
    with (repo / ".git" / "config").open("a", encoding="utf-8") as handle:
        handle.write(
            '[http "https://github.com/"]\n'
            f"\textraheader = AUTHORIZATION: basic {MARKER}-gitconfig\n"
            '[remote "upstream"]\n'
            f"\turl = https://gitlab-ci-token:{MARKER}-remote@gitlab.example.com/g/p.git\n"
        )


def _all(*steps: Setup) -> Setup:
    def setup(repo: Path, outside: Path) -> None:
        for step in steps:
            step(repo, outside)

    return setup


def _outside_package(repo: Path, outside: Path) -> None:
    """A local package outside the repository whose metadata holds a marker."""
    (outside / "pkg").mkdir()
    (outside / "pkg" / "pyproject.toml").write_text(
        f'[project]\nname = "{MARKER}-pkg"\nversion = "1"\n', encoding="utf-8"
    )


def _outside_models(repo: Path, outside: Path) -> None:
    """The model directory moved outside, a symlink left in its place: signing would write
    ``model.onnx.sig`` through it, outside the repository."""
    shutil.move(repo / "models" / "fraud-detector", outside / "fraud-detector")
    (repo / "models" / "fraud-detector").symlink_to(outside / "fraud-detector")


def _outside_reports(repo: Path, outside: Path) -> None:
    shutil.move(repo / "reports", outside / "reports")
    (repo / "reports").symlink_to("../outside/reports")


def _req(id_: str, lines: tuple[str, ...], exit_code: int, rule: str | None, *extra: Setup) -> Case:
    setup = _all(*extra, _append("requirements.txt", *lines))
    return Case(f"leak-req-{id_}", "requirements", setup, DEPS, exit_code, rule, reports=True)


def _path(id_: str, setup: Setup, args: tuple[str, ...], exit_code: int, rule: str | None) -> Case:
    reports = args[0] == "check"
    return Case(f"leak-path-{id_}", "path", setup, args, exit_code, rule, reports=reports)


CASES = [
    # Every include spelling pip accepts, to the process environment.
    _req("r-proc-environ", ("-r /proc/self/environ",), 2, ABSOLUTE),
    _req("c-proc-environ", ("-c /proc/self/environ",), 2, ABSOLUTE),
    _req("requirement-space", ("--requirement /proc/self/environ",), 2, ABSOLUTE),
    _req("requirement-equals", ("--requirement=/proc/self/environ",), 2, ABSOLUTE),
    _req("constraint-equals", ("--constraint=/proc/self/environ",), 2, ABSOLUTE),
    _req("r-attached", ("-r/proc/self/environ",), 2, ABSOLUTE),
    _req("r-attached-dotdot", ("-r../outside/secret.txt",), 2, OUTSIDE),
    _req("r-dotdot", ("-r ../outside/secret.txt",), 2, OUTSIDE),
    _req("r-dev-zero", ("-r /dev/zero",), 2, ABSOLUTE),
    _req("r-dev-stdin", ("-r /dev/stdin",), 2, ABSOLUTE),
    _req("r-symlink-file", ("-r inc.txt",), 2, SYMLINK, _link("inc.txt", "../outside/secret.txt")),
    _req(
        "r-symlink-chain",
        ("-r a.txt",),
        2,
        SYMLINK,
        _link("b.txt", "../outside/secret.txt"),
        _link("a.txt", "b.txt"),
    ),
    _req("r-symlink-dir", ("-r d/secret.txt",), 2, SYMLINK, _link("d", "../outside")),
    _req("r-symlink-proc", ("-r env.txt",), 2, SPECIAL, _link("env.txt", "/proc/self/environ")),
    _req("r-symlink-dir-proc", ("-r p/environ",), 2, SPECIAL, _link("p", "/proc/self")),
    _req("r-fifo", ("-r pipe.txt",), 2, NOT_REGULAR, _fifo("pipe.txt")),
    _req("c-fifo", ("-c pipe.txt",), 2, NOT_REGULAR, _fifo("pipe.txt")),
    _req(
        "nested-chain",
        ("-r reqs/a.txt",),
        2,
        OUTSIDE,
        _write("reqs/a.txt", "-r sub/b.txt\n"),
        _write("reqs/sub/b.txt", "--requirement ../../../outside/secret.txt\n"),
    ),
    _req("git-config", ("-r .git/config",), 2, GIT_DIR, _git_credentials),
    _req(
        "url-credentials-malformed",
        (f"pkg @ https://user:{MARKER}-url@host/pkg.whl ; python_version <<< '3'",),
        2,
        "malformed requirement",
    ),
    _req(
        "url-credentials",
        (f"pkg @ https://user:{MARKER}-url@host/pkg-1.0-py3-none-any.whl",),
        1,
        None,  # DEP-UNAUDITED, in the report files
    ),
    _req("index-url-credentials", (f"--index-url https://u:{MARKER}-idx@host/simple",), 0, None),
    _req("extra-index-url", (f"--extra-index-url=https://u:{MARKER}-idx@host/simple",), 0, None),
    _req("hash-option", ("six==1.16.0 --hash=sha256:" + "0" * 64,), 0, None),
    _req("control-include", ("-r other.txt",), 0, None, _write("other.txt", "six==1.16.0\n")),
    _req(
        "control-constraint", ("-c constraints.txt",), 0, None, _write("constraints.txt", "six\n")
    ),
    Case(
        "leak-req-sbom-proc-environ",
        "requirements",
        _append("requirements.txt", "-r /proc/self/environ"),
        SBOM,
        2,
        ABSOLUTE,
    ),
    Case(
        "leak-req-sbom-abbreviated-option",
        "requirements",
        _append("requirements.txt", "--constr ../outside/secret.txt"),
        SBOM,
        2,
        OUTSIDE,
    ),
    Case(
        "leak-req-sbom-env-expansion",
        "requirements",
        _append("requirements.txt", "pkg @ https://host/${GITHUB_TOKEN}/pkg-1.0-py3-none-any.whl"),
        SBOM,
        0,
    ),
    Case(
        "leak-req-sbom-url-credentials",
        "requirements",
        _append("requirements.txt", f"pkg @ https://u:{MARKER}-url@host/pkg-1.0-py3-none-any.whl"),
        SBOM,
        0,
    ),
    Case(
        "leak-req-sbom-control-include",
        "requirements",
        _all(_write("other.txt", "six==1.16.0\n"), _append("requirements.txt", "-r other.txt")),
        SBOM,
        0,
    ),
    # Every configured path kind: '..', absolute, symlinks (file, directory, chain, /proc).
    _path(
        "card-dotdot",
        _config("card: models/fraud-detector/README.md", "card: ../outside/secret.txt"),
        CARD,
        2,
        OUTSIDE,
    ),
    _path(
        "card-absolute",
        _config("card: models/fraud-detector/README.md", "card: /proc/self/environ"),
        CARD,
        2,
        ABSOLUTE,
    ),
    _path(
        "card-symlink",
        _link("models/fraud-detector/README.md", "../../../outside/secret.txt"),
        CARD,
        2,
        SYMLINK,
    ),
    _path(
        "card-symlink-proc",
        _link("models/fraud-detector/README.md", "/proc/self/environ"),
        CARD,
        2,
        SPECIAL,
    ),
    _path(
        "card-git-config",
        _all(
            _git_credentials,
            _config("card: models/fraud-detector/README.md", "card: .git/config"),
        ),
        CARD,
        2,
        GIT_DIR,
    ),
    _path("card-fifo", _fifo("models/fraud-detector/README.md"), CARD, 1, None),
    _path(
        "card-control-inside-link",
        _all(
            _write("docs/card.md", ""),
            lambda repo, outside: (repo / "docs" / "card.md").write_bytes(
                (repo / "models" / "fraud-detector" / "README.md").read_bytes()
            ),
            _link("models/fraud-detector/README.md", "../../docs/card.md"),
        ),
        CARD,
        0,
        None,
    ),
    _path(
        "policies-etc-passwd",
        _config("policies: [baseline]", "policies: [/etc/passwd]"),
        POLICY,
        2,
        ABSOLUTE,
    ),
    _path(
        "policies-dotdot",
        _config("policies: [baseline]", "policies: [../outside/secret.txt]"),
        POLICY,
        2,
        OUTSIDE,
    ),
    _path(
        "policies-symlink-dir",
        _all(
            _link("packs", "../outside"),
            _config("policies: [baseline]", "policies: [packs/secret.txt]"),
        ),
        POLICY,
        2,
        SYMLINK,
    ),
    _path(
        "waivers-dotdot",
        _config("fail_on: high", "fail_on: high\nwaivers: ../outside/secret.txt"),
        POLICY,
        2,
        OUTSIDE,
    ),
    _path("waivers-symlink", _link("waivers.yaml", "../outside/secret.txt"), POLICY, 2, SYMLINK),
    _path(
        "state-dir-dotdot",
        _config("state_dir: deploy/", "state_dir: ../outside/"),
        ("status",),
        2,
        OUTSIDE,
    ),
    _path(
        "sbom-output-dir-absolute",
        _config(
            "sbom: {requirements: [requirements.txt]}",
            "sbom: {requirements: [requirements.txt], output_dir: /tmp}",
        ),
        SBOM,
        2,
        ABSOLUTE,
    ),
    _path(
        "sbom-output-dir-symlink",
        _link(".mlops-ci/sbom", "../../outside"),
        SBOM,
        2,
        SYMLINK,
    ),
    _path(
        "model-dotdot",
        _config("path: models/fraud-detector/model.onnx", "path: ../outside/secret.txt"),
        ("sign",),
        2,
        OUTSIDE,
    ),
    _path("sig-through-symlinked-dir", _outside_models, ("sign",), 2, SYMLINK),
    _path("verify-through-symlinked-dir", _outside_models, ("verify",), 2, SYMLINK),
    _path("report-through-symlinked-dir", _outside_reports, ("sign",), 2, SYMLINK),
    _path(
        "source-symlink",
        _link("src/leak.py", "../../outside/secret.txt"),
        SAST,
        2,
        SYMLINK,
    ),
    _path(
        "source-git-config-link",
        _all(_git_credentials, _link("src/leak.py", "../.git/config")),
        SAST,
        2,
        SYMLINK,
    ),
    _path(
        "vuln-db-dotdot",
        _config("vuln_db: vuln-db/", "vuln_db: ../outside/"),
        DEPS,
        2,
        OUTSIDE,
    ),
    _path(
        "signing-key-dotdot",
        _config("key: .mlops-ci/keys/signing-key.pem", "key: ../outside/secret.txt"),
        ("sign",),
        2,
        OUTSIDE,
    ),
    _path(
        "bench-npz-proc",
        _config("dims: {batch: 1}", "dims: {batch: 1}\n      npz: /proc/self/environ"),
        CARD,
        2,
        ABSOLUTE,
    ),
    _path("cache-dir-symlink", _link(".mlops-ci/cache", "../../outside"), CARD, 2, SYMLINK),
    _path("control-sign", _nothing, ("sign",), 0, None),
    # The configuration file itself, and its pyproject.toml form.
    Case(
        "leak-config-symlink-environ",
        "config",
        _link("mlops-ci.yaml", "/proc/self/environ"),
        CARD,
        2,
        SPECIAL,
    ),
    Case(
        "leak-config-symlink-outside",
        "config",
        _link("mlops-ci.yaml", "../outside/secret.txt"),
        CARD,
        2,
        SYMLINK,
    ),
    Case("leak-config-fifo", "config", _fifo("mlops-ci.yaml"), CARD, 2, NOT_REGULAR),
    Case(
        "leak-config-pyproject-environ",
        "config",
        _all(
            lambda repo, outside: (repo / "mlops-ci.yaml").unlink(),
            _link("pyproject.toml", "/proc/self/environ"),
        ),
        CARD,
        2,
        SPECIAL,
    ),
    Case(
        "leak-config-url-credentials",
        "config",
        _config(
            "forge: {kind: none}", f"forge: {{kind: none, api_url: https://u:{MARKER}@h, x: 1}}"
        ),
        CARD,
        2,
        "unknown key",
    ),
    Case(
        "leak-config-unterminated-secret",
        "config",
        _append("mlops-ci.yaml", f'token: "{MARKER}-cfg'),
        CARD,
        2,
        "invalid YAML",
    ),
    # Command-line paths: the pipeline's own, read as given, but never a special file and never
    # quoted back.
    Case(
        "leak-cli-config-outside",
        "cli",
        _nothing,
        ("check", "--config", "../outside/secret.txt"),
        2,
        "must be a mapping",
    ),
    Case(
        "leak-cli-config-proc",
        "cli",
        _nothing,
        ("check", "--config", "/proc/self/environ"),
        2,
        SPECIAL,
    ),
    Case(
        "leak-cli-config-dev-zero", "cli", _nothing, ("check", "--config", "/dev/zero"), 2, SPECIAL
    ),
    Case(
        "leak-cli-format-symlinked-dir",
        "cli",
        _link("out", "../outside"),
        (*CARD, "--format", "json=out/report.json"),
        2,
        SYMLINK,
    ),
    Case(
        "leak-cli-scan-requirements-proc",
        "cli",
        _nothing,
        ("scan", "--offline", "-r", "/proc/self/environ"),
        2,
        SPECIAL,
    ),
    Case(
        "leak-cli-card-validate-proc",
        "cli",
        _nothing,
        ("card", "validate", "/proc/self/environ"),
        2,
        SPECIAL,
    ),
    Case(
        "leak-cli-policy-test-symlink",
        "cli",
        _link("ptests/a_test.yaml", "../../outside/secret.txt"),
        ("policy", "test", "ptests"),
        2,
        SYMLINK,
    ),
    Case(
        "leak-cli-comment-body-proc",
        "cli",
        _link("reports/comment.md", "/proc/self/environ"),
        ("ci", "comment", "reports/comment.md", "--forge", "github", "--pr", "1"),
        2,
        SPECIAL,
    ),
    Case(
        "leak-cli-comment-body-outside",
        "cli",
        _link("reports/comment.md", "../../outside/secret.txt"),
        ("ci", "comment", "reports/comment.md", "--forge", "github", "--pr", "1"),
        2,
        SYMLINK,
    ),
    Case(
        "leak-cli-outputs-report-link",
        "cli",
        _link("reports/other.json", "../../outside/secret.txt"),
        ("ci", "outputs", "reports/other.json"),
        2,
        SYMLINK,
    ),
    Case(
        "leak-cli-sign-path-link",
        "cli",
        _all(
            lambda repo, outside: shutil.copy(
                repo / "models" / "fraud-detector" / "model.onnx", outside / "model.onnx"
            ),
            _link("models/other.onnx", "../../outside/model.onnx"),
        ),
        ("sign", "models/other.onnx"),
        2,
        SYMLINK,
    ),
    Case(
        "leak-cli-signature-through-link",
        "cli",
        _link("sigs", "../outside"),
        ("sign", "--model", "fraud-detector", "--signature", "sigs/model.sig"),
        2,
        SYMLINK,
    ),
    Case(
        "leak-cli-sbom-diff-fifo",
        "cli",
        _fifo("old.cdx.json"),
        ("sbom", "diff", "old.cdx.json", ".mlops-ci/sbom/fraud-detector.cdx.json"),
        2,
        NOT_REGULAR,
    ),
    Case(
        "leak-req-sbom-editable-outside",
        "requirements",
        _all(
            _outside_package,
            _append("requirements.txt", "-e ../outside/pkg", "./../outside/pkg"),
        ),
        SBOM,
        0,
    ),
    _req("editable-outside", ("-e ../outside/pkg",), 1, None, _outside_package),
    _path("model-fifo-sbom", _fifo("models/fraud-detector/model.onnx"), SBOM, 2, NOT_REGULAR),
    _path(
        "model-fifo-bench",
        _fifo("models/fraud-detector/model.onnx"),
        ("check", "--offline", "--only", "bench"),
        2,
        None,
    ),
    _path(
        "model-dev-zero",
        _link("models/fraud-detector/model.onnx", "/dev/zero"),
        ("sign",),
        2,
        SPECIAL,
    ),
    Case(
        "leak-cli-config-etc-passwd",
        "cli",
        _nothing,
        ("check", "--config", "/etc/passwd"),
        2,
        "must be a mapping",
    ),
    Case(
        "leak-path-git-dir-uppercase",
        "path",
        _all(_git_credentials, _config("policies: [baseline]", "policies: [.GIT/config]")),
        POLICY,
        2,
        GIT_DIR,
        reports=True,
    ),
    _path(
        "vuln-db-record-link",
        _link("vuln-db/requests/PYSEC-LEAK.json", "/proc/self/environ"),
        DEPS,
        2,
        SYMLINK,
    ),
    Case(
        "leak-req-sbom-url-credentials-malformed",
        "requirements",
        _append("requirements.txt", f"pkg @ https://u:{MARKER}-url@host/p.whl ; os_name <<< 'x'"),
        SBOM,
        2,
        "invalid requirement",
    ),
]
