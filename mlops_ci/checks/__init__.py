"""The registered checks, by name. A check's module is imported when the check is first looked
up, so a command that runs one check (``check --only card``) imports that check alone."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlops_ci.checks.base import Check

# Name, module and class of every check, in the stable order reports list them.
CHECKS: tuple[tuple[str, str, str], ...] = (
    ("card", "mlops_ci.checks.card", "CardCheck"),
    ("onnx-model", "mlops_ci.checks.onnx_model", "OnnxModelCheck"),
    ("deps", "mlops_ci.checks.deps", "DepsCheck"),
    ("sast", "mlops_ci.checks.sast", "SastCheck"),
    ("artifacts", "mlops_ci.checks.artifacts", "ArtifactsCheck"),
    ("bench", "mlops_ci.checks.bench", "BenchCheck"),
    ("eval", "mlops_ci.checks.eval", "EvalCheck"),
    ("sbom", "mlops_ci.checks.sbom", "SbomCheck"),
    ("signature", "mlops_ci.checks.signature", "SignatureCheck"),
    ("policy", "mlops_ci.checks.policy", "PolicyCheck"),
)


class Registry(Mapping[str, "Check"]):
    """Every check by name; iterating gives the names without importing any check module,
    looking one up imports its module and builds the check once."""

    def __init__(self) -> None:
        self._where = {name: (module, cls) for name, module, cls in CHECKS}
        self._built: dict[str, Check] = {}
        self._lock = threading.Lock()  # the runner's worker threads may look checks up

    def __getitem__(self, name: str) -> Check:
        """The check called ``name`` (KeyError when there is none)."""
        with self._lock:
            check = self._built.get(name)
            if check is None:
                module, cls = self._where[name]
                check = getattr(importlib.import_module(module), cls)()
                self._built[name] = check
            return check

    def __contains__(self, name: object) -> bool:
        """Whether a check is called ``name``; imports nothing (Mapping's would look it up)."""
        return name in self._where

    def __iter__(self) -> Iterator[str]:
        """The check names, in registry order."""
        return iter(self._where)

    def __len__(self) -> int:
        """How many checks there are."""
        return len(self._where)


def registry() -> Mapping[str, Check]:
    """Every check by name, in a stable order (modules imported on lookup)."""
    return Registry()
