"""Execution providers and sessions: one onnxruntime ``InferenceSession`` per model.

``--provider`` names what the user wants; :func:`resolve_providers` turns it into onnxruntime's
provider list from what this onnxruntime build offers. A GPU provider that is asked for by name
and missing is an input error (exit 2); ``auto`` takes TensorRT, then CUDA, then CPU.
onnxruntime silently falls back to CPU when a GPU provider fails to initialise (missing CUDA or
cuDNN libraries): :func:`open_session` checks the providers the session really got.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from mlops_ci.errors import InputError

Provider = Literal["cpu", "cuda", "tensorrt", "auto"]
Device = Literal["cpu", "cuda"]

CPU_EP = "CPUExecutionProvider"
CUDA_EP = "CUDAExecutionProvider"
TENSORRT_EP = "TensorrtExecutionProvider"

# What each --provider value asks onnxruntime for, best first; CPU stays last as the fallback
# for operators the GPU provider does not implement.
_CHAINS: dict[str, tuple[str, ...]] = {
    "cpu": (CPU_EP,),
    "cuda": (CUDA_EP, CPU_EP),
    "tensorrt": (TENSORRT_EP, CUDA_EP, CPU_EP),
}
_OPTIMIZATION_LEVELS = {
    "disabled": "ORT_DISABLE_ALL",
    "basic": "ORT_ENABLE_BASIC",
    "extended": "ORT_ENABLE_EXTENDED",
    "all": "ORT_ENABLE_ALL",
}


class ModelLoadError(Exception):
    """onnxruntime cannot load the model; the check reports it as a finding, not a crash."""


@dataclass(frozen=True)
class SessionSettings:
    """The session options a benchmark sets, recorded with its results."""

    provider: Provider = "auto"
    graph_optimization: str = "all"
    intra_op_threads: int = 1
    inter_op_threads: int = 1
    device_id: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return asdict(self)


@dataclass(frozen=True)
class ProviderChoice:
    """The onnxruntime providers to ask for, and the device inputs and outputs live on."""

    name: str  # "cpu", "cuda" or "tensorrt": what was chosen (auto resolved)
    providers: tuple[str, ...]
    device: Device
    strict: bool = True  # False for auto: a provider that fails to start gives way to the next


def available_providers() -> list[str]:
    """The execution providers of the installed onnxruntime build."""
    import onnxruntime

    return list(onnxruntime.get_available_providers())


def tensorrt_loadable() -> bool:
    """Whether TensorRT's runtime library can be loaded in this process.

    onnxruntime-gpu lists TensorRT as available whether or not TensorRT is installed; ``auto``
    asks this first, so that a runner without TensorRT goes straight to CUDA (without
    onnxruntime's error log about the missing library).
    """
    import ctypes

    for name in ("libnvinfer.so.10", "libnvinfer.so", "nvinfer_10.dll", "nvinfer.dll"):
        try:
            ctypes.CDLL(name)
        except OSError:
            continue
        return True
    return False


def resolve_providers(
    requested: Provider, available: Sequence[str], *, tensorrt_usable: bool | None = None
) -> ProviderChoice:
    """The provider chain for ``requested``, given the ``available`` onnxruntime providers.

    With ``auto``, TensorRT is chosen only when ``tensorrt_usable`` (by default: when its
    library loads).
    """
    if requested == "auto":
        usable = set(available)
        if TENSORRT_EP in usable and not (
            tensorrt_loadable() if tensorrt_usable is None else tensorrt_usable
        ):
            usable.discard(TENSORRT_EP)
        for name in ("tensorrt", "cuda"):
            if _CHAINS[name][0] in usable:
                chain = tuple(p for p in _CHAINS[name] if p in usable)
                return ProviderChoice(name, chain, "cuda", strict=False)
        return ProviderChoice("cpu", _CHAINS["cpu"], "cpu", strict=False)
    if requested not in _CHAINS:
        raise InputError(f"unknown provider {requested!r}; use one of cpu, cuda, tensorrt, auto")
    chain = _CHAINS[requested]
    if chain[0] not in available:
        raise InputError(
            f"provider {requested!r} is not available in this onnxruntime build (it offers"
            f" {', '.join(available) or 'none'}); install onnxruntime-gpu on a GPU runner,"
            " or use --provider cpu or auto"
        )
    providers = tuple(p for p in chain if p in available)
    return ProviderChoice(requested, providers, "cpu" if requested == "cpu" else "cuda")


def session_options(settings: SessionSettings) -> Any:
    """onnxruntime ``SessionOptions`` for ``settings``."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    level = _OPTIMIZATION_LEVELS.get(settings.graph_optimization, "ORT_ENABLE_ALL")
    options.graph_optimization_level = getattr(onnxruntime.GraphOptimizationLevel, level)
    options.intra_op_num_threads = settings.intra_op_threads
    options.inter_op_num_threads = settings.inter_op_threads
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    # Silent: every error reaches the user as an exception turned into one clear line.
    options.log_severity_level = 4
    return options


def _provider_options(choice: ProviderChoice, device_id: int) -> list[dict[str, str]]:
    return [
        {"device_id": str(device_id)} if provider != CPU_EP else {} for provider in choice.providers
    ]


def open_session(
    model: Path | bytes, settings: SessionSettings, choice: ProviderChoice
) -> tuple[Any, ProviderChoice]:
    """One ``InferenceSession`` for ``model`` (a path, or the serialised model).

    Returns the session and the providers it really runs on. onnxruntime-gpu lists TensorRT
    even where TensorRT's libraries are missing, and falls back to the next provider when one
    fails to start: with ``auto`` that is accepted and recorded; a provider asked for by name
    that does not start is an :class:`InputError`. Raises :class:`ModelLoadError` when
    onnxruntime cannot load the model.
    """
    import contextlib
    import io

    import onnxruntime

    if choice.device == "cuda":
        _preload_gpu_libraries(onnxruntime)
    source = str(model) if isinstance(model, Path) else model
    # onnxruntime prints its provider fallback on standard output, which may carry a report.
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            session = onnxruntime.InferenceSession(
                source,
                sess_options=session_options(settings),
                providers=list(choice.providers),
                provider_options=_provider_options(choice, settings.device_id),
            )
        except onnxruntime_errors() as exc:
            raise ModelLoadError(describe_load_error(exc)) from None
    got = tuple(session.get_providers())
    if choice.providers[0] in got:
        return session, choice
    if choice.strict:
        raise InputError(
            f"onnxruntime could not start {choice.providers[0]} (the session runs on"
            f" {', '.join(got)}); check the CUDA, cuDNN and TensorRT libraries of this runner,"
            " or use --provider auto"
        )
    return session, actual_choice(got)


def actual_choice(providers: Sequence[str]) -> ProviderChoice:
    """The choice that describes a session running on ``providers`` (best first)."""
    for name in ("tensorrt", "cuda"):
        if _CHAINS[name][0] in providers:
            chain = tuple(p for p in _CHAINS[name] if p in providers)
            return ProviderChoice(name, chain, "cuda", strict=False)
    return ProviderChoice("cpu", (CPU_EP,), "cpu", strict=False)


def _preload_gpu_libraries(onnxruntime: Any) -> None:
    """Let onnxruntime find CUDA and cuDNN installed from pip (nvidia-* wheels)."""
    import contextlib
    import io

    preload = getattr(onnxruntime, "preload_dlls", None)
    if not callable(preload):
        return
    # preload_dlls prints its complaints; standard output may carry a JSON report.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(Exception):
        preload(directory="")


def onnxruntime_errors() -> tuple[type[BaseException], ...]:
    """The exception types onnxruntime raises for models and inputs it cannot handle."""
    from onnxruntime.capi import onnxruntime_pybind11_state as state

    names = (
        "Fail",
        "InvalidArgument",
        "NoSuchFile",
        "NoModel",
        "EngineError",
        "RuntimeException",
        "InvalidProtobuf",
        "ModelLoaded",
        "NotImplemented",
        "InvalidGraph",
        "EPFail",
    )
    found = tuple(getattr(state, name) for name in names if hasattr(state, name))
    return (*found, OSError, ValueError, RuntimeError)


def describe_load_error(exc: BaseException) -> str:
    """onnxruntime's message without its code prefix and the absolute path it quotes."""
    text = " ".join(str(exc).split()) or exc.__class__.__name__
    if text.startswith("[ONNXRuntimeError]"):
        parts = text.split(" : ", 3)
        text = parts[-1] if len(parts) == 4 else text
    if " failed:" in text and text.startswith("Load model from "):
        text = text.split(" failed:", 1)[1]
    if " Status Message: " in text:
        # "... running Reshape node. Name:'x' Status Message: /src/file.h:91 fn(args) what"
        head, _, message = text.partition(" Status Message: ")
        message = re.sub(r"^\S+:\d+ \S+?\(.*?\)\s+", "", message)
        text = f"{head}: {message}"
    return text[:400]
