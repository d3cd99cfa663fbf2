"""``mlops-ci scan PATH...`` without a configuration (issue 15, acceptance 3).

The pickles here are built with ``pickle.dumps`` of a ``__reduce__`` naming ``os.system``:
building one runs nothing, and nothing here ever loads one.
"""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from mlops_ci.findings import Report
from tests.conftest import CliResult


class _Payload:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo owned",))


EVIL = pickle.dumps(_Payload(), protocol=2)


def scanned(cli: Callable[..., CliResult], *args: str, cwd: Path) -> tuple[CliResult, Report]:
    result = cli("scan", "--format", "json", *args, cwd=cwd)
    assert result.exit_code in (0, 1), result.stderr
    return result, Report.from_dict(json.loads(result.stdout))


def unsafe(report: Report) -> list[str]:
    return [
        f.location.path if f.location else ""
        for r in report.results
        for f in r.findings
        if f.rule_id == "ART-PICKLE-UNSAFE"
    ]


def test_an_os_system_pickle_is_blocking_with_no_config(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "model.pkl").write_bytes(EVIL)
    for args in (("model.pkl",), (".",), ()):  # a file, a directory, nothing named: the cwd
        result, report = scanned(cli, *args, cwd=tmp_path)
        assert result.exit_code == 1 and report.verdict == "fail", args
        assert unsafe(report) == ["model.pkl"], args
    assert not (tmp_path / ".mlops-ci").exists()  # scanning a folder leaves nothing in it


@pytest.mark.parametrize("disguise", ["symlink", "weights.txt", "weights.bin", "model.pt", "zip"])
def test_disguised_pickles_are_found(cli, tmp_path: Path, disguise: str) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "folder"
    folder.mkdir()
    if disguise == "symlink":
        (tmp_path / "real.pkl").write_bytes(EVIL)
        (folder / "model.pkl").symlink_to(tmp_path / "real.pkl")
        target = folder / "model.pkl"
    elif disguise in ("model.pt", "zip"):
        target = folder / ("model.pt" if disguise == "model.pt" else "bundle.zip")
        with zipfile.ZipFile(target, "w") as archive:
            archive.writestr("archive/data.pkl", EVIL)
    else:
        target = folder / disguise
        target.write_bytes(EVIL)
    result, report = scanned(cli, str(target), cwd=tmp_path)
    assert result.exit_code == 1 and unsafe(report), disguise
    if disguise == "symlink":  # inside a directory scan, a link out of it is a finding itself
        result, report = scanned(cli, str(folder), cwd=tmp_path)
        assert result.exit_code == 1
        assert "ART-SYMLINK-ESCAPE" in {f.rule_id for r in report.results for f in r.findings}


def test_nothing_to_scan_is_never_a_pass(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "empty" / "nested").mkdir(parents=True)  # folders, but not one file
    for args, expected in (
        (("empty",), "nothing to scan: empty holds no file"),
        (("missing.pkl",), "missing.pkl: no such file or directory"),
        (("poetry.lock",), "poetry.lock: lock files are not audited"),
    ):
        if args == ("poetry.lock",):
            (tmp_path / "poetry.lock").write_text("")
        result = cli("scan", *args, cwd=tmp_path)
        assert result.exit_code == 2, args
        (line,) = result.stderr.strip().splitlines()
        assert expected in line and "Traceback" not in line


def test_a_folder_gives_its_requirements_and_source_to_the_scanners(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "run.py").write_text("import pickle\n")
    (tmp_path / "requirements.txt").write_text("idna>=3\n")  # unpinned: unaudited, not skipped
    _, report = scanned(cli, "--offline", str(tmp_path), cwd=tmp_path)
    by_check = {r.check: r for r in report.results}
    assert by_check["sast"].status != "skipped" and by_check["deps"].status != "skipped"
    assert "DEP-UNAUDITED" in {f.rule_id for f in by_check["deps"].findings}
    assert "SAST-B403" in {f.rule_id for f in by_check["sast"].findings}
