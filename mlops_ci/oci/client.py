"""One repository on one registry: blobs, manifests and referrers, streamed to and from disk.

Built on oras-py's pieces (its auth backends answer the registry's challenge: HTTP Basic, or the
bearer-token exchange with the credentials of :mod:`mlops_ci.oci.auth`), but not on its
``Registry.push``/``pull``/``do_request``, because those:

- retry every failure (connection refused, HTTP 500, a 401) five times, sleeping 3 to 83 s
  between tries, so a dead registry takes minutes to report;
- send requests without a timeout, so a stalled registry hangs the command for ever;
- read a whole blob into memory for a monolithic upload (``put_upload``: ``fd.read()``) and
  download without checking the digest (``download_blob``);
- log registry messages on stderr themselves.

So requests go through one ``requests`` session with a timeout; a 401 is answered once through
oras-py's auth backend, and the answer (a Basic header or a bearer token) is sent with every later
request, so a streamed upload body never has to be sent twice. Every failure is one
:class:`RegistryError` naming the operation and the registry, never a URL (upload URLs carry
session state), a header or a credential.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from mlops_ci.oci.auth import load_credentials, quiet_oras_logging
from mlops_ci.oci.errors import ArtifactError, RegistryError
from mlops_ci.oci.modelpack import (
    ACCEPTED_MANIFESTS,
    MAX_MANIFEST_BYTES,
    Descriptor,
    sha256_digest,
)
from mlops_ci.oci.reference import OciReference

CHUNK_BYTES = 1 << 20
Progress = Callable[[int], None]
_ERROR_CODE = re.compile(r"^[A-Z_]{1,40}$")


@dataclass(frozen=True)
class RegistryOptions:
    """How to talk to a registry: ``plain_http`` opts a non-loopback registry out of HTTPS;
    ``workers`` blobs move at once; ``timeout_s`` bounds each wait for the registry;
    ``environ`` holds the credential variables (default: ``os.environ``)."""

    plain_http: bool = False
    workers: int = 4
    timeout_s: float = 60.0
    environ: Mapping[str, str] | None = None


class _CountingReader:
    """A file read in chunks by ``requests`` for a streamed upload, reporting progress."""

    def __init__(self, handle: IO[bytes], size: int, progress: Progress | None) -> None:
        self._handle, self._size, self._progress = handle, size, progress

    def __len__(self) -> int:
        return self._size

    def read(self, amount: int = -1) -> bytes:
        """The next block of the file (at least 1 MiB unless at its end)."""
        # urllib3 asks for 16 KiB at a time; sending 1 MiB blocks instead (more than asked is
        # fine for a request body) cuts the Python calls per GiB from 65,536 to 1,024.
        data = self._handle.read(max(amount, CHUNK_BYTES) if amount and amount > 0 else CHUNK_BYTES)
        if data and self._progress is not None:
            self._progress(len(data))
        return data

    def __iter__(self) -> Iterator[bytes]:
        while data := self.read(CHUNK_BYTES):
            yield data


def _error_code(response: Any) -> str:
    """``, CODE`` from a registry's JSON error document (codes only: messages may echo input)."""
    try:
        errors = response.json().get("errors") or []
        first = str(errors[0].get("code", "")) if errors else ""
    except Exception:  # not the registry's JSON error document: the status says enough
        return ""
    return f", {first}" if _ERROR_CODE.match(first) else ""


class RegistryClient:
    """Blobs, manifests and referrers of ``reference.repository`` on ``reference.registry``."""

    def __init__(self, reference: OciReference, options: RegistryOptions | None = None) -> None:
        import oras.auth

        from mlops_ci.oci.session import bounded_session

        quiet_oras_logging()
        self.reference = reference
        self.options = options or RegistryOptions()
        scheme = reference.scheme(self.options.plain_http)
        self._root = f"{scheme}://{reference.registry}"
        self._base = f"{self._root}/v2/{reference.repository}"
        # Bounded: oras-py's token exchange uses this session and sets no timeout of its own.
        self._session = bounded_session((10, self.options.timeout_s))
        self._auth: Any = oras.auth.get_auth_backend("token", self._session, scheme == "http")
        environ = os.environ if self.options.environ is None else self.options.environ
        self._has_credentials = load_credentials(self._auth, reference, environ)
        self._authorization: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def registry(self) -> str:
        """The registry's ``host[:port]``, as messages name it."""
        return self.reference.registry

    # -- requests -------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        target: str,
        *,
        what: str,
        headers: Mapping[str, str] | None = None,
        data: bytes | _CountingReader | None = None,
        stream: bool = False,
        ok: Sequence[int] = (200,),
    ) -> Any:
        """Send one request (``target``: a path under ``/v2/<repository>`` or a full URL) and
        return the response when its status is in ``ok``; anything else is one
        :class:`RegistryError`. A 401 is answered once, unless the body is a streamed file."""
        import requests

        url = target if target.startswith(("http://", "https://")) else self._base + target
        for attempt in (1, 2):
            sent = {**(headers or {}), **self._authorization}
            try:
                response = self._session.request(
                    method,
                    url,
                    headers=sent,
                    data=data,
                    stream=stream,
                    timeout=(10, self.options.timeout_s),  # the session's default, said here
                )
            except requests.exceptions.Timeout:
                raise RegistryError(
                    f"{what}: registry {self.registry} did not answer within"
                    f" {self.options.timeout_s:g} s"
                ) from None
            except requests.exceptions.RequestException as exc:
                raise RegistryError(f"{what}: {self._connection_problem(exc)}") from None
            replayable = not isinstance(data, _CountingReader)
            if (
                response.status_code == 401
                and attempt == 1
                and replayable
                and self._answer_challenge(response, sent.get("Authorization"))
            ):
                response.close()
                continue
            break
        if response.status_code in ok:
            return response
        raise self._failure(what, response)

    def _answer_challenge(self, response: Any, sent: str | None) -> bool:
        """Answer a 401 with oras-py's auth backend; True when there is something to retry with.

        Blobs move in parallel: when another thread answered the challenge meanwhile, its answer
        is retried (one token exchange per command, not one per blob).
        """
        challenge = response.headers.get("Www-Authenticate", "")
        basic = getattr(self._auth, "_basic_auth", None)  # oras-py keeps "user:pass" base64 there
        with self._lock:
            if self._authorization and self._authorization.get("Authorization") != sent:
                return True
            if challenge.lower().startswith("basic"):
                if not basic:
                    return False
                self._authorization = {"Authorization": f"Basic {basic}"}
                return True
            try:
                headers, changed = self._auth.authenticate_request(response, {}, refresh=True)
            except Exception:  # oras-py's token exchange: a realm that cannot be reached, bad JSON
                return False
            if not changed or "Authorization" not in headers:
                return False
            self._authorization = {"Authorization": str(headers["Authorization"])}
            return True

    def _connection_problem(self, exc: BaseException) -> str:
        text = repr(exc)
        if "Connection refused" in text or "ConnectionRefused" in text:
            return f"cannot connect to registry {self.registry} (connection refused)"
        if "NameResolution" in text or "Name or service not known" in text:
            return f"cannot resolve registry host {self.reference.host}"
        if "SSLError" in text or "CERTIFICATE" in text:
            return (
                f"TLS to registry {self.registry} failed (certificate not trusted, or the registry"
                " speaks plain HTTP: use --plain-http for a registry you trust on your network)"
            )
        if any(s in text for s in ("Connection aborted", "RemoteDisconnected", "reset", "Broken")):
            return f"registry {self.registry} closed the connection mid-transfer"
        return f"the connection to registry {self.registry} failed ({exc.__class__.__name__})"

    def _failure(self, what: str, response: Any) -> RegistryError:
        status = response.status_code
        code = _error_code(response)
        response.close()
        where = f"registry {self.registry}"
        if status == 401:
            if not self._has_credentials:
                return RegistryError(
                    f"{what}: {where} requires credentials (HTTP 401); set"
                    " MLOPS_CI_REGISTRY_USERNAME and MLOPS_CI_REGISTRY_PASSWORD, or docker login"
                )
            return RegistryError(f"{what}: {where} refused the credentials (HTTP 401{code})")
        if status == 403:
            return RegistryError(f"{what}: {where} denied access (HTTP 403{code})")
        if status == 404:
            return RegistryError(f"{what}: not found on {where} (HTTP 404{code})")
        if status >= 500:
            return RegistryError(f"{what}: {where} failed (HTTP {status}{code}); try again later")
        return RegistryError(f"{what}: {where} answered HTTP {status}{code}")

    # -- blobs ----------------------------------------------------------------------------------

    def blob_exists(self, digest: str, *, what: str) -> bool:
        """Whether the repository already holds blob ``digest`` (HEAD)."""
        response = self.request("HEAD", f"/blobs/{digest}", what=what, ok=(200, 404))
        response.close()
        return bool(response.status_code == 200)

    def _upload_location(self, what: str) -> str:
        response = self.request(
            "POST",
            "/blobs/uploads/",
            what=what,
            headers={"Content-Length": "0"},
            ok=(202,),
        )
        location = str(response.headers.get("Location", ""))
        response.close()
        if not location:
            raise RegistryError(f"{what}: registry {self.registry} gave no upload location")
        joined = urllib.parse.urljoin(self._root + "/", location)
        separator = "&" if "?" in joined else "?"
        return joined + separator

    def upload_blob(
        self,
        source: Path | bytes,
        digest: str,
        size: int,
        *,
        what: str,
        progress: Progress | None = None,
    ) -> bool:
        """Upload a blob (a file, streamed, or bytes) unless the registry has it already.

        Returns whether it was sent. The registry checks the digest it is given (a file changed
        since it was hashed is refused, HTTP 400 DIGEST_INVALID).
        """
        if self.blob_exists(digest, what=what):
            if progress is not None:
                progress(size)
            return False
        # Starting the session answers any challenge first, so the body goes once.
        location = self._upload_location(what)
        target = location + urllib.parse.urlencode({"digest": digest})
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        if isinstance(source, bytes):
            self.request("PUT", target, what=what, headers=headers, data=source, ok=(201,))
            return True
        with source.open("rb") as handle:
            body = _CountingReader(handle, size, progress)
            self.request("PUT", target, what=what, headers=headers, data=body, ok=(201,))
        return True

    def download_blob(
        self,
        descriptor: Descriptor,
        destination: Path,
        *,
        what: str,
        progress: Progress | None = None,
    ) -> None:
        """Stream blob ``descriptor`` into a new file, checking its size and digest as it comes.

        Never more than ``descriptor.size`` bytes are written; a mismatch is an
        :class:`ArtifactError` and the partial file is left for the caller's cleanup.
        """
        import requests

        response = self.request("GET", f"/blobs/{descriptor.digest}", what=what, stream=True)
        hasher, received = hashlib.sha256(), 0
        with response, destination.open("xb") as out:
            try:
                for chunk in response.iter_content(CHUNK_BYTES):
                    received += len(chunk)
                    if received > descriptor.size:
                        raise ArtifactError(
                            f"{what}: the registry sent more than the {descriptor.size} bytes"
                            " the manifest names"
                        )
                    hasher.update(chunk)
                    out.write(chunk)
                    if progress is not None:
                        progress(len(chunk))
            except requests.exceptions.RequestException:
                raise RegistryError(
                    f"{what}: the download from registry {self.registry} was cut off after"
                    f" {received} of {descriptor.size} bytes"
                ) from None
        if received != descriptor.size:
            raise ArtifactError(
                f"{what}: the registry sent {received} bytes, the manifest names {descriptor.size}"
            )
        found = "sha256:" + hasher.hexdigest()
        if found != descriptor.digest:
            raise ArtifactError(
                f"{what}: the blob's bytes hash to {found[:19]}…, not {descriptor.digest[:19]}…"
                " as the manifest says (tampered or corrupted in the registry)"
            )

    def read_small_blob(self, descriptor: Descriptor, limit: int, *, what: str) -> bytes:
        """A small blob (config, bundle, SBOM) in memory, size- and digest-checked."""
        if descriptor.size > limit:
            raise ArtifactError(f"{what} is {descriptor.size} bytes, over the {limit}-byte limit")
        response = self.request("GET", f"/blobs/{descriptor.digest}", what=what, stream=True)
        with response:
            data = response.raw.read(descriptor.size + 1, decode_content=True)
        if len(data) != descriptor.size or sha256_digest(data) != descriptor.digest:
            raise ArtifactError(f"{what}: the blob does not match its digest or size")
        return bytes(data)

    # -- manifests ------------------------------------------------------------------------------

    def get_manifest(
        self,
        reference: str,
        *,
        what: str,
        accept: Sequence[str] = ACCEPTED_MANIFESTS,
        missing_ok: bool = False,
    ) -> tuple[bytes, str] | None:
        """The bytes and digest of a manifest (by tag or digest); None when missing and allowed.

        A manifest asked for by digest must hash to it.
        """
        response = self.request(
            "GET",
            f"/manifests/{reference}",
            what=what,
            headers={"Accept": ", ".join(accept)},
            stream=True,
            ok=(200, 404) if missing_ok else (200,),
        )
        with response:
            if response.status_code == 404:
                return None
            data = bytes(response.raw.read(MAX_MANIFEST_BYTES + 1, decode_content=True))
        if len(data) > MAX_MANIFEST_BYTES:
            raise ArtifactError(f"{what}: the manifest is over {MAX_MANIFEST_BYTES >> 20} MiB")
        digest = sha256_digest(data)
        if reference.startswith("sha256:") and digest != reference:
            raise ArtifactError(
                f"{what}: the manifest's bytes hash to {digest[:19]}…, not {reference[:19]}…"
            )
        return data, digest

    def manifest(self, reference: str, *, what: str) -> tuple[bytes, str]:
        """:meth:`get_manifest` of a manifest that must exist (a missing one is an error)."""
        found = self.get_manifest(reference, what=what)
        if found is None:  # pragma: no cover - get_manifest raised already
            raise RegistryError(f"{what}: not found on registry {self.registry}")
        return found

    def put_manifest(self, data: bytes, media_type: str, reference: str, *, what: str) -> bool:
        """Store a manifest under a tag or its digest; returns whether the registry indexed its
        ``subject`` itself (the ``OCI-Subject`` header of registries with the referrers API)."""
        response = self.request(
            "PUT",
            f"/manifests/{reference}",
            what=what,
            headers={"Content-Type": media_type},
            data=data,
            ok=(201,),
        )
        response.close()
        stored = response.headers.get("Docker-Content-Digest")
        if stored and stored != sha256_digest(data):
            raise ArtifactError(f"{what}: the registry stored other bytes ({stored[:19]}…)")
        return bool(response.headers.get("OCI-Subject"))
