"""The command line end to end, on the real demo repository."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from mlops_ci import __version__
from mlops_ci.findings import Report
from tests.conftest import CliResult
from tests.test_formats import validate_sarif

Cli = Callable[..., CliResult]
CARD = Path("models/fraud-detector/README.md")
MODEL = Path("models/fraud-detector/model.onnx")


def test_version(cli: Cli) -> None:
    assert cli("--version").stdout == f"mlops-ci {__version__}\n"
    assert cli("version").stdout == f"mlops-ci {__version__}\n"


def test_version_imports_no_heavy_library() -> None:
    code = (
        "import sys; from mlops_ci.cli import main; import mlops_ci.commands.root;"
        "heavy = {'onnx', 'onnxruntime', 'sigstore', 'cyclonedx', 'pip_audit', 'git', 'pydantic'};"
        "print(sorted(heavy & set(m.split('.')[0] for m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_demo_passes(cli: Cli, tmp_path: Path) -> None:
    result = cli("demo", str(tmp_path / "d"))
    assert result.exit_code == 0, result.stderr
    assert "mlops-ci: PASS  every gate passed (exit 0)" in result.stdout
    assert "<!--" not in result.stdout and "**" not in result.stdout  # the text summary
    # The bench check ran against origin/main with a short budget; its key figures are shown.
    (figures,) = re.findall(r"^bench +fraud-detector +passed .*$", result.stdout, re.M)
    assert "p50 " in figures and "p90 " in figures and "verdict " in figures
    assert f"Demo repository: {(tmp_path / 'd').resolve()}" in result.stdout
    assert (tmp_path / "d" / ".git").is_dir()
    # A life, not a birth: 1.1.0 through dev and staging, staging back to 1.0.0 and forward.
    steps = [
        "pushed: Promote fraud-detector 1.0.0 to staging",
        "Retrain fraud-detector to 1.1.0",
        "pushed: Promote fraud-detector 1.1.0 to staging",
        "pushed: Roll back fraud-detector in staging to 1.0.0",
        "pushed: Promote fraud-detector 1.1.0 to staging (unpin 1.0.0)",
        "$ mlops-ci history fraud-detector",
    ]
    positions = [result.stdout.find(step) for step in steps]
    assert -1 not in positions and positions == sorted(positions), positions
    status = result.stdout.split("$ mlops-ci status", 1)[1].split("$ mlops-ci history", 1)[0]
    dev, staging = (
        next(line for line in status.splitlines() if f"  {env} " in line)
        for env in ("dev", "staging")
    )
    assert "1.1.0" in dev and "1.1.0" in staging
    # Issue 17: the model pushed to a loopback registry, verified there and promoted by digest,
    # or, without docker-registry, a plain line saying that this was skipped and why.
    if shutil.which("docker-registry"):
        assert "$ mlops-ci verify oci://127.0.0.1:" in result.stdout
        assert "verified  attestation  oci://127.0.0.1:" in result.stdout
        assert " --to dev --artifact oci://127.0.0.1:" in result.stdout
        assert "oci://127.0.0.1:" in dev and "@sha256:" in dev
    else:
        assert "skipped: pushing to an OCI registry" in result.stdout
    # The eval gate measured the first release's quality on the demo's evaluation set.
    assert "Evaluation of fraud-detector: " in result.stdout
    # README's eval-fail block, as written, in the demo repository: a model trained far from the
    # data's truth gets EVAL-REGRESSION against what staging runs, and the tree is restored.
    from tests.readme_blocks import run_readme_block

    repo = tmp_path / "d"
    done = run_readme_block("eval-fail", repo, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "blocked, exit 1" in done.stdout
    assert "EVAL-REGRESSION" in done.stdout and "against env:staging" in done.stdout
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True, check=True
    )
    assert status.stdout == ""


def test_demo_refuses_non_empty_dir(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "x").write_text("mine")
    result = cli("demo", str(tmp_path))
    assert result.exit_code == 2
    assert (
        result.stderr.strip()
        == f"error: {tmp_path} is not an empty directory; give a new or empty DIR"
    )
    assert (tmp_path / "x").read_text() == "mine"


def test_check_passes_on_demo(cli: Cli, demo_repo: Path) -> None:
    result = cli("check", "--offline", "--format", "json", cwd=demo_repo)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    report = Report.from_dict(json.loads(result.stdout))
    statuses = {r.check: r.status for r in report.results}
    assert statuses == {
        "card": "passed",
        "onnx-model": "passed",
        "deps": "passed",
        "sast": "passed",
        "artifacts": "passed",
        "sbom": "passed",
        "signature": "passed",
        "bench": "passed",
        "eval": "passed",  # no baseline yet but the default branch's (the same bytes)
        "policy": "passed",
    }
    deps = next(r for r in report.results if r.check == "deps")
    assert deps.facts["mode"] == "offline-db" and deps.facts["packages"] == 4


def test_demo_scan_finds_a_vulnerable_pin(cli: Cli, demo_repo: Path) -> None:
    requirements = demo_repo / "requirements.txt"
    requirements.write_text(
        requirements.read_text().replace("requests==2.32.3", "requests==2.19.0")
    )
    result = cli("scan", "--offline", "--format", "json", cwd=demo_repo)
    assert result.exit_code == 1, result.stderr
    report = Report.from_dict(json.loads(result.stdout))
    rules = {f.rule_id for r in report.results for f in r.findings}
    assert rules == {"DEP-PYSEC-2018-28", "DEP-PYSEC-2023-74"}
    assert {r.check for r in report.results} == {"deps", "sast", "artifacts"}


def test_broken_card_yaml_exits_2_with_one_line(cli: Cli, demo_repo: Path) -> None:
    card = demo_repo / CARD
    card.write_text(card.read_text().replace("license: apache-2.0", "license: [apache-2.0", 1))
    result = cli("check", cwd=demo_repo)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {CARD.as_posix()}:3:")
    assert "Traceback" not in result.stdout + result.stderr


def test_unclosed_front_matter_exits_2(cli: Cli, demo_repo: Path) -> None:
    card = demo_repo / CARD
    card.write_text("---\nlicense: mit\n\n# no closing line\n")
    result = cli("check", cwd=demo_repo)
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: {CARD.as_posix()}:1:1: the YAML front matter opened on line 1 is never closed;"
        " add a line with '---' after it"
    )


def test_non_onnx_model_fails_with_finding(cli: Cli, demo_repo: Path) -> None:
    (demo_repo / MODEL).write_bytes(b"\x00\xffthis is not an onnx model at all")
    result = cli("check", "--format", "json", cwd=demo_repo)
    assert result.exit_code == 1
    report = Report.from_dict(json.loads(result.stdout))
    (onnx_result,) = [r for r in report.results if r.check == "onnx-model"]
    assert onnx_result.status == "failed"
    (finding,) = onnx_result.findings
    assert finding.rule_id in ("ONNX001", "ONNX002")
    assert finding.location is not None and finding.location.path == MODEL.as_posix()
    assert MODEL.as_posix() in finding.message


def test_four_formats_in_one_run(cli: Cli, demo_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = cli(
        "check",
        "--format",
        f"sarif={out / 'r.sarif'}",
        "--format",
        f"junit={out / 'r.xml'}",
        "--format",
        f"json={out / 'r.json'}",
        "--format",
        "markdown",
        cwd=demo_repo,
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("<!-- mlops-ci:report -->")
    validate_sarif((out / "r.sarif").read_text())
    assert ET.parse(out / "r.xml").getroot().tag == "testsuites"
    report = Report.from_dict(json.loads((out / "r.json").read_text()))
    assert report.verdict == "pass"
    assert report.git.branch == "main" and report.git.commit
    assert sorted(p.name for p in out.iterdir()) == ["r.json", "r.sarif", "r.xml"]


def test_errored_check_appears_in_every_format(
    cli: Cli, demo_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlops_ci.checks
    from mlops_ci.checks.card import CardCheck

    def crash(self: object, ctx: object) -> None:
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(CardCheck, "run", crash)
    formats = {
        "json": "r.json",
        "markdown": "r.md",
        "sarif": "r.sarif",
        "junit": "r.xml",
        "gitlab-codequality": "r.cq.json",
    }
    args = [a for f, n in formats.items() for a in ("--format", f"{f}={tmp_path / n}")]
    result = cli("check", *args, cwd=demo_repo)
    assert result.exit_code == 3
    assert result.stderr.strip() == "internal error: RuntimeError: simulated crash"
    assert mlops_ci.checks.registry()["card"].run is not None
    report = Report.from_dict(json.loads((tmp_path / "r.json").read_text()))
    statuses = {r.check: r.status for r in report.results}
    assert statuses.pop("card") == "errored"
    assert statuses.pop("policy") == "failed"  # it fails closed without the card's facts
    assert set(statuses.values()) == {"passed"}  # every other check still ran
    assert "bench" in statuses
    assert "💥 errored: card [fraud-detector]" in (tmp_path / "r.md").read_text()
    sarif = validate_sarif((tmp_path / "r.sarif").read_text())
    notes = sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert "simulated crash" in notes[0]["message"]["text"]
    junit = ET.parse(tmp_path / "r.xml").getroot()
    assert junit.get("errors") == "1" and junit.get("tests") == str(len(report.results))
    cq = json.loads((tmp_path / "r.cq.json").read_text())
    assert "mlops-ci/errored" in [i["check_name"] for i in cq]


@pytest.mark.parametrize(
    ("config_text", "expected"),
    [
        (
            None,
            "error: {cfg}: configuration file not found; check the path, or run 'mlops-ci init'",
        ),
        (
            "version: 1\nmodles: []\n",
            "error: {cfg}:2:1: top level: unknown key 'modles'; did you mean 'models'?",
        ),
        (
            "version: 1\nmodels:\n  - name: m\n    path: m.onnx\n    card: [x]\n",
            "error: {cfg}:5:11: models[0].card: expected a path to the model card (Markdown), got list",
        ),
    ],
    ids=["missing-file", "unknown-key", "wrong-type"],
)
def test_config_errors_exit_2(
    cli: Cli, tmp_path: Path, config_text: str | None, expected: str
) -> None:
    cfg = tmp_path / "custom.yaml"
    if config_text is not None:
        cfg.write_text(config_text)
    result = cli("check", "--config", str(cfg), cwd=tmp_path)
    assert result.exit_code == 2
    assert result.stderr.strip() == expected.format(cfg=cfg)
    assert "Traceback" not in result.stderr


def test_usage_errors_exit_2(cli: Cli, demo_repo: Path) -> None:
    assert cli("check", "--only", "crad", cwd=demo_repo).exit_code == 2
    result = cli("check", "--format", "yaml", cwd=demo_repo)
    assert result.exit_code == 2 and "unknown format 'yaml'" in result.stderr
    result = cli("check", "--fail-on", "severe", cwd=demo_repo)
    assert result.exit_code == 2 and "--fail-on" in result.stderr
    result = cli("check", "--model", "nope", cwd=demo_repo)
    assert result.exit_code == 2 and "unknown model 'nope'" in result.stderr
    assert cli("check", "--no-such-flag", cwd=demo_repo).exit_code == 2


def test_only_and_fail_on(cli: Cli, demo_repo: Path) -> None:
    (demo_repo / MODEL).write_bytes(b"junk")
    assert cli("check", "--only", "card", cwd=demo_repo).exit_code == 0
    assert cli("check", "--skip", "onnx-model", "--skip", "bench", cwd=demo_repo).exit_code == 0
    assert cli("check", "--fail-on", "critical", cwd=demo_repo).exit_code == 0
    assert cli("check", cwd=demo_repo).exit_code == 1


def test_schema_config(cli: Cli) -> None:
    result = cli("schema", "config")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["title"] == "mlops-ci configuration"


def test_init_scaffolds_and_never_overwrites(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / ".gitlab-ci.yml").write_text("mine: true\n")
    result = cli("init", str(tmp_path))
    assert result.exit_code == 0
    assert (tmp_path / ".gitlab-ci.yml").read_text() == "mine: true\n"
    assert "kept  .gitlab-ci.yml" in result.stdout
    for name in (
        "mlops-ci.yaml",
        "models/my-model/README.md",
        ".github/workflows/mlops-ci.yml",
        ".pre-commit-config.yaml",
    ):
        assert (tmp_path / name).is_file(), name
    assert "{{ version }}" not in (tmp_path / ".github/workflows/mlops-ci.yml").read_text()
    (tmp_path / "mlops-ci.yaml").write_text("# mine\n")
    cli("init", str(tmp_path))
    assert (tmp_path / "mlops-ci.yaml").read_text() == "# mine\n"
    result = cli("init", str(tmp_path), "--force")
    assert "replaced  mlops-ci.yaml" in result.stdout
    assert (tmp_path / ".gitlab-ci.yml").read_text() != "mine: true\n"


def test_init_config_is_valid(cli: Cli, tmp_path: Path) -> None:
    from mlops_ci.config import load_config

    cli("init", str(tmp_path))
    assert load_config(cwd=tmp_path).config.models[0].name == "my-model"


def test_console_script_runs(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "mlops-ci"
    if not exe.exists():
        pytest.skip("mlops-ci console script is not installed in this environment")
    out = subprocess.run(
        [str(exe), "check"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


def test_dep_finding_can_be_waived_until_a_date(cli: Cli, demo_repo: Path) -> None:
    import datetime as dt

    requirements = demo_repo / "requirements.txt"
    requirements.write_text(requirements.read_text().replace("jinja2==3.1.4", "jinja2==2.10"))
    result = cli("scan", "--offline", "--format", "json", cwd=demo_repo)
    assert result.exit_code == 1
    rules = sorted(
        {f.rule_id for r in Report.from_dict(json.loads(result.stdout)).results for f in r.findings}
    )
    assert rules == ["DEP-PYSEC-2019-217", "DEP-PYSEC-2021-66"]
    expires = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30)
    (demo_repo / "waivers.yaml").write_text(
        "waivers:\n"
        + "".join(
            f"  - id: W-{n}\n    rule: {rule}\n    reason: The sandbox is not used.\n"
            f"    owner: sec@example.com\n    expires: {expires.isoformat()}\n"
            for n, rule in enumerate(rules)
        )
    )
    result = cli("scan", "--offline", "--format", "json", cwd=demo_repo)
    assert result.exit_code == 0, result.stdout
    report = Report.from_dict(json.loads(result.stdout))
    waived = [f for r in report.results for f in r.findings if f.rule_id.startswith("DEP-")]
    assert sorted(f.suppressed_by or "" for f in waived) == ["W-0", "W-1"]


def test_demo_says_plainly_when_it_skips_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlops_ci.demo import registry

    monkeypatch.setattr(registry, "REGISTRY_PROGRAM", "no-such-registry-program")
    said: list[str] = []
    assert registry.registry_act(Path("unused"), said.append, "1.1.0", land=None) == 0  # type: ignore[arg-type]
    assert said[-1] == (
        "skipped: pushing to an OCI registry, verifying from it and promoting by digest, because"
        " `no-such-registry-program` is not installed (Debian/Ubuntu: apt-get install"
        " docker-registry)"
    )
