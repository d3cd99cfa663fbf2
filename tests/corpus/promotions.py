"""Forged promotion branches (``forge-``) and malformed state files (``state-``).

Each ``forge-`` setup builds a branch with real git in the demo copy, from ``main`` (the base:
dev and staging run fraud-detector 1.0.0, prod runs nothing), and leaves it checked out;
``promote verify --base main`` must refuse it with exit 1 and the rule that names the forgery.
The ``forge-control-`` cases are legitimate branches (made by ``mlops-ci promote`` and
``mlops-ci rollback``, or written by hand to the same content) that must pass.
Each ``state-`` setup commits a malformed state file on ``main`` and pushes it: the commands that
read state (``status``, ``history``, ``promote --dry-run``) must exit 2 naming ``file:line``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.corpus import Case
from tests.gitrepos import git

VERIFY = ("promote", "verify", "--base", "main")
MODEL = "fraud-detector"
MODEL_DIR = "models/fraud-detector"
OTHER_DIGEST = "sha256:" + "0123456789abcdef" * 4
MISSING_COMMIT = "0123456789abcdef0123456789abcdef01234567"


# ---- helpers: real git in the demo copy ----------------------------------------------------


def _fork(repo: Path, start: str = "main") -> None:
    git(repo, "checkout", "--quiet", "-b", "forged", start)


def _commit(repo: Path, message: str = "forged promotion") -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def _read(repo: Path, rel: str) -> str:
    return (repo / rel).read_text()


def _prod(repo: Path) -> str:
    """What ``mlops-ci promote --to prod`` writes: staging's entry, promoted from staging."""
    return _read(repo, "deploy/staging.yaml").replace(
        "{environment: dev,", "{environment: staging,"
    )


def _pin(repo: Path) -> str:
    """What ``mlops-ci rollback --env staging --to 1.0.0`` writes: a pin from its own history."""
    text = _read(repo, "deploy/staging.yaml")
    text = text.replace("{environment: dev,", "{environment: staging,")
    return text.replace("    pinned: false\n", "    pinned: true\n    rollback_of: 1.0.0\n")


def _commit_of(text: str) -> str:
    return text.split("commit: ", 1)[1].split("}", 1)[0]


def _new_commit(text: str) -> str:
    """``text`` naming a well-formed commit id that no repository holds."""
    return text.replace(_commit_of(text), MISSING_COMMIT)


def _digest_of(text: str) -> str:
    return text.split("digest: ", 1)[1].split("\n", 1)[0]


def _new_digest(text: str) -> str:
    """``text`` with its entry's digest replaced by a well-formed digest of other bytes."""
    return text.replace(_digest_of(text), OTHER_DIGEST)


def _write(repo: Path, rel: str, text: str | bytes) -> None:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)


def _file(rel: str, make: Callable[[Path], str | bytes]) -> Callable[[Path, Path], None]:
    """A branch from main that writes ``rel`` with ``make(repo)`` (computed on main) and commits."""

    def setup(repo: Path, outside: Path) -> None:
        text = make(repo)
        _fork(repo)
        _write(repo, rel, text)
        _commit(repo)

    return setup


def _prod_with(old: str, new: str) -> Callable[[Path, Path], None]:
    """A prod promotion with one textual change."""

    def make(repo: Path) -> str:
        text = _prod(repo)
        assert old in text, old
        return text.replace(old, new, 1)

    return _file("deploy/prod.yaml", make)


def _pin_with(old: str, new: str) -> Callable[[Path, Path], None]:
    """A staging pin (rollback) with one textual change."""

    def make(repo: Path) -> str:
        text = _pin(repo)
        assert old in text, old
        return text.replace(old, new, 1)

    return _file("deploy/staging.yaml", make)


def _cli(*args: str) -> None:
    from mlops_ci.cli import main

    assert main(list(args)) == 0, args


def _checkout_pushed(repo: Path, prefix: str) -> None:
    """Check out the one pushed branch whose name starts with ``prefix`` (branch names carry
    the kind, the digest and the state they start from)."""
    git(repo, "fetch", "--quiet", "origin")
    (branch,) = git(
        repo, "for-each-ref", "--format=%(refname:short)", f"refs/remotes/origin/{prefix}*"
    ).split()
    git(repo, "checkout", "--quiet", "-b", "pr", branch)


# ---- legitimate controls -------------------------------------------------------------------


def _tool_promotion(repo: Path, outside: Path) -> None:
    _cli("promote", MODEL, "--to", "prod", "--forge", "none")
    _checkout_pushed(repo, f"mlops-ci/promote/{MODEL}/prod/1.0.0-promote-")


def _tool_rollback(repo: Path, outside: Path) -> None:
    _cli("rollback", MODEL, "--env", "staging", "--to", "1.0.0", "--forge", "none")
    _checkout_pushed(repo, f"mlops-ci/promote/{MODEL}/staging/1.0.0-rollback-")


def _comment_only(repo: Path, outside: Path) -> None:
    _fork(repo)
    _write(repo, "deploy/staging.yaml", "# reviewed\n" + _read(repo, "deploy/staging.yaml"))
    _commit(repo)


# ---- forgeries of the change itself (files, modes, types) ----------------------------------


def _rename(repo: Path, outside: Path) -> None:
    _fork(repo)
    git(repo, "mv", "deploy/staging.yaml", "deploy/prod.yaml")
    _commit(repo)


def _rename_pairs_workflow(repo: Path, outside: Path) -> None:
    """A workflow on main whose deletion git's rename detection pairs with a new state file."""
    prod = _prod(repo)
    _write(repo, ".github/workflows/promotion-check.yml", prod + "# check\n")
    _commit(repo, "Add the promotion check")
    _fork(repo)
    git(repo, "rm", "--quiet", ".github/workflows/promotion-check.yml")
    _write(repo, "deploy/prod.yaml", prod)
    _commit(repo)


def _delete(repo: Path, outside: Path) -> None:
    _fork(repo)
    git(repo, "rm", "--quiet", "deploy/dev.yaml")
    _commit(repo)


def _executable(repo: Path, outside: Path) -> None:
    _fork(repo)
    git(repo, "update-index", "--chmod=+x", "deploy/staging.yaml")
    git(repo, "commit", "--quiet", "-m", "chmod")


def _symlink_new(repo: Path, outside: Path) -> None:
    _fork(repo)
    (repo / "deploy/prod.yaml").symlink_to("staging.yaml")
    _commit(repo)


def _symlink_replaces(repo: Path, outside: Path) -> None:
    _fork(repo)
    (repo / "deploy/staging.yaml").unlink()
    (repo / "deploy/staging.yaml").symlink_to("dev.yaml")
    _commit(repo)


def _gitlink(repo: Path, outside: Path) -> None:
    _fork(repo)
    head = git(repo, "rev-parse", "HEAD")
    git(repo, "update-index", "--add", "--cacheinfo", f"160000,{head},deploy/prod.yaml")
    git(repo, "commit", "--quiet", "-m", "submodule")


def _config_edit(old: str, new: str, *, prod: bool = True) -> Callable[[Path, Path], None]:
    """A PR that edits mlops-ci.yaml (and adds a prod entry that would pass under the edit)."""

    def setup(repo: Path, outside: Path) -> None:
        text = _prod(repo)
        _fork(repo)
        config = _read(repo, "mlops-ci.yaml")
        assert old in config, old
        _write(repo, "mlops-ci.yaml", config.replace(old, new, 1))
        if prod:
            _write(repo, "deploy/prod.yaml", text)
        _commit(repo)

    return setup


def _config_deleted(repo: Path, outside: Path) -> None:
    text = _prod(repo)
    _fork(repo)
    git(repo, "rm", "--quiet", "mlops-ci.yaml")
    _write(repo, "deploy/prod.yaml", text)
    _commit(repo)


def _config_renamed(repo: Path, outside: Path) -> None:
    """The PR renames mlops-ci.yaml to mlops-ci.yml (found first in a checkout) and relaxes it."""
    text = _prod(repo).replace("{environment: staging,", "{environment: dev,")
    _fork(repo)
    config = _read(repo, "mlops-ci.yaml").replace("[dev, staging, prod]", "[dev, prod]")
    git(repo, "rm", "--quiet", "mlops-ci.yaml")
    _write(repo, "mlops-ci.yml", config)
    _write(repo, "deploy/prod.yaml", text)
    _commit(repo)


def _config_moved_to_pyproject(repo: Path, outside: Path) -> None:
    """The PR deletes mlops-ci.yaml and configures mlops-ci in pyproject.toml instead."""
    text = _prod(repo).replace("{environment: staging,", "{environment: dev,")
    _fork(repo)
    git(repo, "rm", "--quiet", "mlops-ci.yaml")
    _write(
        repo,
        "pyproject.toml",
        '[tool.mlops-ci]\nenvironments = ["dev", "prod"]\n'
        '[[tool.mlops-ci.models]]\nname = "fraud-detector"\n'
        'path = "models/fraud-detector/model.onnx"\n',
    )
    _write(repo, "deploy/prod.yaml", text)
    _commit(repo)


def _public_key_swapped(repo: Path, outside: Path) -> None:
    text = _prod(repo)
    _fork(repo)
    _write(
        repo, "keys/signing-key.pub", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
    )
    _write(repo, "deploy/prod.yaml", text)
    _commit(repo)


# ---- forgeries of the content (entries) ---------------------------------------------------


def _commit_only_in_pr(repo: Path, outside: Path) -> None:
    """dev names a commit that exists only on the PR branch (its model bytes were never merged)."""
    _fork(repo)
    model = repo / MODEL_DIR / "model.onnx"
    original = model.read_bytes()
    model.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    hidden = _commit(repo, "retrain")
    model.write_bytes(original)
    _commit(repo, "restore")
    dev = _read(repo, "deploy/dev.yaml")
    _write(repo, "deploy/dev.yaml", dev.replace(_commit_of(dev), hidden))
    _commit(repo)


def _dev_at(change: Callable[[Path], None]) -> Callable[[Path, Path], None]:
    """main gets a commit made by ``change``; the PR re-promotes dev from that commit."""

    def setup(repo: Path, outside: Path) -> None:
        change(repo)
        commit = _commit(repo, "change the evidence")
        _fork(repo)
        dev = _read(repo, "deploy/dev.yaml")
        _write(repo, "deploy/dev.yaml", dev.replace(_commit_of(dev), commit))
        _commit(repo)

    return setup


def _swap_signature(repo: Path) -> None:
    sig = repo / MODEL_DIR / "model.onnx.sig"
    att = repo / MODEL_DIR / "model.onnx.attestation.sigstore.json"
    sig_bytes, att_bytes = sig.read_bytes(), att.read_bytes()
    sig.write_bytes(att_bytes)
    att.write_bytes(sig_bytes)


def _tamper_signature(repo: Path) -> None:
    sig = repo / MODEL_DIR / "model.onnx.sig"
    bundle = json.loads(sig.read_text())
    envelope = bundle.get("dsseEnvelope") or {}
    if envelope.get("signatures"):
        value = envelope["signatures"][0]["sig"]
        envelope["signatures"][0]["sig"] = (
            value[:10] + ("A" if value[10] != "A" else "B") + value[11:]
        )
    else:
        value = bundle["messageSignature"]["signature"]
        bundle["messageSignature"]["signature"] = (
            value[:10] + ("A" if value[10] != "A" else "B") + value[11:]
        )
    sig.write_text(json.dumps(bundle))


def _remove_attestation(repo: Path) -> None:
    (repo / MODEL_DIR / "model.onnx.attestation.sigstore.json").unlink()


def _stale(repo: Path, outside: Path) -> None:
    """Forked before staging was promoted: main changed staging.yaml since."""
    text = _pin(repo)
    _fork(repo, "main^1")
    _write(repo, "deploy/staging.yaml", text)
    _commit(repo)


def _pin_commit_elsewhere(repo: Path, outside: Path) -> None:
    text = _pin(repo)
    other = git(repo, "rev-parse", "main")
    _fork(repo)
    _write(repo, "deploy/staging.yaml", text.replace(_commit_of(text), other))
    _commit(repo)


def _intermediate(repo: Path, outside: Path) -> None:
    """The PR's first commit sets staging to a pin, its second restores it and promotes prod."""
    pin, prod = _pin(repo), _prod(repo)
    _fork(repo)
    original = _read(repo, "deploy/staging.yaml")
    _write(repo, "deploy/staging.yaml", pin.replace("version: 1.0.0", "version: 0.0.1-evil"))
    _commit(repo, "intermediate")
    _write(repo, "deploy/staging.yaml", original)
    _write(repo, "deploy/prod.yaml", prod)
    _commit(repo)


def _behind(repo: Path, outside: Path) -> None:
    """Forked before staging was promoted; the PR itself only adds a valid prod entry."""
    prod = _prod(repo)
    _fork(repo, "main^1")
    _write(repo, "deploy/prod.yaml", prod)
    _commit(repo)


def _rollback_to_merged_intermediate(repo: Path, outside: Path) -> None:
    """A rollback PR merged earlier held a bogus staging release in an intermediate commit."""
    pin = _pin(repo)
    bogus = pin.replace("version: 1.0.0", "version: 0.0.1-evil")
    git(repo, "checkout", "--quiet", "-b", "earlier")
    _write(repo, "deploy/staging.yaml", bogus)
    _commit(repo, "intermediate")
    _write(repo, "deploy/staging.yaml", pin)
    _commit(repo, "the pin that was reviewed")
    git(repo, "checkout", "--quiet", "main")
    git(repo, "merge", "--quiet", "--no-ff", "-m", "Merge earlier", "earlier")
    _fork(repo)
    _write(repo, "deploy/staging.yaml", bogus)
    _commit(repo)


def _uncommitted_config(repo: Path, outside: Path) -> None:
    """The checkout's (uncommitted) configuration drops staging; prod copies dev."""
    text = _prod(repo).replace("{environment: staging,", "{environment: dev,")
    _fork(repo)
    _write(repo, "deploy/prod.yaml", text)
    _commit(repo)
    config = _read(repo, "mlops-ci.yaml")
    _write(repo, "mlops-ci.yaml", config.replace("[dev, staging, prod]", "[dev, prod]"))


def _redirect_base(repo: Path, outside: Path) -> None:
    """The PR's configuration names another default branch, pushed with the forged state."""
    prod = _prod(repo).replace("{environment: staging,", "{environment: dev,")
    _fork(repo)
    _write(repo, "deploy/prod.yaml", prod)
    config = _read(repo, "mlops-ci.yaml")
    _write(
        repo,
        "mlops-ci.yaml",
        config.replace("promotion:\n", "promotion:\n  default_branch: forged\n", 1),
    )
    _commit(repo)
    git(repo, "push", "--quiet", "origin", "forged:forged")


def _tag_shadows_base(repo: Path, outside: Path) -> None:
    """A tag named like the base branch points at the forged state (git prefers tags)."""
    text = _prod(repo).replace("{environment: staging,", "{environment: dev,")
    _fork(repo)
    _write(repo, "deploy/prod.yaml", text)
    _commit(repo)
    git(repo, "tag", "main")
    git(repo, "tag", "origin/main")


def _replace_ref(repo: Path, outside: Path) -> None:
    """refs/replace makes the forged commit read as main's (git honours replace refs)."""
    text = _prod(repo).replace("{environment: staging,", "{environment: dev,")
    _fork(repo)
    _write(repo, "deploy/prod.yaml", text)
    forged = _commit(repo)
    git(repo, "replace", forged, git(repo, "rev-parse", "main"))


def _anchored(repo: Path) -> str:
    text = _prod(repo)
    return text.replace(
        "    version: 1.0.0\n", "    <<: &defaults {pinned: false}\n    version: 1.0.0\n"
    )


def _top_level_entry(repo: Path) -> str:
    text = _prod(repo)
    body = text.split("models:\n", 1)[1]
    return "\n".join(line[2:] for line in body.splitlines()) + "\n"


def _second_model(repo: Path) -> str:
    text = _prod(repo)
    entry = text.split("models:\n", 1)[1]
    return text + entry.replace(f"  {MODEL}:", "  shadow-model:", 1)


def _not_utf8(repo: Path) -> bytes:
    return _prod(repo).encode().replace(b"promoted_by: ", b"promoted_by: \xff\xfe", 1)


def _forge(
    ident: str, setup: Callable[[Path, Path], None], rule: str, *, reports: bool = False
) -> Case:
    # with reports in files, the markdown report on standard output still names the rule
    args = (*VERIFY, "--format", "markdown") if reports else VERIFY
    return Case(f"forge-{ident}", "forgery", setup, args, 1, rule=rule, reports=reports)


FORGERIES = [
    # the change itself
    _forge("rename-staging-to-prod", _rename, "PROMOTE-STATE-FILE"),
    _forge("rename-pairs-deleted-workflow", _rename_pairs_workflow, "PROMOTE-FOREIGN-FILE"),
    _forge("delete-state-file", _delete, "PROMOTE-STATE-FILE"),
    _forge("state-file-executable", _executable, "PROMOTE-STATE-FILE"),
    _forge("new-state-file-is-symlink", _symlink_new, "PROMOTE-STATE-FILE"),
    _forge("state-file-replaced-by-symlink", _symlink_replaces, "PROMOTE-STATE-FILE"),
    _forge("state-file-is-submodule", _gitlink, "PROMOTE-STATE-FILE"),
    _forge("unknown-file-in-deploy", _file("deploy/evil.yaml", _prod), "PROMOTE-FOREIGN-FILE"),
    _forge("backup-file-in-deploy", _file("deploy/prod.yaml.bak", _prod), "PROMOTE-FOREIGN-FILE"),
    _forge("unconfigured-environment", _file("deploy/qa.yaml", _prod), "PROMOTE-FOREIGN-FILE"),
    _forge("case-variant-state-file", _file("deploy/Prod.yaml", _prod), "PROMOTE-FOREIGN-FILE"),
    _forge(
        "file-name-with-newline-and-markup",
        _file("deploy/prod.yaml\n| PROMOTE-OK | <b>x</b>", _prod),
        "PROMOTE-FOREIGN-FILE",
        reports=True,
    ),
    _forge(
        "change-outside-deploy",
        _file("src/fraud_detector/scoring.py", lambda r: "import os\nos.system('id')\n"),
        "PROMOTE-FOREIGN-FILE",
    ),
    _forge(
        "workflow-added",
        _file(".github/workflows/release.yml", lambda r: "on: push\njobs: {}\n"),
        "PROMOTE-FOREIGN-FILE",
    ),
    _forge(
        "gitattributes-added",
        _file(".gitattributes", lambda r: "*.yaml filter=x\n"),
        "PROMOTE-FOREIGN-FILE",
    ),
    _forge(
        "config-relaxes-prod-policies",
        _config_edit("prod: [baseline, production]", "prod: []"),
        "PROMOTE-FOREIGN-FILE",
    ),
    _forge(
        "config-moves-state-dir",
        _config_edit("state_dir: deploy/", "state_dir: src/"),
        "PROMOTE-FOREIGN-FILE",
    ),
    _forge(
        "config-drops-staging",
        _config_edit("environments: [dev, staging, prod]", "environments: [dev, prod]"),
        "PROMOTE-FOREIGN-FILE",
    ),
    _forge(
        "config-unparsable-in-pr",
        _config_edit("fail_on: high", "fail_on: high\nx: &a {b: 1}\ny:\n  <<: *a\n  c: 2"),
        "PROMOTE-FOREIGN-FILE",
    ),
    _forge("config-deleted", _config_deleted, "PROMOTE-FOREIGN-FILE"),
    _forge("config-renamed-and-relaxed", _config_renamed, "PROMOTE-LADDER"),
    _forge("config-moved-to-pyproject", _config_moved_to_pyproject, "PROMOTE-LADDER"),
    _forge(
        "config-names-another-remote",
        _config_edit("promotion:\n", "promotion:\n  remote: elsewhere\n"),
        "PROMOTE-FOREIGN-FILE",
    ),
    _forge("public-key-swapped", _public_key_swapped, "PROMOTE-FOREIGN-FILE"),
    # schema
    _forge(
        "unknown-top-level-key",
        _file("deploy/prod.yaml", lambda r: "approved: true\n" + _prod(r)),
        "PROMOTE-SCHEMA",
    ),
    _forge("entry-at-top-level", _file("deploy/prod.yaml", _top_level_entry), "PROMOTE-SCHEMA"),
    _forge("pinned-string-no", _pin_with("pinned: true", 'pinned: "no"'), "PROMOTE-SCHEMA"),
    _forge("pinned-string-false", _pin_with("pinned: true", "pinned: 'false'"), "PROMOTE-SCHEMA"),
    _forge("pinned-yes-word", _pin_with("pinned: true", "pinned: yes"), "PROMOTE-SCHEMA"),
    _forge("pinned-number", _prod_with("pinned: false", "pinned: 0"), "PROMOTE-SCHEMA"),
    _forge(
        "unknown-entry-key",
        _prod_with("    pinned: false\n", "    pinned: false\n    approved_by: security\n"),
        "PROMOTE-SCHEMA",
    ),
    _forge(
        "unknown-promoted-from-key",
        _prod_with("{environment: staging,", "{environment: staging, verified: true,"),
        "PROMOTE-SCHEMA",
    ),
    _forge(
        "duplicate-key",
        _prod_with("    pinned: false\n", f"    pinned: false\n    digest: {OTHER_DIGEST}\n"),
        "PROMOTE-SCHEMA",
    ),
    _forge("anchor-merge-key", _file("deploy/prod.yaml", _anchored), "PROMOTE-SCHEMA"),
    _forge("second-unconfigured-model", _file("deploy/prod.yaml", _second_model), "PROMOTE-SCHEMA"),
    _forge("state-file-not-utf8", _file("deploy/prod.yaml", _not_utf8), "PROMOTE-SCHEMA"),
    _forge("short-digest", _prod_with("digest: sha256:", "digest: sha256:ab"), "PROMOTE-SCHEMA"),
    # artifact paths
    _forge(
        "rollback-artifact-in-src",
        _pin_with(f"artifact: {MODEL_DIR}/model.onnx", "artifact: src/fraud_detector/scoring.py"),
        "PROMOTE-ARTIFACT",
    ),
    _forge(
        "rollback-artifact-evil-model",
        _pin_with(f"artifact: {MODEL_DIR}/model.onnx", "artifact: models/evil/model.onnx"),
        "PROMOTE-ARTIFACT",
    ),
    _forge(
        "promotion-signature-elsewhere",
        _prod_with(
            f"signature: {MODEL_DIR}/model.onnx.sig", "signature: models/evil/model.onnx.sig"
        ),
        "PROMOTE-ARTIFACT",
    ),
    # ladder
    _forge(
        "digest-of-another-model",
        _file("deploy/prod.yaml", lambda r: _new_digest(_prod(r))),
        "PROMOTE-LADDER",
    ),
    _forge(
        "skip-staging",
        _prod_with("{environment: staging,", "{environment: dev,"),
        "PROMOTE-LADDER",
    ),
    _forge("version-mismatch", _prod_with("version: 1.0.0", "version: 1.0.1"), "PROMOTE-LADDER"),
    _forge(
        "promotion-claims-pin",
        _prod_with("pinned: false", "pinned: true"),
        "PROMOTE-LADDER",
    ),
    _forge(
        "first-environment-from-elsewhere",
        _file(
            "deploy/dev.yaml",
            lambda r: _read(r, "deploy/dev.yaml").replace(
                "{commit:", "{environment: staging, commit:"
            ),
        ),
        "PROMOTE-LADDER",
    ),
    _forge(
        "model-removed",
        _file("deploy/staging.yaml", lambda r: "models: {}\n"),
        "PROMOTE-REMOVED",
    ),
    # rollbacks and pins
    _forge(
        "rollback-never-ran",
        _pin_with("version: 1.0.0", "version: 0.9.0"),
        "PROMOTE-ROLLBACK",
        reports=True,
    ),
    _forge(
        "rollback-digest-not-in-history",
        _file("deploy/staging.yaml", lambda r: _new_digest(_pin(r))),
        "PROMOTE-ROLLBACK",
    ),
    _forge("rollback-commit-elsewhere", _pin_commit_elsewhere, "PROMOTE-ROLLBACK"),
    _forge(
        "rollback-of-wrong",
        _pin_with("rollback_of: 1.0.0", "rollback_of: 0.1.0"),
        "PROMOTE-ROLLBACK",
    ),
    # commits and evidence
    _forge("commit-only-in-pr", _commit_only_in_pr, "PROMOTE-COMMIT"),
    _forge(
        "commit-does-not-exist",
        _file("deploy/dev.yaml", lambda r: _new_commit(_read(r, "deploy/dev.yaml"))),
        "PROMOTE-COMMIT",
    ),
    _forge(
        "digest-not-the-commits-bytes",
        _file("deploy/dev.yaml", lambda r: _new_digest(_read(r, "deploy/dev.yaml"))),
        "PROMOTE-EVIDENCE",
    ),
    _forge("signature-swapped", _dev_at(_swap_signature), "PROMOTE-EVIDENCE"),
    _forge("signature-tampered", _dev_at(_tamper_signature), "PROMOTE-EVIDENCE"),
    _forge("attestation-removed", _dev_at(_remove_attestation), "PROMOTE-EVIDENCE"),
    # history and the base
    _forge("forked-before-staging-changed", _stale, "PROMOTE-STALE"),
    _forge("behind-the-base", _behind, "PROMOTE-STALE"),
    _forge("intermediate-commit", _intermediate, "PROMOTE-MULTI-COMMIT"),
    _forge("rollback-to-merged-intermediate", _rollback_to_merged_intermediate, "PROMOTE-ROLLBACK"),
    _forge("uncommitted-config-drops-staging", _uncommitted_config, "PROMOTE-LADDER"),
    _forge("tag-shadows-the-base-branch", _tag_shadows_base, "PROMOTE-LADDER"),
    _forge("replace-ref-hides-the-change", _replace_ref, "PROMOTE-LADDER"),
    Case(
        "forge-config-redirects-default-base",
        "forgery",
        _redirect_base,
        ("promote", "verify"),
        1,
        rule="PROMOTE-FOREIGN-FILE",
    ),
    _forge(
        "yaml-1-1-directive",
        _file("deploy/prod.yaml", lambda r: "%YAML 1.1\n---\n" + _prod(r)),
        "PROMOTE-SCHEMA",
    ),
]


CONTROLS = [
    Case("forge-control-promote-prod", "forgery", _tool_promotion, VERIFY, 0),
    Case("forge-control-rollback-staging", "forgery", _tool_rollback, VERIFY, 0),
    Case("forge-control-hand-written-prod", "forgery", _file("deploy/prod.yaml", _prod), VERIFY, 0),
    Case(
        "forge-control-hand-written-pin", "forgery", _file("deploy/staging.yaml", _pin), VERIFY, 0
    ),
    Case("forge-control-comment-only", "forgery", _comment_only, VERIFY, 0),
]


# ---- malformed state files on main, read by status, history and promote --dry-run ---------


def _on_main(old: str, new: str, rel: str = "deploy/staging.yaml") -> Callable[[Path, Path], None]:
    def setup(repo: Path, outside: Path) -> None:
        text = _read(repo, rel)
        assert old in text, old
        _write(repo, rel, text.replace(old, new, 1))
        _commit(repo, "hand edit")
        git(repo, "push", "--quiet", "origin", "main")

    return setup


STATUS = ("status",)
HISTORY = ("history", MODEL)
DRY_RUN = ("promote", MODEL, "--to", "prod", "--dry-run", "--forge", "none")
STATE = [
    ("status-pinned-string", ("pinned: false", 'pinned: "no"'), STATUS, "deploy/staging.yaml:12"),
    (
        "history-pinned-quoted",
        ("pinned: false", "pinned: 'false'"),
        HISTORY,
        "deploy/staging.yaml:12",
    ),
    ("dry-run-pinned-number", ("pinned: false", "pinned: 1"), DRY_RUN, "deploy/staging.yaml:12"),
    (
        "status-unknown-top-key",
        ("models:\n", "approved: true\nmodels:\n"),
        STATUS,
        "deploy/staging.yaml:2",
    ),
    (
        "history-entry-at-top",
        ("models:\n", "fraud-detector-2: {}\nmodels:\n"),
        HISTORY,
        "deploy/staging.yaml:2",
    ),
    (
        "dry-run-unknown-entry-key",
        ("    pinned: false\n", "    pinned: false\n    owner: x\n"),
        DRY_RUN,
        "deploy/staging.yaml:13",
    ),
    (
        "status-duplicate-key",
        ("    pinned: false\n", "    pinned: false\n    pinned: true\n"),
        STATUS,
        "deploy/staging.yaml:13",
    ),
    (
        "history-anchor",
        ("  fraud-detector:\n", "  fraud-detector: &e\n"),
        HISTORY,
        "deploy/staging.yaml:3",
    ),
    (
        "dry-run-unconfigured-model",
        ("  fraud-detector:\n", "  other: {}\n  fraud-detector:\n"),
        DRY_RUN,
        "deploy/staging.yaml:3",
    ),
    (
        "status-short-digest",
        ("digest: sha256:", "digest: sha256:ab"),
        STATUS,
        "deploy/staging.yaml:6",
    ),
    (
        "history-version-number",
        ("version: 1.0.0", "version: 1.0"),
        HISTORY,
        "deploy/staging.yaml:4",
    ),
    (
        "dry-run-promoted-from-key",
        ("{environment: dev,", "{environment: dev, by: x,"),
        DRY_RUN,
        "deploy/staging.yaml:9",
    ),
    (
        "status-absolute-artifact",
        (f"artifact: {MODEL_DIR}/model.onnx", "artifact: /etc/passwd"),
        STATUS,
        "deploy/staging.yaml:5",
    ),
    ("history-tag", ("pinned: false", "pinned: !!bool false"), HISTORY, "deploy/staging.yaml:12"),
    ("dry-run-models-list", ("models:\n", "models: []\nx:\n"), DRY_RUN, "deploy/staging.yaml:"),
    ("status-dev-broken-yaml", ("models:\n", "models: [\n"), STATUS, "deploy/dev.yaml:"),
]

CASES = [
    *FORGERIES,
    *CONTROLS,
    *(
        Case(
            f"state-{ident}",
            "state",
            _on_main(*change, rel="deploy/dev.yaml" if "dev-" in ident else "deploy/staging.yaml"),
            args,
            2,
            rule=rule,
        )
        for ident, change, args, rule in STATE
    ),
]
