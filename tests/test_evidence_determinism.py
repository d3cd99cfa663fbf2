"""Evidence files are deterministic (issue 13): for unchanged inputs ``check`` writes the same SBOM
bytes, so a signed SBOM stays valid until its inputs change, and ``verify`` names what failed."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import git

from tests.conftest import CliResult

Cli = Callable[..., CliResult]
SBOM = Path(".mlops-ci/sbom/fraud-detector.cdx.json")
REPORT = Path("reports/mlops-ci.json")


def _check(cli: Cli, repo: Path) -> CliResult:
    result = cli("check", "--format", f"json={REPORT}", cwd=repo)
    assert result.exit_code == 0, result.stderr
    return result


def _verified_roles(cli: Cli, repo: Path) -> list[str]:
    result = cli("verify", cwd=repo)
    assert result.exit_code == 0, result.stderr
    return [line.split()[1] for line in result.stdout.splitlines()]


def test_check_twice_gives_identical_sbom_bytes_and_verify_passes(
    cli: Cli, demo_repo: Path
) -> None:
    """Acceptance 3: check -> sign -> verify, then check twice more on the unchanged tree."""
    _check(cli, demo_repo)
    first = (demo_repo / SBOM).read_bytes()
    assert cli("sign", cwd=demo_repo).exit_code == 0
    assert _verified_roles(cli, demo_repo) == ["model", "attestation", "sbom", "report"]
    for _ in range(2):
        rerun = _check(cli, demo_repo)
        assert (demo_repo / SBOM).read_bytes() == first
        # The report is the record of one run (its start time and durations differ): the bundle
        # of the previous report is removed, so verify checks what exists now.
        assert not (demo_repo / f"{REPORT}.sigstore.json").exists()
        assert "removed mlops-ci.json.sigstore.json" in rerun.stderr
        assert _verified_roles(cli, demo_repo) == ["model", "attestation", "sbom"]
        assert cli("sign", cwd=demo_repo).exit_code == 0
        assert _verified_roles(cli, demo_repo) == ["model", "attestation", "sbom", "report"]


def test_sbom_time_is_the_commit_time_and_holds_no_run_to_run_noise(
    cli: Cli, demo_repo: Path
) -> None:
    _check(cli, demo_repo)
    bom = json.loads((demo_repo / SBOM).read_text())
    with git.Repo(demo_repo) as repo:
        committed = dt.datetime.fromtimestamp(repo.head.commit.committed_date, dt.UTC)
    assert bom["metadata"]["timestamp"] == committed.strftime("%Y-%m-%dT%H:%M:%SZ")
    text = (demo_repo / SBOM).read_text()
    assert "latency" not in text
    report = json.loads((demo_repo / REPORT).read_text())
    (bench,) = [r for r in report["results"] if r["check"] == "bench"]
    assert bench["status"] == "passed"  # the figures exist, in the report only
    assert "p50_ms" in bench["facts"]


def test_sbom_changes_only_with_its_inputs(cli: Cli, demo_repo: Path) -> None:
    """Committing evidence (or anything that is not an input) keeps the SBOM's bytes; a commit
    that changes an input (the card) moves its time and commit to that commit's."""
    _check(cli, demo_repo)
    first = (demo_repo / SBOM).read_bytes()
    assert cli("sign", cwd=demo_repo).exit_code == 0
    with git.Repo(demo_repo) as repo:
        repo.git.add("-A", "-f", "models")
        repo.git.commit("-m", "Evidence", env={"GIT_COMMITTER_DATE": "2030-01-01T00:00:00Z"})
    _check(cli, demo_repo)
    assert (demo_repo / SBOM).read_bytes() == first
    assert "sbom" in _verified_roles(cli, demo_repo)
    card = demo_repo / "models/fraud-detector/README.md"
    card.write_text(card.read_text().replace("  version: 1.0.0", "  version: 1.0.1", 1))
    with git.Repo(demo_repo) as repo:
        repo.git.commit("-qam", "Card", env={"GIT_COMMITTER_DATE": "2031-01-01T00:00:00Z"})
        head = repo.head.commit.hexsha
    _check(cli, demo_repo)
    later = json.loads((demo_repo / SBOM).read_text())
    assert later["metadata"]["timestamp"] == "2031-01-01T00:00:00Z"
    assert {"name": "mlops-ci:git:commit", "value": head} in later["metadata"]["properties"]


def test_verify_names_the_sbom_that_failed(cli: Cli, demo_repo: Path) -> None:
    _check(cli, demo_repo)
    assert cli("sign", cwd=demo_repo).exit_code == 0
    sbom = demo_repo / SBOM
    sbom.write_text(sbom.read_text().replace('"version": 1', '"version": 2', 1))
    result = cli("verify", cwd=demo_repo)
    assert result.exit_code == 1
    assert f"FAILED    sbom         {SBOM}: the SBOM does not match its signature" in result.stderr
    assert "the model does not match" not in result.stderr
