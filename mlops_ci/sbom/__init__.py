"""CycloneDX 1.6 SBOM with an ML-BOM: software components, the model, its card and its datasets.

- :mod:`~mlops_ci.sbom.requirements` checks requirements files (errors name file and line);
- :mod:`~mlops_ci.sbom.software` runs ``cyclonedx-py`` for the software components;
- :mod:`~mlops_ci.sbom.mlbom` builds the model, ``modelCard`` and ``data`` components as JSON
  (cyclonedx-python-lib 11 has no classes for them);
- :mod:`~mlops_ci.sbom.document` assembles, validates (:mod:`~mlops_ci.sbom.schema`, jsonschema-rs) and writes;
- :mod:`~mlops_ci.sbom.diff` compares two SBOMs.
"""
