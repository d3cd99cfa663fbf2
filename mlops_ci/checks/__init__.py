"""The registered checks. Importing this package is cheap: checks import heavy libraries lazily."""

from __future__ import annotations

from mlops_ci.checks.artifacts import ArtifactsCheck
from mlops_ci.checks.base import Check
from mlops_ci.checks.bench import BenchCheck
from mlops_ci.checks.card import CardCheck
from mlops_ci.checks.deps import DepsCheck
from mlops_ci.checks.eval import EvalCheck
from mlops_ci.checks.onnx_model import OnnxModelCheck
from mlops_ci.checks.policy import PolicyCheck
from mlops_ci.checks.sast import SastCheck
from mlops_ci.checks.sbom import SbomCheck
from mlops_ci.checks.signature import SignatureCheck


def registry() -> dict[str, Check]:
    """Every check by name, in a stable order."""
    checks: list[Check] = [
        CardCheck(),
        OnnxModelCheck(),
        DepsCheck(),
        SastCheck(),
        ArtifactsCheck(),
        BenchCheck(),
        EvalCheck(),
        SbomCheck(),
        SignatureCheck(),
        PolicyCheck(),
    ]
    return {check.name: check for check in checks}
