"""The demo's signing step: sign with the key ``create_demo`` generated, then verify."""

from __future__ import annotations

import os
from pathlib import Path

from mlops_ci.signing.release import SignOutcome, VerifyLine

REPORT = "reports/mlops-ci.json"


def sign_demo(target: Path) -> SignOutcome:
    """``mlops-ci sign`` in the demo repository (key mode, with its own key)."""
    from mlops_ci.signing.modes import signing_inputs
    from mlops_ci.signing.release import sign_release
    from mlops_ci.signing.targets import load_signing_config, release_targets

    environ = dict(os.environ)
    loaded = load_signing_config(cwd=target, environ=environ)
    inputs = signing_inputs(loaded, environ, mode="key")
    return sign_release(loaded, release_targets(loaded), inputs, environ)


def verify_demo(target: Path) -> list[VerifyLine]:
    """``mlops-ci verify`` in the demo repository (against its committed public key)."""
    from mlops_ci.signing.policy import policy_from_config
    from mlops_ci.signing.release import verify_release
    from mlops_ci.signing.targets import load_signing_config, release_targets

    loaded = load_signing_config(cwd=target)
    return verify_release(loaded, release_targets(loaded), policy_from_config(loaded))
