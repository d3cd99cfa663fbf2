"""The runner: dependency order, concurrency, isolation of crashing checks, --only/--skip."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import ClassVar

import pytest

from mlops_ci.checks.base import Check, Context, Scope, result
from mlops_ci.config import load_config
from mlops_ci.errors import InputError, UsageError
from mlops_ci.findings import CheckResult, Location, Severity
from mlops_ci.runner import RunOptions, dependency_levels, run_checks

CONFIG = "models:\n  - {name: a, path: a.onnx}\n  - {name: b, path: b.onnx}\n"


class Recorder:
    def __init__(self) -> None:
        self.order: list[str] = []
        self.lock = threading.Lock()

    def note(self, entry: str) -> None:
        with self.lock:
            self.order.append(entry)


def make_check(
    name: str,
    needs: tuple[str, ...] = (),
    *,
    scope: Scope = "model",
    recorder: Recorder | None = None,
    raises: Exception | None = None,
    severity: Severity | None = None,
) -> Check:
    class _Check:
        def run(self, ctx: Context) -> CheckResult:
            if recorder:
                recorder.note(f"{name}:{ctx.model.name if ctx.model else '-'}:{sorted(ctx.needs)}")
            if raises is not None:
                raise raises
            findings = []
            if severity is not None:
                findings.append(ctx.finding("T001", severity, "found", Location("x")))
            return result(ctx, name, findings)

    _Check.name = name  # type: ignore[attr-defined]
    _Check.needs = needs  # type: ignore[attr-defined]
    _Check.scope = scope  # type: ignore[attr-defined]
    check: Check = _Check()  # type: ignore[assignment]
    return check


@pytest.fixture
def loaded(tmp_path: Path):  # type: ignore[no-untyped-def]
    (tmp_path / "mlops-ci.yaml").write_text(CONFIG)
    return load_config(cwd=tmp_path)


def test_dependency_order(loaded) -> None:  # type: ignore[no-untyped-def]
    rec = Recorder()
    checks = {
        "policy": make_check("policy", ("card", "deps"), recorder=rec),
        "card": make_check("card", recorder=rec),
        "deps": make_check("deps", scope="repository", recorder=rec),
    }
    report = run_checks(loaded, checks, RunOptions())
    assert [r.check for r in report.results][:3] == ["card", "card", "deps"]
    policy_calls = [e for e in rec.order if e.startswith("policy")]
    assert sorted(policy_calls) == ["policy:a:['card', 'deps']", "policy:b:['card', 'deps']"]
    assert rec.order.index("policy:a:['card', 'deps']") > rec.order.index("deps:-:[]")


def test_levels_detect_cycles() -> None:
    with pytest.raises(RuntimeError, match="cycle"):
        dependency_levels([make_check("x", ("y",)), make_check("y", ("x",))])


def test_crashing_check_is_isolated(loaded) -> None:  # type: ignore[no-untyped-def]
    checks = {
        "boom": make_check("boom", raises=ZeroDivisionError("division by zero")),
        "fine": make_check("fine"),
        "bad-input": make_check("bad-input", raises=InputError("card.md:3: broken")),
    }
    report = run_checks(loaded, checks, RunOptions(models=("a",)))
    by_check = {r.check: r for r in report.results}
    assert by_check["boom"].status == "errored"
    assert by_check["boom"].error_kind == "internal"
    assert by_check["boom"].detail == "ZeroDivisionError: division by zero"
    assert by_check["fine"].status == "passed"
    assert by_check["bad-input"].error_kind == "input"
    assert report.exit_code == 2


def test_only_skip_and_fail_on(loaded) -> None:  # type: ignore[no-untyped-def]
    checks = {"a": make_check("a", severity=Severity.MEDIUM), "b": make_check("b")}
    report = run_checks(loaded, checks, RunOptions(only=("a",)))
    assert {r.check for r in report.results} == {"a"}
    assert report.verdict == "pass"  # medium is below the default fail_on (high)
    report = run_checks(loaded, checks, RunOptions(skip=("b",), fail_on=Severity.MEDIUM))
    assert report.verdict == "fail"
    assert all(r.duration_s >= 0 for r in report.results)


def test_unknown_check_name_hints(loaded) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError, match="unknown check 'crad'; did you mean 'card'"):
        run_checks(loaded, {"card": make_check("card")}, RunOptions(only=("crad",)))


def test_independent_checks_run_concurrently(loaded) -> None:  # type: ignore[no-untyped-def]
    barrier = threading.Barrier(2, timeout=5)

    class Waiter:
        needs: ClassVar[tuple[str, ...]] = ()
        scope: ClassVar[Scope] = "repository"

        def __init__(self, name: str) -> None:
            self.name = name

        def run(self, ctx: Context) -> CheckResult:
            barrier.wait()  # deadlocks (and times out) unless both run at once
            return result(ctx, self.name)

    checks: dict[str, Check] = {"x": Waiter("x"), "y": Waiter("y")}  # type: ignore[dict-item]
    report = run_checks(loaded, checks, RunOptions())
    assert [r.status for r in report.results] == ["passed", "passed"]


def test_prepare_runs_before_the_levels_and_shares_one_mapping(loaded) -> None:  # type: ignore[no-untyped-def]
    """``prepare`` starts with the run, per model, on the run's one ``shared`` mapping; the
    check's ``run`` finds what it prepared; a failing ``prepare`` is left to ``run``."""
    seen: list[tuple[str, object]] = []

    class Prepared:
        name: ClassVar[str] = "late"
        needs: ClassVar[tuple[str, ...]] = ("early",)
        scope: ClassVar[Scope] = "model"

        def prepare(self, ctx: Context) -> None:
            assert ctx.model is not None
            if ctx.model.name == "b":
                raise RuntimeError("prepare failed")
            ctx.shared[f"made:{ctx.model.name}"] = True

        def run(self, ctx: Context) -> CheckResult:
            assert ctx.model is not None
            seen.append((ctx.model.name, ctx.shared.get(f"made:{ctx.model.name}")))
            return result(ctx, self.name)

    registry = {"early": make_check("early"), "late": Prepared()}
    report = run_checks(loaded, registry, RunOptions())  # type: ignore[arg-type]
    assert sorted(seen) == [("a", True), ("b", None)]
    assert {r.status for r in report.results} == {"passed"}


def test_a_timing_check_runs_alone_after_the_gates_it_does_not_feed(loaded) -> None:  # type: ignore[no-untyped-def]
    """bench runs one model at a time, with no other check (or prepare) of the run working."""
    import time

    running: set[str] = set()
    seen_alone: list[bool] = []
    lock = threading.Lock()
    order: list[str] = []

    def busy(name: str, alone: bool = False, needs: tuple[str, ...] = ()) -> Check:
        class _Busy:
            def run(self, ctx: Context) -> CheckResult:
                me = f"{name}:{ctx.model.name if ctx.model else '-'}"
                with lock:
                    if alone:
                        seen_alone.append(not running)
                    running.add(me)
                    order.append(me)
                time.sleep(0.05)
                with lock:
                    running.discard(me)
                return result(ctx, name)

            def prepare(self, ctx: Context) -> None:
                with lock:
                    running.add(f"prepare-{name}")
                time.sleep(0.2)  # still working when the first level ends
                with lock:
                    running.discard(f"prepare-{name}")

        _Busy.name = name  # type: ignore[attr-defined]
        _Busy.needs = needs  # type: ignore[attr-defined]
        _Busy.scope = "model"  # type: ignore[attr-defined]
        _Busy.runs_alone = alone  # type: ignore[attr-defined]
        if alone:
            del _Busy.prepare
        check: Check = _Busy()  # type: ignore[assignment]
        return check

    checks = {
        "card": busy("card"),
        "eval": busy("eval"),
        "sbom": busy("sbom", needs=("eval",)),
        "bench": busy("bench", alone=True),
        "policy": busy("policy", needs=("card", "bench", "sbom")),
    }
    report = run_checks(loaded, checks, RunOptions())
    assert seen_alone == [True, True]  # each model's bench ran with nothing else working
    first_bench = min(i for i, e in enumerate(order) if e.startswith("bench"))
    last_bench = max(i for i, e in enumerate(order) if e.startswith("bench"))
    assert all(
        order.index(f"{c}:{m}") < first_bench for c in ("card", "eval", "sbom") for m in "ab"
    )
    assert all(order.index(f"policy:{m}") > last_bench for m in "ab")
    assert {r.check for r in report.results} == set(checks)
