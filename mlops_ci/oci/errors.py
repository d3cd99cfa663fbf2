"""What can go wrong with an OCI registry, and the exit code each failure gives.

- :class:`OciError` (exit 2): the command line or the model cannot be used as asked (a malformed
  ``oci://`` reference, a destination that already holds files, a model that is not signed).
- :class:`RegistryError` (exit 1): the registry failed (unreachable, 5xx, credentials refused, a
  transfer cut off). The message names the operation and the registry, never a URL with its
  upload state, a token or a password.
- :class:`ArtifactError` (exit 1): what the registry sent does not match what was asked for (a
  blob whose digest or size differs, a manifest that is not a ModelPack model, a file path that
  would leave the destination): fail closed.
"""

from __future__ import annotations

from mlops_ci.errors import MlopsCiError


class OciError(MlopsCiError):
    """Pushing, pulling or verifying an OCI artifact cannot start: bad input (exit 2)."""


class RegistryError(OciError):
    """The registry did not do what was asked (exit 1): the message says what and where."""

    exit_code = 1


class ArtifactError(OciError):
    """The registry's content does not match its digests or is not a model artifact (exit 1)."""

    exit_code = 1
