"""Where signatures, bundles and attestations live, beside the files they sign.

Conventions (a contract with users' CI scripts and with promotion state files):

- a model ``PATH`` (file or directory) is signed into ``PATH.sig`` (an OpenSSF Model Signing
  bundle), unless ``--signature`` says otherwise;
- its gate-report attestation goes beside that signature: ``PATH.attestation.sigstore.json``
  (``X.sig`` gives ``X.attestation.sigstore.json``);
- any other file ``F`` (the SBOM, the JSON report) gets ``F.sigstore.json``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

SIGNATURE_SUFFIX = ".sig"
BUNDLE_SUFFIX = ".sigstore.json"
ATTESTATION_SUFFIX = ".attestation" + BUNDLE_SUFFIX


def _beside(path: Path, suffix: str) -> Path:
    path = Path(path)
    return path.with_name(path.name + suffix)


def signature_path(model_path: Path) -> Path:
    """The default OMS signature of a model file or directory: ``PATH.sig``."""
    return _beside(model_path, SIGNATURE_SUFFIX)


def attestation_path(signature: Path) -> Path:
    """The gate-report attestation that goes with a model signature."""
    name = signature.name.removesuffix(SIGNATURE_SUFFIX)
    return signature.with_name(name + ATTESTATION_SUFFIX)


def bundle_path(file: Path) -> Path:
    """The sigstore bundle of a single file: ``FILE.sigstore.json``."""
    return _beside(file, BUNDLE_SUFFIX)


def find_signature(path: Path) -> Path:
    """The signature to verify ``path`` with when none is named: ``.sig``, else ``.sigstore.json``.

    Returns the ``.sig`` path when neither exists, so the failure names the conventional file.
    """
    for candidate in (signature_path(path), bundle_path(path)):
        if candidate.is_file():
            return candidate
    return signature_path(path)


def inside(model_path: Path, paths: Iterable[Path]) -> list[Path]:
    """The ``paths`` that lie inside the model directory, relative to it (for ignore lists)."""
    if not model_path.is_dir():
        return []
    root = model_path.resolve()
    found = []
    for path in paths:
        try:
            found.append(path.resolve().relative_to(root))
        except ValueError:
            continue
    return found
