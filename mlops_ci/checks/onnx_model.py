"""The ``onnx-model`` check: every model file loads and passes onnx's full checker."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from mlops_ci.checks.base import Context, Scope, model_inputs, result
from mlops_ci.findings import CheckResult, Finding, JsonValue, Location, Severity


def onnx_files(model_path: Path) -> list[Path]:
    """The .onnx files a configured model path stands for, in a stable order."""
    if model_path.is_dir():
        return sorted(p for p in model_path.rglob("*.onnx") if p.is_file())
    return [model_path]


class OnnxModelCheck:
    """Loads each model with onnx and reports opset, signature, parameters and size."""

    name: ClassVar[str] = "onnx-model"
    needs: ClassVar[tuple[str, ...]] = ()
    scope: ClassVar[Scope] = "model"

    def inputs(self, ctx: Context) -> list[Path]:
        """The model files (and, for a single file, the external data that may sit beside it)."""
        return model_inputs(ctx)

    def run(self, ctx: Context) -> CheckResult:
        """Validate the model files of ``ctx.model``."""
        model = ctx.current_model
        root_path = ctx.loaded.resolve(model.path)
        files = onnx_files(root_path)
        if root_path.is_dir() and not files:
            shown = ctx.display(root_path)
            finding = ctx.finding(
                "ONNX003", Severity.HIGH, f"no .onnx file under {shown}", Location(shown)
            )
            return result(ctx, self.name, [finding])
        findings: list[Finding] = []
        described: list[dict[str, JsonValue]] = []
        metrics: dict[str, float] = {}
        for path in files:
            shown = ctx.display(path)
            problem, info = _inspect(path)
            if problem is not None:
                rule, message = problem
                findings.append(
                    ctx.finding(rule, Severity.HIGH, f"{shown}: {message}", Location(shown), rule)
                )
                continue
            described.append({"path": shown, **info})
            prefix = "" if len(files) == 1 else f"{path.name}."
            metrics[f"{prefix}opset"] = float(info["opset"])
            metrics[f"{prefix}parameters"] = float(info["parameters"])
            metrics[f"{prefix}size_bytes"] = float(info["size_bytes"])
        facts: dict[str, JsonValue] = {"valid": not findings, "files": described}
        return result(ctx, self.name, findings, metrics=metrics, facts=facts)


def _inspect(path: Path) -> tuple[tuple[str, str] | None, dict[str, Any]]:
    from google.protobuf.message import DecodeError

    from mlops_ci.onnx_check import check_model_file
    from mlops_ci.onnx_graph import load_graph
    from mlops_ci.onnx_native import checker_errors

    if not path.is_file():
        return ("ONNX001", "the model file does not exist"), {}
    try:
        proto = load_graph(path)  # the run's one parse, without tensor data
    except (DecodeError, ValueError, RuntimeError, OSError) as exc:
        return ("ONNX001", f"not a loadable ONNX model ({exc.__class__.__name__})"), {}
    try:
        # check_model(path, full_check=True)'s verdict, large initializers left on disk.
        check_model_file(path)
    except checker_errors() as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid model"
        return ("ONNX002", f"onnx.checker rejects the model: {first_line[:200]}"), {}
    except (DecodeError, ValueError, RuntimeError, OSError) as exc:
        return ("ONNX001", f"not a loadable ONNX model ({exc.__class__.__name__})"), {}
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)
    parameters = 0
    for tensor in proto.graph.initializer:
        count = 1
        for dim in tensor.dims:
            count *= dim
        parameters += count
    return None, {
        "opset": opset,
        "ir_version": proto.ir_version,
        "producer": proto.producer_name,
        "inputs": [_value_info(v) for v in _graph_inputs(proto)],
        "outputs": [_value_info(v) for v in proto.graph.output],
        "parameters": parameters,
        "size_bytes": path.stat().st_size,
    }


def _graph_inputs(proto: Any) -> list[Any]:
    initializers = {t.name for t in proto.graph.initializer}
    return [v for v in proto.graph.input if v.name not in initializers]


def _value_info(value: Any) -> dict[str, JsonValue]:
    from mlops_ci.onnx_native import np_dtype_name

    tensor = value.type.tensor_type
    shape: list[JsonValue] = []
    for dim in tensor.shape.dim:
        if dim.HasField("dim_value"):
            shape.append(dim.dim_value)
        elif dim.HasField("dim_param"):
            shape.append(dim.dim_param)
        else:
            shape.append(None)
    dtype = np_dtype_name(tensor.elem_type) if tensor.elem_type else None
    return {"name": value.name, "dtype": dtype, "shape": shape}


def graph_signature(
    path: Path,
) -> tuple[list[dict[str, JsonValue]], list[dict[str, JsonValue]]] | None:
    """The inputs and outputs (name, dtype, shape) of an ONNX file; None when it cannot be read.

    Reads the graph only (no external data, no checker): the ``onnx-model`` check judges validity.
    """
    from google.protobuf.message import DecodeError

    from mlops_ci.onnx_graph import load_graph

    if not path.is_file():  # a FIFO would block onnx.load forever; a device never ends
        return None
    try:
        proto = load_graph(path)
    except (DecodeError, ValueError, RuntimeError, OSError):
        return None
    inputs = [_value_info(v) for v in _graph_inputs(proto)]
    return inputs, [_value_info(v) for v in proto.graph.output]
