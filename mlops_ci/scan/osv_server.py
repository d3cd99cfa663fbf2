"""A loopback OSV-API server that gives pip-audit an offline vulnerability database.

Why a server and not a custom pip-audit service class: pip-audit has no stable Python API (its
modules are private, ``pip_audit._service``), so a ``VulnerabilityService`` subclass would tie
mlops-ci to internals that change between minor releases, and would have to drive pip-audit's
private auditor too. pip-audit's command line, ``-s osv --osv-url URL`` with ``-f json``, is its
documented interface. Serving the OSV query API (``POST /v1/query``) from this process on
127.0.0.1 keeps pip-audit the engine (dependency collection, result shaping, alias handling, JSON
output) through that public interface, and the offline path is the same code path as online OSV
mode. The server binds 127.0.0.1 on an ephemeral port, answers only ``/v1/query``, and lives for
one audit. It also records which packages pip-audit asked about, so a dependency pip-audit never
queried is reported as unaudited instead of passing silently.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from mlops_ci.scan.osv_index import OsvIndex

QUERY_PATH = "/v1/query"
_MAX_BODY = 64 * 1024
# How often the serving loop looks for a shutdown request: ``shutdown()`` waits up to this long,
# and socketserver's default (0.5 s) was half a second added to every audit. A wake-up costs a
# few microseconds, so 100 a second is nothing next to a query.
_POLL_INTERVAL_S = 0.01


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.index = OsvIndex("", {}, {})
        self.queried: set[tuple[str, str]] = set()
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    # Keep-alive: pip-audit's requests session reuses one connection for every query. Each
    # response leaves in one write, with Nagle off, so no query waits for a delayed ACK.
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    wbufsize = 64 * 1024

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the CLI owns standard error."""

    def do_POST(self) -> None:
        """Answer one OSV query: ``{"vulns": [...]}``, or ``{}`` when nothing matches."""
        if self.path.split("?")[0] != QUERY_PATH:
            self._reply(404, {"code": 5, "message": "not found"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length <= 0 or length > _MAX_BODY:
            self._reply(400, {"code": 3, "message": "bad request body"})
            return
        try:
            query = json.loads(self.rfile.read(length))
            package = query["package"]
            name, version = str(package["name"]), str(query["version"])
        except (ValueError, KeyError, TypeError):
            self._reply(400, {"code": 3, "message": "expected {package: {name}, version}"})
            return
        if package.get("ecosystem", "PyPI") != "PyPI":
            self._reply(200, {})
            return
        with self.server.lock:
            self.server.queried.add((name, version))
        try:
            records = [_served(r) for r in self.server.index.query(name, version)]
        except Exception as exc:  # malformed data: pip-audit fails, every package is unaudited
            self._reply(500, {"code": 13, "message": exc.__class__.__name__})
            return
        self._reply(200, {"vulns": records} if records else {})

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _served(record: dict[str, Any]) -> dict[str, Any]:
    """The record as the OSV API gives it. Timestamps are rewritten as ``...THH:MM:SSZ``:
    pip-audit parses them with strict ``strptime`` formats, and one it cannot parse (an RFC 3339
    offset, a space) would crash it and leave every package unaudited."""
    served = {k: v for k, v in record.items() if not k.startswith("x_mlops_ci_")}
    # The version lists (often hundreds of entries) were for matching; pip-audit reads ranges.
    served["affected"] = [
        {k: v for k, v in entry.items() if k != "versions"} for entry in record["affected"]
    ]
    for key in ("published", "modified"):
        if key in served:
            stamp = _timestamp(served.pop(key))
            if stamp is not None:
                served[key] = stamp
    return served


def _timestamp(value: object) -> str | None:
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC)
    return parsed.strftime("%Y-%m-%dT%H:%M:%SZ")


class LoopbackOsvServer:
    """``with LoopbackOsvServer() as server:`` binds ``server.url`` at once; ``serve(index)``
    starts answering, so a client may connect before the index is loaded (it waits in the
    accept queue). The server stops when the block ends."""

    def __init__(self) -> None:
        self._server = _Server()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            args=(_POLL_INTERVAL_S,),
            name="mlops-ci-osv",
            daemon=True,
        )

    @property
    def url(self) -> str:
        """The query URL to give ``pip-audit --osv-url``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{QUERY_PATH}"

    @property
    def queried(self) -> frozenset[tuple[str, str]]:
        """The ``(name, version)`` pairs asked about so far."""
        with self._server.lock:
            return frozenset(self._server.queried)

    def serve(self, index: OsvIndex) -> None:
        """Start answering queries from ``index``."""
        self._server.index = index
        self._thread.start()

    def __enter__(self) -> LoopbackOsvServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()
