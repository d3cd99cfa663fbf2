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


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("budgets: {p90_ms: .inf}", "finite number"),  # no limit: it would pass silently
        ("budgets: {p90_ms: .nan}", "finite number"),  # compares false: it would pass silently
        ("budget_s: .nan", "finite number"),
        ("margin_pct: -.inf", "finite number"),
        ("dims: {batch: 99999999999}", "less than or equal to 16777216"),
        ("dims: {batch: -3}", "greater than or equal to 1"),
        ("dims: {batch: true}", "expected an integer, got True"),  # not 1
        ("inputs: {x: {shape: [-1, 64]}}", "greater than or equal to 1"),
        ("inputs: {x: {shape: [[1]]}}", "shape"),
        ("intra_op_threads: 100000", "less than or equal to 1024"),
        ("inter_op_threads: -1", "greater than or equal to 0"),
        ("device_id: 99999", "less than or equal to 1023"),
        ("seed: 1e400", "seed"),
    ],
)
def test_numeric_config_values_are_range_checked(
    tmp_path: Path, setting: str, message: str
) -> None:
    base = "models:\n  - name: m\n    path: m.onnx\n    bench:\n"
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(write(tmp_path, base + f"      {setting}\n"))
    assert str(caught.value).startswith(f"{tmp_path / 'mlops-ci.yaml'}:5:")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("policy: {max_cost: 0}\n", "greater than or equal to 1"),
        ("policy: {max_cost: 1e12}\n", "policy.max_cost"),
        ("policy: {timeout_s: .nan}\n", "finite number"),
        ("policy: {timeout_s: 3600}\n", "less than or equal to 60"),
        ("policy: {budget: 1}\n", "unknown key 'budget'"),
    ],
)
def test_policy_budget_settings_are_validated(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, VALID + text))
    assert load_config(write(tmp_path, VALID)).config.policy.max_cost == 10_000_000


@pytest.mark.parametrize(
    "text",
    [
        "",  # an empty file
        "   \n\n",  # whitespace
        "null\n",
        "# only a comment\n",
        "version: 1\n",  # no models section
        "models: []\n",
    ],
)
def test_a_configuration_without_models_is_nothing_to_check(tmp_path: Path, text: str) -> None:
    from mlops_ci.pipeline import CheckRequest, run_check

    path = write(tmp_path, text)
    with pytest.raises(MlopsCiError, match="nothing to check") as caught:
        run_check(CheckRequest(config=path, only=("card",), use_cache=False))
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("models: !custom [a]\n", ":1:9:"),
        ("models: !custom {a: 1}\n", ":1:9:"),
        ("version: !custom 1\n", ":1:10:"),
        ("fail_on: !!binary aGk=\n", ":1:10:"),
        ("environments: !!set {dev, prod}\n", ":1:15:"),
    ],
)
def test_tags_in_the_configuration_are_refused_with_the_line(
    tmp_path: Path, text: str, where: str
) -> None:
    with pytest.raises(MlopsCiError, match=rf"{where} YAML tag .* is not allowed"):
        load_config(write(tmp_path, text))


def test_unknown_model_filter_is_nothing_to_check(tmp_path: Path) -> None:
    from mlops_ci.pipeline import CheckRequest, run_check

    path = write(tmp_path, VALID)
    with pytest.raises(ConfigError, match=r"nothing to check: unknown model 'frau'; did you"):
        run_check(CheckRequest(config=path, models=("frau",), only=("card",), use_cache=False))
