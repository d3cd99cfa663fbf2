"""Models and their evidence in OCI registries (CNCF ModelPack artifacts, OCI 1.1 referrers).

The functions other commands (promotion, fetch) call:

- :func:`~mlops_ci.oci.reference.parse_reference` — ``oci://HOST[:PORT]/REPO[:TAG][@DIGEST]``;
- :func:`~mlops_ci.oci.push.push_model` — pack a configured, signed model and push it with its
  evidence as referrers; returns a :class:`~mlops_ci.oci.push.PushedArtifact`;
- :func:`~mlops_ci.oci.pull.pull_artifact` — an artifact and its evidence into a new directory,
  every blob digest-checked, atomically; returns a :class:`~mlops_ci.oci.pull.PulledArtifact`;
- :func:`~mlops_ci.oci.verify.verify_artifact` — pull into a scratch directory and verify the
  signature, attestation and SBOM bundle under a
  :class:`~mlops_ci.signing.policy.VerificationPolicy`.

Importing this package imports neither oras-py nor requests: the modules that talk to a
registry import them when a registry is used (``mlops-ci --version`` and ``check`` never do).
"""
