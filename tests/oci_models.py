"""Signed model repositories for the OCI tests (key mode, real keys)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.conftest import CliResult
from tests.pki import write_key_pair
from tests.test_signing_modes import make_model

Cli = Callable[..., CliResult]
CONFIG = """models:
  - {name: m, path: model, card: card.md}
signing:
  mode: key
  key: signing.pem
  public_key: signing.pub
"""
SBOM = {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, "components": []}


def signed_repo(root: Path, cli: Cli, *, sbom: bool = False, attest: bool = False) -> Path:
    """A repository with model ``m`` (a directory), its card, and its key-mode signature; with
    ``sbom`` a signed ``m.cdx.json``, with ``attest`` a gate-report attestation."""
    root.mkdir(parents=True, exist_ok=True)
    make_model(root)
    write_key_pair(root)
    (root / "card.md").write_text("---\nlicense: mit\n---\n# m\n")
    (root / "mlops-ci.yaml").write_text(CONFIG)
    if sbom:
        (root / "m.cdx.json").write_text(json.dumps(SBOM))
    if attest:
        ran = cli(
            "check",
            "--only",
            "card",
            "--no-cache",
            "-q",
            "-f",
            "json=reports/mlops-ci.json",
            cwd=root,
        )
        assert ran.exit_code in (0, 1), ran.stderr
    signed = cli("sign", "--model", "m", cwd=root)
    assert signed.exit_code == 0, signed.stderr
    return root
