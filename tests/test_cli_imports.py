"""A command imports only what it uses: ``--version`` no CLI framework, ``check --only card`` no
other check's module (issue 16)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mlops_ci import __version__
from mlops_ci.checks import CHECKS

RUN = """
import json, sys
from mlops_ci.cli import main
code = main(sys.argv[1:])
prefixes = ("mlops_ci.", "typer", "click", "rich", "oras", "requests", "onnx")
loaded = sorted(m for m in sys.modules if m.startswith(prefixes))
print(json.dumps({"code": code, "modules": loaded}), file=sys.stderr)
"""


def _imports(*args: str, cwd: Path | None = None) -> tuple[int, set[str], str]:
    done = subprocess.run(
        [sys.executable, "-c", RUN, *args], cwd=cwd, capture_output=True, text=True, check=True
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["code"], set(report["modules"]), done.stdout


def test_version_answers_before_the_cli_framework_is_imported() -> None:
    code, modules, out = _imports("--version")
    assert (code, out) == (0, f"mlops-ci {__version__}\n")
    assert {m.split(".")[0] for m in modules} & {"typer", "click", "rich", "oras"} == set()
    assert "mlops_ci.commands.root" not in modules


def test_check_only_card_imports_no_other_check(tmp_path: Path) -> None:
    (tmp_path / "mlops-ci.yaml").write_text("models:\n  - {name: a, path: a.onnx, card: a.md}\n")
    (tmp_path / "a.onnx").write_bytes(b"not read by the card check")
    (tmp_path / "a.md").write_text("---\nlicense: mit\n---\n# a\n")
    code, modules, _ = _imports("check", "--only", "card", "--no-cache", "-q", cwd=tmp_path)
    assert code in (0, 1)  # the card's findings do not matter here, only what was imported
    checks = {module for _, module, _ in CHECKS}
    assert checks & modules == {"mlops_ci.checks.card"}
    assert not {m for m in modules if m == "oras" or m.startswith(("oras.", "mlops_ci.oci."))}
    _, skipping, _ = _imports("check", "--only", "card", "--skip", "sast", "-q", cwd=tmp_path)
    assert checks & skipping == {"mlops_ci.checks.card"}


def test_the_registry_names_match_the_checks() -> None:
    from mlops_ci.checks import registry

    checks = registry()
    assert list(checks) == [name for name, _, _ in CHECKS]
    assert all(checks[name].name == name for name in checks)


def test_sign_reads_a_graph_without_importing_onnx(tmp_path: Path) -> None:
    """``import onnx`` is over a second; signing needs only the external-data references."""
    from tests.external_data import save_external
    from tests.pki import new_key, private_pem

    model = tmp_path / "m" / "model.onnx"
    save_external(model)
    assert len(list(model.parent.iterdir())) > 1  # the external data file beside it
    key = tmp_path / "key.pem"
    key.write_bytes(private_pem(new_key()))
    signature = tmp_path / "model.sig"
    args = ("--mode", "key", "--key", str(key), "--signature", str(signature))
    code, modules, _ = _imports("sign", str(model), *args, cwd=tmp_path)
    assert code == 0 and signature.exists()
    assert not {m for m in modules if m == "onnx" or m.startswith("onnx.")}


def test_only_registry_commands_import_oras(tmp_path: Path) -> None:
    """``push --help`` loads the command, not the client: oras-py comes with a registry."""
    code, modules, _ = _imports("push", "--help", cwd=tmp_path)
    assert code == 0
    assert not {m for m in modules if m == "oras" or m.startswith("oras.")}


def test_checking_the_demo_model_imports_no_onnx(demo_repo: Path) -> None:
    """The checker, the graph's signature and the class labels need no ``import onnx`` (over a
    second of CPU per run)."""
    only = ("--only", "onnx-model", "--only", "sbom", "--only", "eval")
    args = ("check", "--offline", "--no-cache", "-q", *only)
    code, modules, _ = _imports(*args, cwd=demo_repo)
    assert code == 0
    assert not {m for m in modules if m == "onnx" or m.startswith("onnx.")} - {
        "onnx.onnx_cpp2py_export",
        *(f"onnx.onnx_cpp2py_export.{n}" for n in ("checker", "defs", "inliner", "parser")),
        *(f"onnx.onnx_cpp2py_export.{n}" for n in ("printer", "shape_inference")),
        "onnx.onnx_cpp2py_export.version_converter",
    }
