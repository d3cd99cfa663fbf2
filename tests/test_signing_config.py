"""The ``signing:`` section: defaults, MLOPS_CI_SIGNING_* overrides, errors with positions, and
the policy built from it (command-line values win)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_ci.config import load_config
from mlops_ci.errors import ConfigError
from mlops_ci.signing import policy_from_config

CONFIG = """\
version: 1
models: [{name: m, path: m.onnx}]
signing:
  mode: key
  public_key: keys/m.pub
  identity: someone@example.com
  issuer: https://accounts.example.com
"""


def write(tmp_path: Path, text: str = CONFIG) -> Path:
    path = tmp_path / "mlops-ci.yaml"
    path.write_text(text)
    return path


def test_defaults(tmp_path: Path) -> None:
    signing = load_config(write(tmp_path, "version: 1\n")).config.signing
    assert signing.mode == "auto"
    assert signing.key_env == "MLOPS_CI_SIGNING_KEY"
    assert signing.report == "reports/mlops-ci.json"
    assert signing.allow_unsigned is False


def test_environment_overrides_nested_and_lists(tmp_path: Path) -> None:
    environ = {
        "MLOPS_CI_SIGNING_GITHUB_REPOSITORY": "acme/models",
        "MLOPS_CI_SIGNING_CA": "pki/a.pem, pki/b.pem",
        "MLOPS_CI_SIGNING_STAGING": "true",
    }
    signing = load_config(write(tmp_path), environ=environ).config.signing
    assert signing.github.repository == "acme/models"
    assert signing.ca == ["pki/a.pem", "pki/b.pem"]
    assert signing.staging is True
    assert signing.identity == "someone@example.com"


def test_unknown_signing_key_has_a_hint(tmp_path: Path) -> None:
    path = write(tmp_path, CONFIG.replace("  identity:", "  identiy:"))
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert (
        str(error.value) == f"{path}:6:3: signing: unknown key 'identiy'; did you mean 'identity'?"
    )


def test_bad_boolean_names_the_field(tmp_path: Path) -> None:
    path = write(tmp_path, CONFIG + "  staging: maybe\n")
    with pytest.raises(ConfigError, match=r"signing\.staging: expected true or false"):
        load_config(path)


def test_policy_flags_win_over_the_file(tmp_path: Path) -> None:
    loaded = load_config(write(tmp_path))
    policy = policy_from_config(loaded)
    assert policy.mode == "key"
    assert policy.public_key == (tmp_path / "keys" / "m.pub").resolve()
    flagged = policy_from_config(
        loaded, mode="auto", identity="other@example.com", public_key=Path("k.pub")
    )
    assert flagged.mode is None  # "auto" on the command line: the mode the bundle was made in
    assert flagged.identity == "other@example.com"
    assert flagged.issuer == "https://accounts.example.com"
    assert flagged.public_key == Path("k.pub")
