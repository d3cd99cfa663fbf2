"""The timed loops, and the warm-up that runs until timings are stable.

On CPU one inference is ``session.run`` with the output names fixed in advance, timed with
``time.perf_counter_ns`` and nothing else inside the timed region. On GPU, inputs are copied to
the device once and bound with IO binding, outputs are bound to device buffers that are reused,
and each timed inference is ``run_with_iobinding`` followed by an explicit
``synchronize_outputs``: no host copy is timed and no asynchronous work escapes the timer.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Progress = Callable[[str, float], None]
"""A progress callback: a short message and the fraction of the time budget used (0..1)."""

WINDOW_TARGET_S = 0.02
BLOCK_TARGET_S = 0.02


@dataclass(frozen=True)
class Runner:
    """One synchronised inference of one model, ready to be timed: ``fn(*args)``.

    The function and its arguments are kept apart rather than wrapped in a ``functools.partial``
    because the wrapper alone costs ~2% of a 10 µs inference.
    """

    label: str
    fn: Callable[..., object]
    args: tuple[Any, ...] = ()
    device: str = "cpu"
    keep_alive: tuple[Any, ...] = ()  # device buffers the binding points at

    def call(self) -> object:
        """Run one inference."""
        return self.fn(*self.args)

    def time(self, count: int) -> list[int]:
        """``count`` timed inferences, nanoseconds each."""
        return time_runs(self.fn, count, self.args)


def cpu_runner(label: str, session: Any, feeds: Mapping[str, Any]) -> Runner:
    """``session.run`` with fixed output names and inputs: what a bare timing loop would call."""
    names = [output.name for output in session.get_outputs()]
    return Runner(label, session.run, (names, dict(feeds)), "cpu")


def bound_runner(
    label: str, session: Any, feeds: Mapping[str, Any], device: str = "cuda", device_id: int = 0
) -> Runner:
    """IO binding with inputs and outputs on ``device`` and explicit synchronisation.

    The first run allocates the outputs on the device; they are then bound as pre-allocated
    buffers so that timed runs neither allocate nor copy to the host.
    """
    import onnxruntime

    binding = session.io_binding()
    values = []
    for name, array in feeds.items():
        value = onnxruntime.OrtValue.ortvalue_from_numpy(array, device, device_id)
        values.append(value)
        binding.bind_ortvalue_input(name, value)
    outputs = [output.name for output in session.get_outputs()]
    for name in outputs:
        binding.bind_output(name, device, device_id)
    binding.synchronize_inputs()
    session.run_with_iobinding(binding)
    binding.synchronize_outputs()
    produced = binding.get_outputs()
    for name, value in zip(outputs, produced, strict=True):
        binding.bind_ortvalue_output(name, value)
    run = session.run_with_iobinding
    synchronise = binding.synchronize_outputs

    def call() -> None:
        run(binding)
        synchronise()

    return Runner(label, call, (), device, (binding, *values, *produced))


def make_runner(
    label: str, session: Any, feeds: Mapping[str, Any], device: str, device_id: int = 0
) -> Runner:
    """The runner for ``device``: plain ``session.run`` on CPU, IO binding on GPU."""
    if device == "cpu":
        return cpu_runner(label, session, feeds)
    return bound_runner(label, session, feeds, device, device_id)


def time_runs(fn: Callable[..., object], count: int, args: tuple[Any, ...] = ()) -> list[int]:
    """``count`` calls of ``fn(*args)``, each timed alone with ``perf_counter_ns``; nanoseconds."""
    clock = time.perf_counter_ns
    samples = [0] * count
    for index in range(count):
        start = clock()
        fn(*args)
        samples[index] = clock() - start
    return samples


def runs_for(seconds: float, per_run_ns: float, low: int = 5, high: int = 2000) -> int:
    """How many runs of ``per_run_ns`` fill ``seconds``, clamped to ``[low, high]``."""
    if per_run_ns <= 0:
        return high
    return max(low, min(high, round(seconds * 1e9 / per_run_ns)))


@dataclass(frozen=True)
class WarmUp:
    """How a warm-up went: runs, time, whether timings settled, each window's median (ns)."""

    runs: int
    seconds: float
    stable: bool
    window_medians_ns: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "runs": self.runs,
            "seconds": round(self.seconds, 4),
            "stable": self.stable,
            "window_medians_ns": [round(m) for m in self.window_medians_ns],
        }


def warm_up(
    runner: Runner,
    max_s: float,
    *,
    tolerance: float = 0.05,
    windows: int = 3,
    progress: Progress | None = None,
) -> WarmUp:
    """Run until the medians of the last ``windows`` windows agree within ``tolerance``.

    The first call (lazy initialisation, kernel selection, TensorRT engine build) is never timed
    as a sample. Stops at ``max_s`` even when timings never settle, and says so.
    """
    began = time.perf_counter()
    runner.call()
    runs = 1
    estimate = float(runner.time(1)[0])
    runs += 1
    medians: list[float] = []
    stable = False
    while time.perf_counter() - began < max_s:
        samples = runner.time(runs_for(WINDOW_TARGET_S, estimate))
        runs += len(samples)
        estimate = statistics.median(samples)
        medians.append(estimate)
        recent = medians[-windows:]
        if len(recent) == windows and max(recent) <= min(recent) * (1 + tolerance):
            stable = True
            break
        if progress is not None:
            progress("warming up", 0.0)
    return WarmUp(runs, time.perf_counter() - began, stable, tuple(medians))
