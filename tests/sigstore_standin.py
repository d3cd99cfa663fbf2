"""A local stand-in for the edges of Sigstore keyless signing: an OIDC token, GitHub's token
endpoint, and a Fulcio that refuses the certificate request (echoing the bearer token back, as a
careless server might, so redaction is exercised)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jwt
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from mlops_ci.signing.policy import load_trust_config, trust_config_json


def oidc_token(marker: str = "", *, subject: str = "ci@example.com") -> str:
    """A well-formed OIDC identity token for audience ``sigstore`` (HS256; nobody checks it here)."""
    now = int(dt.datetime.now(dt.UTC).timestamp())
    claims = {
        "iss": "https://issuer.example",
        "sub": subject,
        "aud": "sigstore",
        "iat": now,
        "exp": now + 600,
        "nonce": marker,
    }
    return jwt.encode(claims, "test-signing-secret-" + "x" * 32, algorithm="HS256")


def write_trust_config(path: Path, server: HTTPServer) -> Path:
    """A ClientTrustConfig: staging's trusted root, with every service at the local server."""
    config = json.loads(trust_config_json(load_trust_config(None, staging=True, offline=True)))
    service = {
        "url": server.url_for("/").rstrip("/"),
        "majorApiVersion": 1,
        "validFor": {"start": "2020-01-01T00:00:00Z"},
        "operator": "local stand-in",
    }
    signing = config["signingConfig"]
    signing["caUrls"] = [service]
    signing["oidcUrls"] = [service]
    signing["rekorTlogUrls"] = [service]
    signing["tsaUrls"] = []
    path.write_text(json.dumps(config))
    return path


def refuse_certificates(server: HTTPServer) -> list[Request]:
    """Make Fulcio's signing-certificate endpoint answer 401, echoing the Authorization header."""
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        body = {"message": f"token rejected: {request.headers.get('Authorization')}"}
        return Response(json.dumps(body), status=401, content_type="application/json")

    server.expect_request("/api/v2/signingCert", method="POST").respond_with_handler(handler)
    return seen


def serve_github_token(server: HTTPServer, token: str) -> str:
    """GitHub Actions' OIDC token endpoint; returns its URL."""
    server.expect_request("/github-oidc", method="GET").respond_with_json({"value": token})
    return server.url_for("/github-oidc")
