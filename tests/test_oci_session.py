"""A registry whose bearer-token service accepts the connection and never answers: the command
fails within the client's timeout instead of hanging (oras-py's token exchange sets none)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mlops_ci.oci.client import RegistryClient, RegistryOptions
from mlops_ci.oci.errors import RegistryError
from mlops_ci.oci.reference import parse_reference


@pytest.fixture
def stalled_realm() -> Iterator[str]:
    """A listening socket that never reads or answers: the token realm's URL."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/token"


@pytest.fixture
def challenging_registry(stalled_realm: str) -> Iterator[str]:
    """A registry that answers every request with a bearer challenge naming that realm."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(401)
            challenge = f'Bearer realm="{stalled_realm}",service="test",scope="repository:m:pull"'
            self.send_header("Www-Authenticate", challenge)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_stalled_token_service_fails_within_the_timeout(challenging_registry: str) -> None:
    reference = parse_reference(f"oci://{challenging_registry}/m:1.0")
    client = RegistryClient(reference, RegistryOptions(timeout_s=1.0, environ={}))
    began = time.perf_counter()
    with pytest.raises(RegistryError) as failed:
        client.request("GET", "/tags/list", what="list tags")
    assert time.perf_counter() - began < 10
    assert "401" in str(failed.value) or "unauthor" in str(failed.value).lower()
