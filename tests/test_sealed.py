"""A result cache entry committed by a pull request is never replayed (mlops_ci.sealed).

The attack: add a malicious pickle, run mlops-ci locally to learn the artifacts check's cache key
(a digest of public material), write ``passed`` under that key in ``.mlops-ci/cache`` and commit
it with ``git add -f``. Before sealing, ``check`` replayed it and passed (exit 0).
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Callable
from pathlib import Path

import pytest

from mlops_ci.sealed import seal, unseal
from tests.conftest import CliResult


class _RunsACommand:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("true",))


def _forge_passes(cache: Path, check: str) -> int:
    """Rewrite every entry of ``check`` as a clean pass, the way an attacker would."""
    forged = 0
    for entry in cache.glob("results/*/*.json"):
        payload = unseal(entry.read_bytes())
        stored = payload.get("result") if isinstance(payload, dict) else None  # with attachment
        if not isinstance(stored, dict) or stored.get("check") != check:
            continue
        stored.update(status="passed", findings=[])
        entry.write_text(json.dumps(payload, sort_keys=True))  # unsealed, as committed
        forged += 1
    return forged


def test_a_forged_cache_entry_is_a_miss(demo_repo: Path, cli: Callable[..., CliResult]) -> None:
    model = demo_repo / "models" / "fraud-detector"
    (model / "evil.pkl").write_bytes(pickle.dumps(_RunsACommand()))
    config = demo_repo / "mlops-ci.yaml"
    config.write_text(
        config.read_text().replace(
            "path: models/fraud-detector/model.onnx", "path: models/fraud-detector/"
        )
    )
    first = cli("check", "--offline", "--only", "artifacts", cwd=demo_repo)
    assert first.exit_code == 1, first.stderr
    assert _forge_passes(demo_repo / ".mlops-ci" / "cache", "artifacts") >= 1
    again = cli("check", "--offline", "--only", "artifacts", cwd=demo_repo)
    assert again.exit_code == 1, "a committed cache entry was replayed"


def test_seal_round_trip_and_tampering(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_CI_CACHE_KEY_FILE", str(tmp_path / "k1"))
    sealed = seal({"status": "failed"})
    assert sealed is not None and unseal(sealed) == {"status": "failed"}
    outer = json.loads(sealed)
    outer["body"] = json.dumps({"status": "passed"})
    assert unseal(json.dumps(outer)) is None
    monkeypatch.setenv("MLOPS_CI_CACHE_KEY_FILE", str(tmp_path / "k2"))  # another machine
    assert unseal(sealed) is None
    assert (tmp_path / "k1").stat().st_mode & 0o777 == 0o600


def test_no_key_means_nothing_is_stored_or_replayed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("MLOPS_CI_CACHE_KEY_FILE", str(blocker / "key"))
    assert seal({"status": "passed"}) is None
    assert unseal('{"mac": "00", "body": "{}"}') is None
