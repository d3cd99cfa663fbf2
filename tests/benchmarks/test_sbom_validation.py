"""Strict validation of a 300-package CycloneDX 1.6 SBOM takes at most 0.5 s (issue 16).

The document is generated here (no network): 300 library components, each with a purl, a
license, two hashes and three external-reference URLs, plus their dependency graph. The figure is
the median of several ``document.validate`` calls after one warm-up; building the validator
(in a fresh process, import included) is printed apart.

Run with ``pytest tests/benchmarks/test_sbom_validation.py --benchmarks -s``.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import subprocess
import sys
import time
from typing import Any

from mlops_ci.sbom import document

PACKAGES = 300
RUNS = 7
LIMIT_S = 0.5
LICENSES = ("MIT", "Apache-2.0", "BSD-3-Clause", "ISC", "PSF-2.0")


def _component(index: int) -> dict[str, Any]:
    name = f"package-{index:03d}"
    version = f"{index % 7}.{index % 13}.{index}"
    purl = f"pkg:pypi/{name}@{version}"
    digest = hashlib.sha256(purl.encode()).hexdigest()
    return {
        "type": "library",
        "bom-ref": purl,
        "name": name,
        "version": version,
        "description": f"Package number {index}, with a ü to keep the text non-ASCII",
        "purl": purl,
        "licenses": [{"license": {"id": LICENSES[index % len(LICENSES)]}}],
        "hashes": [
            {"alg": "SHA-256", "content": digest},
            {"alg": "SHA-512", "content": hashlib.sha512(purl.encode()).hexdigest()},
        ],
        "externalReferences": [
            {"type": "website", "url": f"https://{name}.example.org/docs/{version}/"},
            {"type": "vcs", "url": f"git+https://github.com/example/{name}.git#v{version}"},
            {
                "type": "distribution",
                "url": f"https://files.example.org/{digest[:2]}/{name}-{version}.tar.gz",
                "hashes": [{"alg": "SHA-256", "content": digest}],
            },
        ],
    }


def sbom_text(packages: int = PACKAGES) -> str:
    """A rendered CycloneDX 1.6 document of ``packages`` library components."""
    components = [_component(i) for i in range(packages)]
    graph = [
        {"ref": c["bom-ref"], "dependsOn": [components[(i + 1) % packages]["bom-ref"]]}
        for i, c in enumerate(components)
    ]
    bom = {
        "$schema": document.SCHEMA_URL,
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {
            "timestamp": "2026-12-03T06:00:00Z",
            "tools": {"components": [{"type": "application", "name": "mlops-ci", "version": "0"}]},
        },
        "components": components,
        "dependencies": graph,
    }
    return document.render(bom)


def test_strict_validation_of_300_packages_within_half_a_second() -> None:
    text = sbom_text()
    assert len(json.loads(text)["components"]) == PACKAGES
    build = subprocess.run(
        [
            sys.executable,
            "-c",
            "import time; t = time.perf_counter();"
            " from mlops_ci.sbom.schema import bom_validator; bom_validator();"
            " print(time.perf_counter() - t)",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    document.validate(text)  # warm-up: builds the validator in this process
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        document.validate(text)
        samples.append(time.perf_counter() - start)
    median = statistics.median(samples)
    print(
        f"\nstrict validation of a {PACKAGES}-package SBOM ({len(text) // 1024} KiB):"
        f" median {median * 1000:.1f} ms of {RUNS}"
        f" (min {min(samples) * 1000:.1f}, max {max(samples) * 1000:.1f});"
        f" building the validator in a fresh process (imports included):"
        f" {float(build.stdout) * 1000:.1f} ms"
    )
    assert median <= LIMIT_S
