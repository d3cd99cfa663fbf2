"""Configuration loading: errors name file:line:column and the field path; precedence holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_ci.config import config_schema, load_config
from mlops_ci.errors import ConfigError, MlopsCiError
from mlops_ci.findings import Severity

VALID = """\
version: 1
models:
  - name: fraud
    path: models/fraud.onnx
    card: models/README.md
    bench:
      inputs: {input: {shape: [batch, 64]}}
      dims: {batch: 1}
fail_on: medium
"""


def write(tmp_path: Path, text: str, name: str = "mlops-ci.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_valid_config_loads(tmp_path: Path) -> None:
    loaded = load_config(write(tmp_path, VALID))
    assert loaded.config.models[0].bench.dims == {"batch": 1}
    assert loaded.config.fail_on is Severity.MEDIUM
    assert loaded.root == tmp_path.resolve()
    assert loaded.config.environments == ["dev", "staging", "prod"]


def test_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "nope.yaml")
    assert str(err.value).startswith(f"{tmp_path / 'nope.yaml'}: ")


def test_no_config_in_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="mlops-ci init"):
        load_config(cwd=tmp_path)


def test_unknown_key_with_hint(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("    card:", "    crad:"))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == (f"{path}:5:5: models[0]: unknown key 'crad'; did you mean 'card'?")


def test_unknown_key_without_close_match(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "zzz: 1\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == f"{path}:10:1: top level: unknown key 'zzz'"


def test_wrong_type_names_line_column_and_path(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("dims: {batch: 1}", "dims: 3"))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == (
        f"{path}:8:13: models[0].bench.dims: expected a mapping of dimension name to integer, got 3"
    )


def test_wrong_nested_type(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("dims: {batch: 1}", "dims: {batch: big}"))
    with pytest.raises(
        ConfigError, match=r":8:21: models\[0\]\.bench\.dims\.batch: expected an integer"
    ):
        load_config(path)


def test_bad_enum_value(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("fail_on: medium", "fail_on: severe"))
    with pytest.raises(ConfigError, match=r":9:10: fail_on: unknown severity 'severe'"):
        load_config(path)


def test_invalid_yaml(tmp_path: Path) -> None:
    path = write(tmp_path, "models: [\n")
    with pytest.raises(MlopsCiError, match=r"mlops-ci.yaml:2:1: invalid YAML"):
        load_config(path)


def test_duplicate_model_names(tmp_path: Path) -> None:
    text = "models:\n  - {name: a, path: x}\n  - {name: a, path: y}\n"
    with pytest.raises(ConfigError, match="model names must be unique; repeated: a"):
        load_config(write(tmp_path, text))


def test_precedence_flags_over_env_over_file(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    env = {"MLOPS_CI_FAIL_ON": "critical", "MLOPS_CI_POLICIES": "baseline, strict"}
    loaded = load_config(path, environ=env)
    assert loaded.config.fail_on is Severity.CRITICAL
    assert loaded.config.policies == ["baseline", "strict"]
    loaded = load_config(path, environ=env, overrides={"fail_on": "low"})
    assert loaded.config.fail_on is Severity.LOW


def test_env_error_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"signing\.mode"):
        load_config(write(tmp_path, VALID), environ={"MLOPS_CI_SIGNING_MODE": "gpg"})


def test_pyproject_table_is_accepted(tmp_path: Path) -> None:
    write(
        tmp_path,
        '[project]\nname = "x"\n\n[tool.mlops-ci]\nfail_on = "low"\n'
        '[[tool.mlops-ci.models]]\nname = "m"\npath = "m.onnx"\n',
        "pyproject.toml",
    )
    loaded = load_config(cwd=tmp_path)
    assert loaded.config.models[0].name == "m"
    assert loaded.config.fail_on is Severity.LOW


def test_pyproject_errors_point_at_the_table(tmp_path: Path) -> None:
    path = write(
        tmp_path, '[project]\nname = "x"\n\n[tool.mlops-ci]\nfail_in = "low"\n', "pyproject.toml"
    )
    with pytest.raises(ConfigError) as err:
        load_config(cwd=tmp_path)
    assert (
        str(err.value) == f"{path}:4:1: top level: unknown key 'fail_in'; did you mean 'fail_on'?"
    )


def test_schema_describes_the_config() -> None:
    schema = config_schema()
    assert schema["title"] == "mlops-ci configuration"
    assert "models" in schema["properties"]
    assert schema["additionalProperties"] is False


def test_bench_settings_are_validated(tmp_path: Path) -> None:
    base = "models:\n  - name: m\n    path: m.onnx\n    bench:\n"
    loaded = load_config(
        write(tmp_path, base + "      budgets: {p90_ms: 20}\n      provider: cuda\n")
    )
    bench = loaded.config.models[0].bench
    assert (bench.budgets, bench.provider, bench.budget_s, bench.margin_pct) == (
        {"p90_ms": 20},
        "cuda",
        20.0,
        5.0,
    )
    with pytest.raises(
        ConfigError, match=r"budgets\.p90\.\[key\]: input should be 'p50_ms', 'p90_ms'"
    ):
        load_config(write(tmp_path, base + "      budgets: {p90: 20}\n"))
    with pytest.raises(
        ConfigError,
        match=r":5:7: models\[0\]\.bench: unknown key 'budget'; did you mean 'budgets'\?",
    ):
        load_config(write(tmp_path, base + "      budget: 3\n"))
    with pytest.raises(
        ConfigError, match=r"models\[0\]\.bench\.dims\.batch: input should be greater"
    ):
        load_config(write(tmp_path, base + "      dims: {batch: 0}\n"))
