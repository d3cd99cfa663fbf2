"""The environment a measurement belongs to.

Absolute latencies only compare on the same hardware and software: a stored result is used as a
baseline only when the fields of :data:`MATCH_FIELDS` are equal. GPU details come from
``nvidia-smi`` (name, driver, current and maximum clocks) when the run uses a GPU.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

MATCH_FIELDS = (
    "cpu_model",
    "cpu_count",
    "machine",
    "gpu_name",
    "gpu_driver",
    "onnxruntime",
    "provider",
    "python",
    "threads",
)
_GPU_QUERY = "name,driver_version,clocks.sm,clocks.mem,clocks.max.sm,clocks.max.mem"


@dataclass(frozen=True)
class Fingerprint:
    """CPU, GPU, onnxruntime, Python and thread settings of one measurement."""

    cpu_model: str
    cpu_count: int
    cpu_affinity: int
    machine: str
    system: str
    python: str
    onnxruntime: str
    providers_available: tuple[str, ...]
    provider: str
    threads: str
    gpu_name: str | None = None
    gpu_driver: str | None = None
    gpu_clocks_mhz: Mapping[str, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        data = asdict(self)
        data["providers_available"] = list(self.providers_available)
        data["gpu_clocks_mhz"] = dict(self.gpu_clocks_mhz) if self.gpu_clocks_mhz else None
        return data


def differences(ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> list[str]:
    """The matching fields on which two fingerprints (JSON forms) differ, as ``a: x != y``."""
    return [
        f"{name}: {theirs.get(name)!r} != {ours.get(name)!r}"
        for name in MATCH_FIELDS
        if ours.get(name) != theirs.get(name)
    ]


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU's model name (Linux), else what ``platform`` says."""
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware") and value.strip():
                return " ".join(value.split())
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def parse_nvidia_smi(text: str) -> tuple[str, str, dict[str, int]] | None:
    """Name, driver and clocks from one line of ``nvidia-smi --query-gpu=... csv,noheader``."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    parts = [p.strip() for p in line.split(",")]
    if len(parts) != 6:
        return None
    clocks: dict[str, int] = {}
    for key, value in zip(("sm", "memory", "max_sm", "max_memory"), parts[2:], strict=True):
        digits = value.split()[0] if value else ""
        if digits.isdigit():
            clocks[key] = int(digits)
    return parts[0], parts[1], clocks


Command = Callable[[list[str]], str]


def _run_command(argv: list[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    return done.stdout if done.returncode == 0 else ""


def gpu_details(device_id: int, command: Command | None = None) -> tuple[str, str, dict[str, int]]:
    """Name, driver and clocks of GPU ``device_id``; unknowns when nvidia-smi cannot tell."""
    if command is None:
        if shutil.which("nvidia-smi") is None:
            return ("unknown (no nvidia-smi)", "unknown", {})
        command = _run_command
    argv = [
        "nvidia-smi",
        f"--query-gpu={_GPU_QUERY}",
        "--format=csv,noheader,nounits",
        "-i",
        str(device_id),
    ]
    try:
        parsed = parse_nvidia_smi(command(argv))
    except (OSError, subprocess.SubprocessError):
        parsed = None
    return parsed or ("unknown", "unknown", {})


def collect(
    provider: str,
    threads: str,
    *,
    device: str = "cpu",
    device_id: int = 0,
    command: Command | None = None,
) -> Fingerprint:
    """The fingerprint of this machine for a run on ``provider`` with ``threads``."""
    import onnxruntime

    gpu_name = gpu_driver = None
    clocks: dict[str, int] | None = None
    if device != "cpu":
        gpu_name, gpu_driver, clocks = gpu_details(device_id, command)
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
    return Fingerprint(
        cpu_model=cpu_model(),
        cpu_count=os.cpu_count() or 0,
        cpu_affinity=affinity,
        machine=platform.machine(),
        system=platform.system(),
        python=platform.python_version(),
        onnxruntime=str(onnxruntime.__version__),
        providers_available=tuple(onnxruntime.get_available_providers()),
        provider=provider,
        threads=threads,
        gpu_name=gpu_name,
        gpu_driver=gpu_driver,
        gpu_clocks_mhz=clocks,
    )
