"""Real registries for the OCI tests: Debian's ``docker-registry`` (CNCF distribution 2.8.2)
started on a free loopback port in a temporary directory, and small real HTTP servers in front of
it: one that adds the OCI 1.1 referrers API distribution 2.8 lacks, one that injects faults.

Tests that need the registry call :func:`start_registry` through a fixture and are skipped, saying
how to install it, when ``docker-registry`` is absent.
"""

from __future__ import annotations

import base64
import http.client
import http.server
import json
import socket
import subprocess
import threading
import time
import urllib.request
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.tools import require

REFERRERS_INDEX = "application/vnd.oci.image.index.v1+json"


def require_registry() -> str:
    """The ``docker-registry`` binary; skip the calling test, saying how to get it, when absent."""
    return require("docker-registry")


def free_port() -> int:
    """A loopback port nobody listens on now (xdist workers each get their own)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Registry:
    """A running registry: ``host`` is ``127.0.0.1:PORT``, ``storage`` its filesystem root."""

    host: str
    storage: Path
    process: subprocess.Popen[bytes]

    def blob_file(self, digest: str) -> Path:
        """Where distribution's filesystem driver keeps blob ``digest``."""
        hex_digest = digest.split(":", 1)[1]
        return (
            self.storage / "docker/registry/v2/blobs/sha256" / hex_digest[:2] / hex_digest / "data"
        )


def _wait_until_up(host: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(tuple(host.rsplit(":", 1)), timeout=0.5):  # type: ignore[arg-type]
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("docker-registry did not start within 20 s")


@contextmanager
def start_registry(directory: Path, *, htpasswd: Path | None = None) -> Iterator[Registry]:
    """Run ``docker-registry serve`` on a free loopback port, storing under ``directory``."""
    binary = require_registry()
    directory.mkdir(parents=True, exist_ok=True)
    storage = directory / "storage"
    for _ in range(5):  # a port taken between probing and binding: try another
        port = free_port()
        config = {
            "version": 0.1,
            "log": {"level": "error", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": str(storage)}, "delete": {"enabled": True}},
            "http": {"addr": f"127.0.0.1:{port}"},
        }
        if htpasswd is not None:
            config["auth"] = {"htpasswd": {"realm": "mlops-ci-tests", "path": str(htpasswd)}}
        config_file = directory / "config.yml"
        config_file.write_text(json.dumps(config))  # JSON is YAML
        log = directory / "registry.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [binary, "serve", str(config_file)], stdout=sink, stderr=sink
            )
        try:
            _wait_until_up(f"127.0.0.1:{port}", process, log)
        except RuntimeError:
            process.kill()
            process.wait()
            if "address already in use" in log.read_text():
                continue
            raise
        try:
            yield Registry(f"127.0.0.1:{port}", storage, process)
        finally:
            process.terminate()
            process.wait(timeout=10)
        return
    raise RuntimeError("no free port for docker-registry after 5 tries")


def write_htpasswd(path: Path, user: str, password: str) -> Path:
    """An htpasswd file with one bcrypt entry (distribution accepts bcrypt only).

    Python's ``crypt`` (glibc/libxcrypt) makes ``$2b$`` hashes; cost 4 keeps each request fast.
    """
    try:
        with warnings.catch_warnings():  # deprecated in 3.11, gone in 3.13 (bcrypt would do)
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt
    except ImportError:
        pytest.skip("the crypt module is absent: no way to write a bcrypt htpasswd entry")
    hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))  # noqa: S324 (bcrypt, what distribution reads)
    if not hashed or not hashed.startswith("$2"):
        pytest.skip("this libc's crypt cannot make bcrypt hashes")
    path.write_text(f"{user}:{hashed}\n")
    return path


class _Proxy(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str, handler: type[http.server.BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.upstream = upstream
        self.referrers: dict[str, list[dict[str, object]]] = {}
        self.fault = ""
        self.credentials = ("", "")
        self.hits: dict[str, int] = {}
        self.lock = threading.Lock()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


class _ForwardingHandler(http.server.BaseHTTPRequestHandler):
    """Forwards a request to the upstream registry, streaming bodies both ways."""

    server: _Proxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        del format, args

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def forward(self, body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
        body = self._body() if body is None else body
        connection = http.client.HTTPConnection(self.server.upstream, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host",)}
        headers["Host"] = self.server.upstream
        connection.request(self.command, self.path, body=body or None, headers=headers)
        response = connection.getresponse()
        data = response.read()
        out = dict(response.getheaders())
        connection.close()
        return response.status, out, data

    def reply(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self.send_response(status)
        for key, value in headers.items():
            if key.lower() not in ("content-length", "connection", "transfer-encoding", "date"):
                self.send_header(key, value.replace(self.server.upstream, self.server.host))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def handle_any(self) -> None:
        self.reply(*self.forward())

    def do_GET(self) -> None:
        self.handle_any()

    def do_HEAD(self) -> None:
        self.handle_any()

    def do_POST(self) -> None:
        self.handle_any()

    def do_PUT(self) -> None:
        self.handle_any()

    def do_PATCH(self) -> None:
        self.handle_any()

    def do_DELETE(self) -> None:
        self.handle_any()


class _ReferrersHandler(_ForwardingHandler):
    """Distribution plus the OCI 1.1 referrers API (``GET /v2/<name>/referrers/<digest>``),
    indexed from the manifests with a ``subject`` that pass through, as a 1.1 registry does."""

    def handle_any(self) -> None:
        parts = self.path.split("?")[0].split("/")
        if self.command == "GET" and len(parts) > 4 and parts[-2] == "referrers":
            name, digest = "/".join(parts[2:-2]), parts[-1]
            with self.server.lock:
                listed = list(self.server.referrers.get(f"{name}@{digest}", []))
            index = {"schemaVersion": 2, "mediaType": REFERRERS_INDEX, "manifests": listed}
            self.reply(200, {"Content-Type": REFERRERS_INDEX}, json.dumps(index).encode())
            return
        body = self._body()
        status, headers, data = self.forward(body)
        if self.command == "PUT" and "/manifests/" in self.path and status == 201:
            manifest = json.loads(body)
            subject = manifest.get("subject")
            if subject:
                name = self.path.split("/manifests/")[0][len("/v2/") :]
                descriptor = {
                    "mediaType": manifest["mediaType"],
                    "digest": headers.get("Docker-Content-Digest"),
                    "size": len(body),
                    "artifactType": manifest.get("artifactType"),
                    "annotations": manifest.get("annotations", {}),
                }
                with self.server.lock:
                    self.server.referrers.setdefault(f"{name}@{subject['digest']}", []).append(
                        descriptor
                    )
                headers["OCI-Subject"] = subject["digest"]
        self.reply(status, headers, data)


class _FaultHandler(_ForwardingHandler):
    """Forwards, except where ``server.fault`` says: ``500`` answers every request with HTTP 500;
    ``cut-upload`` reads half of a blob upload's body and drops the connection; ``cut-download``
    sends a blob's headers and half its bytes, then drops the connection."""

    def handle_any(self) -> None:
        fault = self.server.fault
        if fault == "500":
            self.reply(500, {"Content-Type": "application/json"}, b'{"errors":[]}')
            return
        is_blob_upload = self.command == "PUT" and "/blobs/uploads/" in self.path
        if fault == "cut-upload" and is_blob_upload:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length // 2)
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        status, headers, data = self.forward()
        is_blob_get = self.command == "GET" and "/blobs/sha256:" in self.path
        if fault == "cut-download" and is_blob_get and status == 200 and len(data) > 1:
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.reply(status, headers, data)


BEARER_TOKEN = "bearer-token-0123456789abcdef"  # noqa: S105 (a test server's token)


class _BearerHandler(_ForwardingHandler):
    """A token-auth registry, as Docker Hub, GHCR or Harbor are: every ``/v2/`` request needs
    ``Authorization: Bearer <token>``; the token comes from ``GET /token`` with the right Basic
    credentials (``server.credentials``)."""

    def handle_any(self) -> None:
        body = self._body()
        if self.path.split("?")[0] == "/token":
            user, password = self.server.credentials
            expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                self.reply(401, {"Content-Type": "application/json"}, b'{"errors":[]}')
                return
            with self.server.lock:
                self.server.hits["token"] = self.server.hits.get("token", 0) + 1
            self.reply(
                200,
                {"Content-Type": "application/json"},
                json.dumps({"token": BEARER_TOKEN}).encode(),
            )
            return
        if self.headers.get("Authorization") != f"Bearer {BEARER_TOKEN}":
            challenge = (
                f'Bearer realm="http://{self.server.host}/token",service="tests",'
                'scope="repository:models:pull,push"'
            )
            error = b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'
            self.reply(
                401, {"Www-Authenticate": challenge, "Content-Type": "application/json"}, error
            )
            return
        self.reply(*self.forward(body))


@contextmanager
def _serve(server: _Proxy) -> Iterator[_Proxy]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def referrers_api_proxy(upstream: str) -> Iterator[_Proxy]:
    """A registry with the referrers API: the real registry behind a real HTTP server."""
    with _serve(_Proxy(upstream, _ReferrersHandler)) as server:
        yield server


@contextmanager
def fault_proxy(upstream: str) -> Iterator[_Proxy]:
    """A proxy in front of the real registry that fails as its ``fault`` attribute says."""
    with _serve(_Proxy(upstream, _FaultHandler)) as server:
        yield server


@contextmanager
def bearer_proxy(upstream: str, user: str, password: str) -> Iterator[_Proxy]:
    """A registry that wants bearer tokens from its own token endpoint, in front of the real one."""
    server = _Proxy(upstream, _BearerHandler)
    server.credentials = (user, password)
    with _serve(server) as running:
        yield running


def registry_json(host: str, path: str, accept: str = REFERRERS_INDEX) -> dict[str, object]:
    """A JSON document read straight from a registry (no mlops-ci code)."""
    request = urllib.request.Request(f"http://{host}{path}", headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback http)
        return dict(json.load(response))


def put_json(host: str, path: str, document: dict[str, object], media_type: str) -> int:
    """PUT a JSON document straight to a registry (no mlops-ci code); returns the status."""
    request = urllib.request.Request(
        f"http://{host}{path}",
        data=json.dumps(document).encode(),
        headers={"Content-Type": media_type},
        method="PUT",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback http)
        return int(response.status)


def skopeo() -> str:
    """The ``skopeo`` binary; skip, saying how to get it, when absent."""
    return require("skopeo")
