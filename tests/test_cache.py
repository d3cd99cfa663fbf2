"""The result cache: what invalidates what, on the real demo repository and real checks."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from mlops_ci.cache import FileDigests, ResultCache, open_cache
from mlops_ci.checks import registry
from mlops_ci.checks.base import Check, Context
from mlops_ci.config import LoadedConfig, load_config
from mlops_ci.findings import CheckResult
from mlops_ci.pipeline import CheckRequest, run_check
from mlops_ci.runner import RunOptions, run_checks
from tests.test_matrix import add_models, commit

FAST = ("card", "onnx-model", "artifacts", "policy")


# Everything a check may define for the cache: a wrapper that copied only some of them would
# test another cache than the one the checks meet.
CACHE_HOOKS = ("inputs", "cache_material", "storable", "attachment", "restore", "stampable")


class Recording:
    """A check that records each real run and otherwise is the check it wraps."""

    def __init__(self, check: Check, runs: list[str]) -> None:
        self._check = check
        self._runs = runs
        self.name = check.name
        self.needs = check.needs
        self.scope = check.scope
        for optional in CACHE_HOOKS:
            if hasattr(check, optional):
                setattr(self, optional, getattr(check, optional))

    def run(self, ctx: Context) -> CheckResult:
        self._runs.append(f"{self.name}:{ctx.model.name if ctx.model else '-'}")
        return self._check.run(ctx)


@pytest.fixture
def repo(demo_repo: Path) -> Path:
    add_models(demo_repo, ["alpha"])
    commit(demo_repo, "alpha")
    return demo_repo


def run_fast(
    repo: Path, only: tuple[str, ...] = FAST, environ: dict[str, str] | None = None
) -> tuple[list[str], Any, ResultCache]:
    """Run the fast checks with a cache; return the checks that really ran, the report, the cache."""
    loaded: LoadedConfig = load_config(cwd=repo)
    runs: list[str] = []
    checks: dict[str, Check] = {
        name: Recording(check, runs)  # type: ignore[misc]
        for name, check in registry().items()
    }
    cache = open_cache(loaded, environ or {})
    try:
        report = run_checks(loaded, checks, RunOptions(only=only, offline=True), cache=cache)
    finally:
        cache.close()
    return sorted(runs), report, cache


def comparable(report: Any) -> list[dict[str, Any]]:
    results = [r.to_dict() for r in report.results]
    for result in results:
        result["duration_s"] = 0
    return results


def test_an_unchanged_rerun_runs_nothing(repo: Path) -> None:
    first, report, cache = run_fast(repo)
    assert len(first) == 8 and cache.hits == 0
    second, again, cache = run_fast(repo)
    assert second == []
    assert cache.hits == 8
    assert comparable(again) == comparable(report)
    assert (repo / ".mlops-ci/cache/.gitignore").read_text().endswith("*\n")


def test_a_card_change_reruns_that_models_card_and_policy(repo: Path) -> None:
    run_fast(repo)
    card = repo / "models/alpha/README.md"
    card.write_text(card.read_text() + "\nAnother paragraph.\n")
    # Every policy reads the git facts (the changed files), so each model's policy runs again.
    assert run_fast(repo)[0] == ["card:alpha", "policy:alpha", "policy:fraud-detector"]
    # Committed, the git facts are those of the first run again: fraud-detector's policy result
    # of that run is found by its content, alpha's card facts are new.
    commit(repo, "card")
    assert run_fast(repo)[0] == ["policy:alpha"]
    assert run_fast(repo)[0] == []


def test_a_model_change_reruns_that_models_file_checks(repo: Path) -> None:
    run_fast(repo)
    model = repo / "models/alpha/model.onnx"
    model.write_bytes(b"not onnx at all")
    ran, report, _ = run_fast(repo)
    assert ran == ["artifacts:alpha", "onnx-model:alpha", "policy:alpha", "policy:fraud-detector"]
    assert report.verdict == "fail"
    commit(repo, "broken model")
    run_fast(repo)
    extra = repo / "models/alpha/weights.bin"  # external data may sit beside a single-file model
    extra.write_bytes(b"\0" * 16)
    (repo / ".git/info/exclude").write_text("weights.bin\n")  # even when git ignores it
    # The artifacts check scans the file beside the model too, so its facts (and the policy
    # that reads them) change with it.
    assert run_fast(repo)[0] == ["artifacts:alpha", "onnx-model:alpha", "policy:alpha"]


def test_config_changes(repo: Path) -> None:
    # Each change is committed, so the git facts every policy reads stay those of the first run.
    run_fast(repo)
    config = repo / "mlops-ci.yaml"
    config.write_text(config.read_text().replace("fail_on: high", "fail_on: critical"))
    commit(repo, "fail on critical")
    assert run_fast(repo)[0] == []  # fail_on applies after the cache
    add_models(repo, ["beta"])
    commit(repo, "beta")
    assert run_fast(repo)[0] == [f"{c}:beta" for c in sorted(FAST)]  # and nothing else
    config.write_text(config.read_text().replace("policies: [baseline]", "policies: [strict]"))
    commit(repo, "strict")
    assert len(run_fast(repo)[0]) == 12  # a shared setting changed: every check runs again
    assert run_fast(repo)[0] == []


def test_waivers_apply_to_cached_results(repo: Path) -> None:
    card = repo / "models/alpha/README.md"
    card.write_text(card.read_text().replace("risk_level: limited", "risk_level: extreme"))
    request = CheckRequest(cwd=repo, only=FAST, offline=True)
    assert run_check(request).verdict == "fail"
    (repo / "waivers.yaml").write_text(
        "waivers:\n"
        "  - {id: W-1, rule: CARD003, model: alpha, reason: test, owner: a@example.com,"
        " expires: 2999-12-31}\n"
        "  - {id: W-2, rule: BASE-CARD-VALID, model: alpha, reason: test,"
        " owner: a@example.com, expires: 2999-12-31}\n"
    )
    waived = run_check(request)
    assert waived.verdict == "pass"
    (card_result,) = [r for r in waived.results if r.check == "card" and r.model == "alpha"]
    assert [f.suppressed_by for f in card_result.findings] == ["W-1"]


def test_uncacheable_and_errored_results_are_not_stored(repo: Path) -> None:
    class Flaky:
        name = "flaky"
        needs = ()
        scope = "repository"
        calls = 0

        def inputs(self, ctx: Context) -> list[Path]:
            return [ctx.root / "mlops-ci.yaml"]

        def run(self, ctx: Context) -> CheckResult:
            Flaky.calls += 1
            raise RuntimeError("boom")

    class Online:
        name = "online"
        needs = ()
        scope = "repository"
        calls = 0

        def run(self, ctx: Context) -> CheckResult:
            Online.calls += 1
            return CheckResult("online", "passed")

    loaded = load_config(cwd=repo)
    checks: dict[str, Any] = {"flaky": Flaky(), "online": Online()}
    for _ in range(2):
        cache = open_cache(loaded, {})
        report = run_checks(loaded, checks, RunOptions(), cache=cache)
        cache.close()
    assert Flaky.calls == 2 and Online.calls == 2
    assert report.exit_code == 3
    assert cache.uncacheable == {"online"}


def test_corrupt_or_unwritable_cache_is_only_a_miss(repo: Path) -> None:
    run_fast(repo)
    for entry in (repo / ".mlops-ci/cache/results").glob("*/*.json"):
        entry.write_text("{not json")
    assert len(run_fast(repo)[0]) == 8
    blocker = repo.parent / "a-file"
    blocker.write_text("not a directory")
    unwritable = {"MLOPS_CI_CACHE_DIR": str(blocker / "cache")}  # fails even for root
    ran, report, _ = run_fast(repo, environ=unwritable)
    assert len(ran) == 8 and report.verdict == "pass"


def test_cli_no_cache_and_environment(cli, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    assert cli("check", "--only", "card", cwd=repo).exit_code == 0
    assert (repo / ".mlops-ci/cache/results").is_dir()
    moved = repo.parent / "elsewhere"
    with monkeypatch.context() as patched:
        patched.setenv("MLOPS_CI_CACHE_DIR", str(moved))
        assert cli("check", "--only", "card", cwd=repo).exit_code == 0
    assert (moved / "results").is_dir()
    before = sorted((repo / ".mlops-ci/cache/results").rglob("*.json"))
    card = repo / "models/alpha/README.md"
    card.write_text(card.read_text() + "\nmore\n")
    assert cli("check", "--only", "card", "--no-cache", cwd=repo).exit_code == 0
    assert sorted((repo / ".mlops-ci/cache/results").rglob("*.json")) == before


def test_file_digests_never_trust_a_racy_or_changed_stat(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(b"a" * 64)
    digests = FileDigests(tmp_path / "stat.json")
    first = digests.digest(path)
    old = path.stat()
    path.write_bytes(b"b" * 64)  # same size, and the same mtime put back below
    os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns))
    assert digests.digest(path) != first  # ctime moved, and the entry was racy anyway
    aged = time.time_ns() - 10_000_000_000
    os.utime(path, ns=(aged, aged))
    value = digests.digest(path)
    digests.save()
    reloaded = FileDigests(tmp_path / "stat.json")
    entry = json.loads((tmp_path / "stat.json").read_text())[str(path)]
    assert entry[-1] == value == reloaded.digest(path)
    assert reloaded.digest(tmp_path / "absent") == "missing"
    link = tmp_path / "link"
    link.symlink_to("/etc/passwd")
    assert reloaded.digest(link) == "symlink:/etc/passwd"


def test_old_entries_are_pruned(repo: Path) -> None:
    run_fast(repo)
    loaded = load_config(cwd=repo)
    cache = open_cache(loaded, {})
    cache.close(max_entries=4)
    assert len(list((repo / ".mlops-ci/cache/results").glob("*/*.json"))) == 2


def test_the_key_holds_the_code_and_the_libraries(repo: Path) -> None:
    from mlops_ci import cache

    first, _, _ = run_fast(repo)
    assert run_fast(repo)[0] == []
    cache.code_fingerprint.cache_clear()
    cache.library_versions.cache_clear()
    module = Path(cache.__file__)
    stat = module.stat()
    os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))  # an edit of an editable install
    try:
        assert run_fast(repo)[0] == first
    finally:
        os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        cache.code_fingerprint.cache_clear()
    assert set(cache.library_versions()) == set(cache.CACHED_LIBRARIES)
