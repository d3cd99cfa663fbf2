"""The benchmark harness: providers, sessions, IO binding, inputs, fingerprint.

The GPU path is tested up to the provider boundary: provider resolution against GPU provider
lists, the strict/auto handling of a provider that does not start (real onnxruntime, which has no
CUDA here), and the IO-binding runner both for real on CPU and against a recording stand-in that
checks what it asks of the device.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlops_ci.bench import fingerprint, inputs, session, timing
from mlops_ci.bench.session import CPU_EP, CUDA_EP, TENSORRT_EP, SessionSettings
from mlops_ci.commands.bench import parse_dims
from mlops_ci.demo.model import save_mlp
from mlops_ci.errors import InputError, UsageError

GPU_BUILD = [TENSORRT_EP, CUDA_EP, CPU_EP]


@pytest.fixture
def mlp(tmp_path: Path) -> Path:
    return save_mlp(tmp_path / "mlp.onnx", (8, 4, 2), seed=3)


def cpu_session(path: Path) -> Any:
    choice = session.resolve_providers("cpu", [CPU_EP])
    sess, _ = session.open_session(path, SessionSettings(provider="cpu"), choice)
    return sess


# --- providers -----------------------------------------------------------------------------


def test_auto_prefers_tensorrt_then_cuda_then_cpu() -> None:
    chain = session.resolve_providers("auto", GPU_BUILD, tensorrt_usable=True).providers
    assert chain == tuple(GPU_BUILD)
    # onnxruntime-gpu lists TensorRT even without TensorRT's libraries: auto then takes CUDA.
    without = session.resolve_providers("auto", GPU_BUILD, tensorrt_usable=False)
    assert (without.name, without.providers) == ("cuda", (CUDA_EP, CPU_EP))
    expected = "tensorrt" if session.tensorrt_loadable() else "cuda"
    assert session.resolve_providers("auto", GPU_BUILD).name == expected
    cuda = session.resolve_providers("auto", [CUDA_EP, CPU_EP])
    assert (cuda.name, cuda.device, cuda.strict) == ("cuda", "cuda", False)
    cpu = session.resolve_providers("auto", ["AzureExecutionProvider", CPU_EP])
    assert (cpu.name, cpu.providers, cpu.device) == ("cpu", (CPU_EP,), "cpu")


def test_named_provider_is_strict_and_must_exist() -> None:
    choice = session.resolve_providers("cuda", GPU_BUILD)
    assert (choice.providers, choice.strict) == ((CUDA_EP, CPU_EP), True)
    assert session.resolve_providers("tensorrt", GPU_BUILD).providers == tuple(GPU_BUILD)
    with pytest.raises(InputError, match=r"provider 'cuda' is not available.*onnxruntime-gpu"):
        session.resolve_providers("cuda", [CPU_EP])


def test_actual_choice_describes_a_fallback() -> None:
    assert session.actual_choice([CUDA_EP, CPU_EP]).name == "cuda"
    assert session.actual_choice([CPU_EP]).device == "cpu"


@pytest.mark.skipif(
    CUDA_EP in onnxruntime.get_available_providers(),
    reason="this onnxruntime has CUDA: the test needs a provider that cannot start",
)
@pytest.mark.filterwarnings("ignore:Specified provider 'CUDAExecutionProvider'")
def test_a_named_gpu_provider_that_does_not_start_is_exit_2(mlp: Path) -> None:
    # This onnxruntime has no CUDA: asking for it anyway is what a broken GPU runner looks like.
    strict = session.ProviderChoice("cuda", (CUDA_EP, CPU_EP), "cuda", strict=True)
    with pytest.raises(InputError, match="could not start CUDAExecutionProvider"):
        session.open_session(mlp, SessionSettings(provider="cuda"), strict)
    relaxed = session.ProviderChoice("cuda", (CUDA_EP, CPU_EP), "cuda", strict=False)
    sess, got = session.open_session(mlp, SessionSettings(provider="auto"), relaxed)
    assert (got.name, got.device, sess.get_providers()) == ("cpu", "cpu", [CPU_EP])


def test_session_options_are_applied() -> None:
    settings = SessionSettings(graph_optimization="basic", intra_op_threads=2, inter_op_threads=3)
    options = session.session_options(settings)
    assert options.graph_optimization_level == onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (2, 3)
    assert settings.to_dict()["intra_op_threads"] == 2


def test_unloadable_model_is_a_load_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a protobuf")
    choice = session.resolve_providers("cpu", [CPU_EP])
    with pytest.raises(session.ModelLoadError) as err:
        session.open_session(bad, SessionSettings(), choice)
    assert "Protobuf parsing failed" in str(err.value)
    assert str(tmp_path) not in str(err.value)


# --- runners -------------------------------------------------------------------------------


def test_bound_runner_on_cpu_matches_session_run(mlp: Path) -> None:
    sess = cpu_session(mlp)
    feeds = {"input": np.ones((3, 8), dtype=np.float32)}
    expected = sess.run(None, feeds)[0]
    runner = timing.bound_runner("b", sess, feeds, device="cpu")
    runner.call()
    binding = runner.keep_alive[0]
    np.testing.assert_allclose(binding.copy_outputs_to_cpu()[0], expected, rtol=1e-6)
    assert len(runner.time(5)) == 5


class RecordingBinding:
    def __init__(self, log: list[tuple[Any, ...]]) -> None:
        self.log = log

    def bind_ortvalue_input(self, name: str, value: Any) -> None:
        self.log.append(("input", name, value.device))

    def bind_output(self, name: str, device: str, device_id: int) -> None:
        self.log.append(("output", name, device, device_id))

    def bind_ortvalue_output(self, name: str, value: Any) -> None:
        self.log.append(("output-buffer", name, value))

    def synchronize_inputs(self) -> None:
        self.log.append(("sync-inputs",))

    def synchronize_outputs(self) -> None:
        self.log.append(("sync-outputs",))

    def get_outputs(self) -> list[str]:
        return ["device-buffer"]


class RecordingSession:
    def __init__(self) -> None:
        self.log: list[tuple[Any, ...]] = []
        self.binding = RecordingBinding(self.log)

    def io_binding(self) -> RecordingBinding:
        return self.binding

    def get_outputs(self) -> list[Any]:
        return [type("Arg", (), {"name": "output"})()]

    def run_with_iobinding(self, binding: Any) -> None:
        assert binding is self.binding
        self.log.append(("run",))


def test_gpu_runner_binds_on_the_device_and_synchronises(monkeypatch: pytest.MonkeyPatch) -> None:
    class DeviceValue:
        def __init__(self, array: Any, device: str, device_id: int) -> None:
            self.device = (device, device_id)

    monkeypatch.setattr(
        onnxruntime.OrtValue, "ortvalue_from_numpy", staticmethod(DeviceValue), raising=True
    )
    fake = RecordingSession()
    runner = timing.make_runner(
        "c", fake, {"input": np.zeros((1, 4), np.float32)}, "cuda", device_id=1
    )
    setup = list(fake.log)
    assert setup == [
        ("input", "input", ("cuda", 1)),
        ("output", "output", "cuda", 1),
        ("sync-inputs",),
        ("run",),
        ("sync-outputs",),
        ("output-buffer", "output", "device-buffer"),
    ]
    fake.log.clear()
    runner.time(3)
    # Every timed inference is a run on the bound buffers followed by an explicit sync.
    assert fake.log == [("run",), ("sync-outputs",)] * 3
    assert runner.device == "cuda"


def test_warm_up_settles_and_reports(mlp: Path) -> None:
    sess = cpu_session(mlp)
    runner = timing.cpu_runner("c", sess, {"input": np.ones((1, 8), np.float32)})
    warm = timing.warm_up(runner, max_s=2.0, tolerance=10.0)
    assert warm.stable and warm.runs >= 3 and len(warm.window_medians_ns) >= 3
    assert warm.to_dict()["stable"] is True


def test_runs_for_is_clamped() -> None:
    assert timing.runs_for(0.02, 10_000) == 2000
    assert timing.runs_for(0.02, 1e9) == 5
    assert timing.runs_for(0.02, 0) == 2000


# --- inputs --------------------------------------------------------------------------------


def graph(*specs: tuple[str, str, tuple[Any, ...]]) -> list[inputs.GraphInput]:
    return [inputs.GraphInput(name, kind, shape) for name, kind, shape in specs]


def test_missing_dynamic_dimension_names_input_and_dimension() -> None:
    with pytest.raises(InputError) as err:
        inputs.synthesise(graph(("input", "tensor(float)", ("batch", 8))), {}, {}, "m.onnx")
    message = str(err.value)
    assert message.startswith("m.onnx: input 'input' has a dynamic dimension 'batch' (axis 0)")
    assert "--dim batch=N" in message and "never assumes 1" in message


def test_unnamed_dynamic_dimension_is_given_as_input_axis() -> None:
    spec = graph(("x", "tensor(int64)", (None, 3)))
    with pytest.raises(InputError, match=r"--dim x:0=N"):
        inputs.synthesise(spec, {}, {}, "m.onnx")
    feeds = inputs.synthesise(spec, {"x:0": 4}, {}, "m.onnx")
    assert feeds["x"].shape == (4, 3) and feeds["x"].dtype == np.int64


def test_synthesised_inputs_are_seeded_and_typed() -> None:
    spec = graph(
        ("a", "tensor(float)", ("batch", 2)),
        ("b", "tensor(bool)", (2,)),
        ("c", "tensor(float16)", (1,)),
    )
    first = inputs.synthesise(spec, {"batch": 3}, {}, "m", seed=5)
    again = inputs.synthesise(spec, {"batch": 3}, {}, "m", seed=5)
    np.testing.assert_array_equal(first["a"], again["a"])
    assert [first[k].dtype.name for k in "abc"] == ["float32", "bool", "float16"]
    assert inputs.describe_feeds(first)[0] == {"name": "a", "dtype": "float32", "shape": [3, 2]}


def test_declared_shapes_are_checked_against_the_model() -> None:
    spec = graph(("input", "tensor(float)", (None, 8)))
    declared = {"input": inputs.InputShape(("batch", 8))}
    assert inputs.synthesise(spec, {"batch": 2}, declared, "m")["input"].shape == (2, 8)
    with pytest.raises(InputError, match="dimension 1 is 8 in the model, not 4"):
        inputs.synthesise(spec, {}, {"input": inputs.InputShape((2, 4))}, "m")
    with pytest.raises(InputError, match="has 1 dimensions but the model's input has 2"):
        inputs.synthesise(spec, {}, {"input": inputs.InputShape((2,))}, "m")
    with pytest.raises(InputError, match="says dtype int64 but the model's input is float32"):
        inputs.synthesise(
            spec, {"batch": 1}, {"input": inputs.InputShape(("batch", 8), "int64")}, "m"
        )
    with pytest.raises(InputError, match="names 'inptu', which is not an input"):
        inputs.synthesise(spec, {}, {"inptu": inputs.InputShape((1, 8))}, "m")


def test_string_inputs_need_real_data() -> None:
    with pytest.raises(InputError, match=r"tensor\(string\).*bench.npz"):
        inputs.synthesise(graph(("s", "tensor(string)", (1,))), {}, {}, "m")


def test_npz_inputs(tmp_path: Path) -> None:
    spec = graph(("input", "tensor(float)", ("batch", 8)))
    good = tmp_path / "good.npz"
    np.savez(good, input=np.ones((5, 8), np.float32))
    assert inputs.load_npz(good, spec, "good.npz")["input"].shape == (5, 8)
    np.savez(tmp_path / "other.npz", x=np.ones((5, 8), np.float32))
    with pytest.raises(InputError, match="no array 'input' \\(it has x\\)"):
        inputs.load_npz(tmp_path / "other.npz", spec, "other.npz")
    np.savez(tmp_path / "dtype.npz", input=np.ones((5, 8), np.float64))
    with pytest.raises(InputError, match="is float64 but the model wants float32"):
        inputs.load_npz(tmp_path / "dtype.npz", spec, "dtype.npz")
    np.savez(tmp_path / "shape.npz", input=np.ones((5, 3), np.float32))
    with pytest.raises(InputError, match=r"shape \[5, 3\] but the model wants \['batch', 8\]"):
        inputs.load_npz(tmp_path / "shape.npz", spec, "shape.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(InputError, match=r"^junk\.npz: cannot read the inputs file"):
        inputs.load_npz(tmp_path / "junk.npz", spec, "junk.npz")


def test_graph_inputs_from_a_real_session(mlp: Path) -> None:
    (only,) = inputs.graph_inputs(cpu_session(mlp))
    assert only == inputs.GraphInput("input", "tensor(float)", ("batch", 8))


@given(
    name=st.from_regex(r"[A-Za-z_][A-Za-z0-9_:.]{0,20}", fullmatch=True),
    value=st.integers(1, 10**6),
)
def test_dim_flags_parse(name: str, value: int) -> None:
    assert parse_dims([f"{name}={value}"]) == {name: value}


@given(text=st.text(max_size=30))
def test_dim_flags_never_crash(text: str) -> None:
    try:
        dims = parse_dims([text])
    except UsageError as exc:
        assert "NAME=VALUE" in str(exc)
    else:
        assert all(v >= 1 for v in dims.values())


# --- fingerprint ---------------------------------------------------------------------------

SMI = "NVIDIA H100 80GB HBM3, 580.159.04, 1980, 2619, 1980, 2619\n"


def test_nvidia_smi_is_parsed() -> None:
    assert fingerprint.parse_nvidia_smi(SMI) == (
        "NVIDIA H100 80GB HBM3",
        "580.159.04",
        {"sm": 1980, "memory": 2619, "max_sm": 1980, "max_memory": 2619},
    )
    assert fingerprint.parse_nvidia_smi("") is None
    assert fingerprint.parse_nvidia_smi("garbage") is None


def test_gpu_fingerprint_and_matching() -> None:
    asked: list[list[str]] = []

    def smi(argv: list[str]) -> str:
        asked.append(argv)
        return SMI

    gpu = fingerprint.collect("cuda", "intra=1,inter=1", device="cuda", device_id=2, command=smi)
    assert gpu.gpu_name == "NVIDIA H100 80GB HBM3" and asked[0][-2:] == ["-i", "2"]
    cpu = fingerprint.collect("cpu", "intra=1,inter=1")
    assert cpu.gpu_name is None and cpu.onnxruntime == onnxruntime.__version__
    assert fingerprint.differences(cpu.to_dict(), cpu.to_dict()) == []
    changed = {**cpu.to_dict(), "cpu_model": "Other CPU"}
    assert fingerprint.differences(cpu.to_dict(), changed)[0].startswith("cpu_model: 'Other CPU'")


def test_cpu_model_from_cpuinfo(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Example   CPU @ 2.0GHz\n")
    assert fingerprint.cpu_model(info) == "Example CPU @ 2.0GHz"
    assert fingerprint.cpu_model(tmp_path / "missing")
