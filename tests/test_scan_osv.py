"""OSV matching, CVSS scores, the index cache and the requirements parser, as units."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_ci.errors import InputError
from mlops_ci.findings import Severity
from mlops_ci.scan.cvss import advisory_severity, cvss2_score, cvss3_score
from mlops_ci.scan.osv import affects, fix_versions
from mlops_ci.scan.osv_index import load_index
from mlops_ci.scan.requirements import Pin, logical_lines, read_requirements
from tests.conftest import TEST_DATA


def record(*events: dict[str, str], versions: tuple[str, ...] = (), **extra: object) -> dict:  # type: ignore[type-arg]
    return {
        "id": "TEST-1",
        "affected": [
            {
                "package": {"name": "Some_Package", "ecosystem": "PyPI"},
                "ranges": [{"type": "ECOSYSTEM", "events": list(events)}],
                "versions": list(versions),
            }
        ],
        **extra,
    }


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("0.1", True),
        ("1.9", True),
        ("1.10", False),  # PEP 440: 1.10 > 1.9 (a string compare would say otherwise)
        ("1.10rc1", True),  # a pre-release of the fix comes before the fix
        ("2.0a1", True),  # pre-release of the re-introduction
        ("2.0", True),
        ("2.3", True),
        ("2.3.1", False),
        ("3.0", False),
    ],
)
def test_ecosystem_ranges_use_pep440(version: str, expected: bool) -> None:
    data = record(
        {"introduced": "0"},
        {"fixed": "1.10"},
        {"introduced": "2.0a1"},
        {"last_affected": "2.3"},
    )
    assert affects(data, "some-package", version) is expected


def test_versions_list_withdrawn_and_other_packages() -> None:
    listed = record(versions=("4.0.0",))
    assert affects(listed, "some-package", "4.0.0")
    assert affects(listed, "some-package", "4.0")  # PEP 440 equal
    assert not affects(listed, "some-package", "4.0.1")
    assert not affects(listed, "other", "4.0.0")
    withdrawn = record({"introduced": "0"}, withdrawn="2023-06-06T10:37:00Z")
    assert not affects(withdrawn, "some-package", "1.0")
    git_only = {
        "id": "T",
        "affected": [
            {
                "package": {"name": "some-package", "ecosystem": "PyPI"},
                "ranges": [{"type": "GIT", "events": [{"introduced": "0"}]}],
            }
        ],
    }
    assert not affects(git_only, "some-package", "1.0")


def test_fix_versions_sorted_by_pep440() -> None:
    data = record({"introduced": "0"}, {"fixed": "1.10"}, {"introduced": "1.2"}, {"fixed": "1.9"})
    assert fix_versions(data, "some-package") == ["1.9", "1.10"]


@pytest.mark.parametrize(
    ("vector", "score"),
    [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
        ("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5),
        ("CVSS:3.1/AV:L/AC:L/PR:L/UI:R/S:U/C:L/I:N/A:N", 2.8),
        ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
    ],
)
def test_cvss3_base_scores(vector: str, score: float) -> None:
    assert cvss3_score(vector) == score


def test_cvss2_and_severity_sources() -> None:
    assert cvss2_score("AV:N/AC:L/Au:N/C:P/I:P/A:P") == 7.5
    assert cvss3_score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N") is None
    cvss = {
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]
    }
    assert advisory_severity(cvss) is Severity.CRITICAL
    assert advisory_severity({"database_specific": {"severity": "MODERATE"}}) is Severity.MEDIUM
    assert advisory_severity({"id": "X"}) is None


def test_yaml_versions_stay_strings_and_cache_is_keyed_by_content(tmp_path: Path) -> None:
    db = tmp_path / "db"
    (db / "pkg").mkdir(parents=True)
    # Unquoted 1.10 would be the float 1.1 for a YAML 1.1 loader.
    (db / "pkg" / "T-1.yaml").write_text(
        "id: T-1\naffected:\n- package: {name: pkg, ecosystem: PyPI}\n"
        "  ranges:\n  - type: ECOSYSTEM\n    events:\n    - introduced: 0\n    - fixed: 1.10\n"
    )
    cache = tmp_path / "cache"
    cold = load_index(db, cache)
    assert not cold.from_cache
    assert [r["id"] for r in cold.query("pkg", "1.9")] == ["T-1"]
    assert cold.query("pkg", "1.10") == []
    warm = load_index(db, cache)
    assert warm.from_cache and warm.digest == cold.digest
    assert [r["id"] for r in warm.query("PKG", "1.9")] == ["T-1"]
    (db / "pkg" / "T-2.json").write_text(
        json.dumps(
            {
                "id": "T-2",
                "affected": [
                    {"package": {"name": "pkg", "ecosystem": "PyPI"}, "versions": ["1.10"]}
                ],
            }
        )
    )
    changed = load_index(db, cache)
    assert not changed.from_cache and changed.digest != cold.digest
    assert [r["id"] for r in changed.query("pkg", "1.10")] == ["T-2"]
    # A corrupt cache file is ignored, never trusted.
    (cache / f"osv-{changed.digest}.json").write_text("{not json")
    assert not load_index(db, cache).from_cache


def test_fixture_database_loads() -> None:
    index = load_index(TEST_DATA / "osv", None)
    assert len(index.records) == 65
    assert index.lookup("CVE-2018-18074")["id"] == "PYSEC-2018-28"  # type: ignore[index]


def test_requirements_lines_and_includes(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("Flask==2.0.1\n")
    main = tmp_path / "requirements.txt"
    main.write_text(
        "# comment\n"
        "-r base.txt\n"
        "requests==2.19.0 \\\n"
        "    --hash=sha256:abc \\\n"
        "    --hash=sha256:def\n"
        "numpy==1.26.4; python_version >= '3.9'  # trailing comment\n"
        "torch===2.1.0\n"
        "scipy~=1.11\n"
    )
    read = read_requirements([main])
    assert [(p.name, p.version, p.path.name, p.line) for p in read.pins] == [
        ("Flask", "2.0.1", "base.txt", 1),
        ("requests", "2.19.0", "requirements.txt", 3),
        ("numpy", "1.26.4", "requirements.txt", 6),
        ("torch", "2.1.0", "requirements.txt", 7),
    ]
    assert [(u.name, u.line) for u in read.unpinned] == [("scipy", 8)]


def test_pyproject_dependencies(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "x"\ndependencies = [\n  "requests==2.19.0",\n  "numpy>=1",\n]\n'
    )
    read = read_requirements([pyproject])
    assert read.pins == (Pin("requests", pyproject, 4, "2.19.0"),)
    assert [(u.name, u.line) for u in read.unpinned] == [("numpy", 5)]


NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,8}([._-][A-Za-z0-9]{1,5})?", fullmatch=True)
VERSIONS = st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){0,3}((a|b|rc)[0-9])?", fullmatch=True)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(NAMES, VERSIONS), min_size=1, max_size=6), st.integers(0, 3))
def test_pins_round_trip(
    tmp_path_factory: pytest.TempPathFactory, pins: list[tuple[str, str]], blank: int
) -> None:
    path = tmp_path_factory.mktemp("req") / "requirements.txt"
    lines = []
    for name, version in pins:
        lines += ["# note"] * blank + [f"{name}=={version}"]
    path.write_text("\n".join(lines) + "\n")
    read = read_requirements([path])
    assert [(p.name, p.version) for p in read.pins] == pins
    assert [p.line for p in read.pins] == [(blank + 1) * (i + 1) for i in range(len(pins))]


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80))
def test_any_line_parses_or_fails_with_input_error(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    path = tmp_path_factory.mktemp("req") / "requirements.txt"
    path.write_text(text, encoding="utf-8")
    try:
        read_requirements([path])
    except InputError as exc:
        assert str(exc).startswith(str(path))
    assert all(isinstance(n, int) and n >= 1 for n, _ in logical_lines(text))
