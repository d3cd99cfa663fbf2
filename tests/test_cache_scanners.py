"""The result cache for the scanners (deps, sast, sbom): what each result is keyed on, that a
changed input runs exactly the affected check again, and that a replayed SBOM is on disk."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from mlops_ci.cache import open_cache
from mlops_ci.checks import registry
from mlops_ci.checks.base import Context
from mlops_ci.config import load_config
from mlops_ci.findings import CheckResult, Report
from mlops_ci.runner import RunOptions, run_checks
from tests.test_cache import Recording
from tests.test_matrix import add_models, commit

PROJECT = Path(__file__).resolve().parents[1]
SCANNERS = ("deps", "sast", "sbom")


@pytest.fixture
def repo(demo_repo: Path) -> Path:
    add_models(demo_repo, ["alpha"])
    requirements = demo_repo / "requirements.txt"  # a pin the demo's database has advisories for
    requirements.write_text(requirements.read_text().replace("jinja2==3.1.4", "jinja2==2.10"))
    commit(demo_repo, "alpha")
    return demo_repo


def run_scanners(repo: Path, offline: bool = True) -> tuple[list[str], Report]:
    """Run deps, sast and sbom with the cache; the checks that really ran, and the report."""
    loaded = load_config(cwd=repo)
    runs: list[str] = []
    checks: dict[str, Any] = {n: Recording(c, runs) for n, c in registry().items()}
    cache = open_cache(loaded, {})
    try:
        report = run_checks(loaded, checks, RunOptions(only=SCANNERS, offline=offline), cache=cache)
    finally:
        cache.close()
    assert report.verdict != "error", [r.detail for r in report.results if r.detail]
    return sorted(runs), report


def sboms(repo: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((repo / ".mlops-ci/sbom").glob("*.json"))}


def test_each_input_reruns_exactly_the_results_it_affects(repo: Path) -> None:
    everything = ["deps:-", "sast:-", "sbom:alpha", "sbom:fraud-detector"]
    first, report = run_scanners(repo)
    assert first == everything
    written = sboms(repo)
    assert set(written) == {"alpha.cdx.json", "fraud-detector.cdx.json"}
    deps = next(r for r in report.results if r.check == "deps")
    assert deps.status == "failed" and deps.facts["total"]

    second, again = run_scanners(repo)
    assert second == []
    cached = next(r for r in again.results if r.check == "deps")
    assert cached.status == "failed" and cached.findings == deps.findings  # still blocks
    assert again.exit_code == report.exit_code == 1
    assert sboms(repo) == written

    # A deleted or altered SBOM is written again, byte for byte, from the cache.
    (repo / ".mlops-ci/sbom/alpha.cdx.json").unlink()
    (repo / ".mlops-ci/sbom/fraud-detector.cdx.json").write_text("{}")
    assert run_scanners(repo)[0] == []
    assert sboms(repo) == written

    requirements = repo / "requirements.txt"
    requirements.write_text(requirements.read_text() + "idna==3.10\n")
    assert run_scanners(repo)[0] == ["deps:-", "sbom:alpha", "sbom:fraud-detector"]

    record = next((repo / "vuln-db").rglob("*.json"))
    record.write_text(record.read_text() + "\n")
    assert run_scanners(repo)[0] == ["deps:-"]

    source = repo / "src" / "fraud_detector" / "__init__.py"
    source.write_text(source.read_text() + "import subprocess\n")
    assert run_scanners(repo)[0] == ["sast:-"]

    (repo / "pyproject.toml").write_text('[tool.bandit]\nskips = ["B404"]\n')
    assert run_scanners(repo)[0] == ["sast:-"]

    card = repo / "models" / "alpha" / "README.md"
    card.write_text(card.read_text() + "\nMore about alpha.\n")
    assert run_scanners(repo)[0] == ["sbom:alpha"]

    model = repo / "models" / "alpha" / "model.onnx"
    model.write_bytes(model.read_bytes() + b"\0")
    assert run_scanners(repo)[0] == ["sbom:alpha"]

    assert run_scanners(repo)[0] == []


def test_includes_and_what_bytes_do_not_decide(repo: Path) -> None:
    requirements = repo / "requirements.txt"
    extra = repo / "extra.txt"
    extra.write_text("idna==3.10\n")
    requirements.write_text(requirements.read_text() + "-r extra.txt\n")
    assert run_scanners(repo)[0] == ["deps:-", "sast:-", "sbom:alpha", "sbom:fraud-detector"]
    assert run_scanners(repo)[0] == []
    extra.write_text("idna==3.9\n")  # an included file is an input too
    assert run_scanners(repo)[0] == ["deps:-", "sbom:alpha", "sbom:fraud-detector"]

    # pip expands ${VAR}: the bytes alone do not decide, so neither result is ever replayed.
    extra.write_text("idna==3.10  # ${HOME}\n")
    for _ in range(2):
        assert run_scanners(repo)[0] == ["deps:-", "sbom:alpha", "sbom:fraud-detector"]


def test_an_online_audit_is_reused_only_within_its_time_window(repo: Path) -> None:
    config = repo / "mlops-ci.yaml"
    config.write_text(config.read_text().replace("  vuln_db: vuln-db/", ""))
    loaded = load_config(cwd=repo)
    assert loaded.config.scan.online_cache_ttl == 900  # the documented default
    deps = registry()["deps"]
    cache = open_cache(loaded, {})
    start = dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.UTC)  # a window boundary (900 | epoch s)

    def key(at: dt.datetime, *, offline: bool = False) -> str | None:
        ctx = Context(loaded=loaded, model=None, needs={}, now=at, offline=offline)
        return cache.key(deps, ctx)

    first = key(start)
    assert first is not None
    assert key(start + dt.timedelta(seconds=899)) == first  # the same 15 minutes
    assert key(start + dt.timedelta(seconds=900)) not in (None, first)  # never older than that
    assert key(start, offline=True) is None  # offline without a database: nothing to reuse
    config.write_text(config.read_text().replace("scan:\n", "scan:\n  online_cache_ttl: 0\n"))
    never = load_config(cwd=repo)
    assert never.config.scan.online_cache_ttl == 0
    ctx = Context(loaded=never, model=None, needs={}, now=start)
    assert deps.inputs(ctx) is None  # type: ignore[attr-defined]
    cache.close()
    cache = open_cache(never, {})
    assert cache.key(deps, ctx) is None and cache.uncacheable == {"deps"}
    cache.close()


def test_an_audit_that_missed_pins_is_not_stored(repo: Path) -> None:
    deps: Any = registry()["deps"]
    loaded = load_config(cwd=repo)
    ctx = Context(loaded=loaded, model=None, needs={}, now=dt.datetime.now(dt.UTC))
    fresh = deps.run(ctx)
    assert deps.storable(ctx, fresh)
    unaudited = ctx.finding("DEP-UNAUDITED", fresh.findings[0].severity, "timed out", None, "x")
    crashed = CheckResult("deps", "passed", findings=(unaudited,))
    assert not deps.storable(ctx, crashed)


def test_one_software_inventory_per_requirements_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from mlops_ci.sbom import software

    runs: list[list[str]] = []

    def fake(args: list[str]) -> dict[str, Any]:
        runs.append(args)
        return {"components": [{"bom-ref": "requirements-L1", "name": "idna"}]}

    monkeypatch.setattr(software, "_run_cyclonedx", fake)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("idna==3.10\n")
    source = software.SoftwareSource("requirements", (requirements,), root=tmp_path)

    def build(_: int) -> software.SoftwarePart:
        return software.build_software_part(source, lambda p: p.name)

    with ThreadPoolExecutor(8) as pool:  # 20 models of one run share one inventory
        parts = list(pool.map(build, range(20)))
    assert len(runs) == 1 and all(p is parts[0] for p in parts)
    requirements.write_text("idna==3.9\n")  # new bytes: a new inventory
    build(0)
    assert len(runs) == 2
    requirements.write_text("idna==3.10  # ${HOME}\n")  # pip expands it: never memoised
    build(0)
    build(0)
    assert len(runs) == 4


def test_a_pack_is_compiled_again_when_its_bytes_change(cli, demo_repo: Path) -> None:  # type: ignore[no-untyped-def]
    pack = demo_repo / "local-pack.yaml"
    pack.write_text(
        (PROJECT / "policies" / "baseline.yaml").read_text().replace("baseline", "local")
    )
    config = demo_repo / "mlops-ci.yaml"
    config.write_text(
        config.read_text().replace("policies: [baseline]", "policies: [local-pack.yaml]")
    )
    for _ in range(2):  # the second run takes the first's word that the pack compiles
        assert cli("check", "--only", "card", "--only", "policy", cwd=demo_repo).exit_code == 0
    assert list((demo_repo / ".mlops-ci/cache/verdicts").iterdir())
    pack.write_text(pack.read_text().replace('lookup("card.valid", false) == true', "card.(("))
    broken = cli("check", "--only", "card", "--only", "policy", cwd=demo_repo)
    assert broken.exit_code == 2 and "local-pack.yaml" in broken.stderr, broken.stderr


def test_a_warm_run_prepares_no_software_inventory(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops_ci.checks.sbom import SbomCheck

    prepared: list[str] = []
    original = SbomCheck.prepare

    def counting(self: SbomCheck, ctx: Context) -> None:
        prepared.append(ctx.current_model.name)
        original(self, ctx)

    monkeypatch.setattr(SbomCheck, "prepare", counting)
    loaded = load_config(cwd=repo)
    for _ in range(2):
        cache = open_cache(loaded, {})
        run_checks(loaded, registry(), RunOptions(only=("sbom",), offline=True), cache=cache)
        cache.close()
    assert sorted(prepared) == ["alpha", "fraud-detector"]  # the first run's only
    assert cache.hits == 2
