"""Uploading a SARIF file to GitHub code scanning through the REST API.

The check action used ``github/codeql-action/upload-sarif``; a composite action's ``uses:`` is
fetched even when its ``if:`` is false (act does so, and GitHub Enterprise Server may not mirror
that action), so the upload is mlops-ci's own: ``POST /repos/{owner}/{repo}/code-scanning/sarifs``
with the SARIF gzip-compressed and base64-encoded, ``commit_sha`` and ``ref``, as GitHub documents.
The category goes where codeql-action puts it: ``runs[].automationDetails.id`` (``CATEGORY/``).
"""

from __future__ import annotations

import base64
import gzip
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlops_ci.errors import InputError
from mlops_ci.forge.http import ApiClient

#: GitHub rejects an upload whose gzip-compressed SARIF is over 10 MB.
MAX_GZIP_BYTES = 10 * 1024 * 1024
_SHA = re.compile(r"^[0-9a-f]{40}$")
_CATEGORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")
#: The scope the upload needs, for the error messages of the API client.
PERMISSION = (
    "the security-events: write permission (and code scanning enabled for private repositories)"
)


@dataclass(frozen=True)
class SarifUpload:
    """One upload: the repository, the commit and ref it is about, and the SARIF text."""

    repository: str
    commit_sha: str
    ref: str
    sarif: str
    category: str | None = None


def upload_target(environ: Mapping[str, str], sarif: str, category: str | None) -> SarifUpload:
    """The upload for this GitHub Actions run (``GITHUB_REPOSITORY``, ``GITHUB_SHA``,
    ``GITHUB_REF``); InputError names the variable that is missing or malformed."""
    repository = environ.get("GITHUB_REPOSITORY", "")
    commit_sha = environ.get("GITHUB_SHA", "")
    ref = environ.get("GITHUB_REF", "")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repository):
        raise InputError("GITHUB_REPOSITORY is not set to owner/name: run this in GitHub Actions")
    if not _SHA.match(commit_sha):
        raise InputError("GITHUB_SHA is not a full commit SHA: run this in GitHub Actions")
    if not ref.startswith("refs/"):
        raise InputError(
            "GITHUB_REF is not a full ref (refs/heads/...): run this in GitHub Actions"
        )
    if category is not None and not _CATEGORY.match(category):
        raise InputError(
            "the SARIF category must be letters, digits, '.', '_', '-' or '/' (at most 200)"
        )
    return SarifUpload(repository, commit_sha, ref, sarif, category)


def with_category(sarif: str, category: str | None) -> str:
    """The SARIF text with ``automationDetails.id`` set to ``CATEGORY/`` on every run (what
    codeql-action's ``category`` does), so uploads of several jobs do not replace each other."""
    try:
        document: Any = json.loads(sarif)
    except ValueError:
        raise InputError(
            "the SARIF file is not JSON: upload what 'check --format sarif' wrote"
        ) from None
    runs = document.get("runs") if isinstance(document, dict) else None
    if not isinstance(runs, list) or not runs:
        raise InputError("the SARIF file has no runs: upload what 'check --format sarif' wrote")
    if category is None:
        return sarif
    for run in runs:
        if isinstance(run, dict):
            run["automationDetails"] = {**run.get("automationDetails", {}), "id": f"{category}/"}
    return json.dumps(document, separators=(",", ":"))


def encode(sarif: str) -> str:
    """gzip, then base64, as the endpoint wants; InputError when GitHub would refuse the size."""
    compressed = gzip.compress(sarif.encode("utf-8"), mtime=0)
    if len(compressed) > MAX_GZIP_BYTES:
        raise InputError(
            f"the SARIF file is {len(compressed)} bytes gzip-compressed; GitHub accepts at most"
            f" {MAX_GZIP_BYTES}: check fewer models per upload"
        )
    return base64.b64encode(compressed).decode("ascii")


def upload_sarif(api: ApiClient, upload: SarifUpload) -> str:
    """POST the SARIF; return the id GitHub gave the upload (empty when it gave none)."""
    body = {
        "commit_sha": upload.commit_sha,
        "ref": upload.ref,
        "sarif": encode(with_category(upload.sarif, upload.category)),
        "tool_name": "mlops-ci",
    }
    data = api.request("POST", f"repos/{upload.repository}/code-scanning/sarifs", json=body)
    return str(data.get("id", "")) if isinstance(data, dict) else ""
