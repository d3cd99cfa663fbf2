"""HTTP for forge clients: httpx with timeouts, retries with backoff, and clear errors.

Retries: 5xx and 429 (honouring ``Retry-After``), and GitHub's secondary rate limit (403 with
``x-ratelimit-remaining: 0``, waiting until ``x-ratelimit-reset``). 401, 403 and 404 stop with a
message that says what the token lacks. The token never appears in messages: requests carry it in
a header, and error messages show only the method and path.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from mlops_ci.errors import MlopsCiError

MAX_WAIT_S = 120.0


class ForgeError(MlopsCiError):
    """A forge API problem the user can fix (token, permissions, repository); exit 2."""


@dataclass
class RetryPolicy:
    """How often and how long to retry."""

    attempts: int = 5
    base_delay_s: float = 1.0
    max_wait_s: float = MAX_WAIT_S
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time


class ApiClient:
    """A JSON REST client for one forge API base URL."""

    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str],
        *,
        forge: str,
        credential_variable: str,
        retry: RetryPolicy | None = None,
        timeout_s: float = 30.0,
        needs: str = "write access to pull/merge requests",
    ) -> None:
        self.forge = forge
        self.credential_variable = credential_variable
        self.needs = needs  # what the token must be allowed, for the 401/403 messages
        self.retry = retry or RetryPolicy()
        self._client = httpx.Client(
            base_url=base_url.rstrip("/") + "/", headers=dict(headers), timeout=timeout_s
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request and return the decoded JSON (None for an empty body)."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._client.request(method, path.lstrip("/"), **kwargs)
            except httpx.TransportError as exc:
                if attempt >= self.retry.attempts:
                    raise ForgeError(
                        f"{self.forge} API unreachable ({method} {path}: {type(exc).__name__});"
                        " check the network and the API URL"
                    ) from None
                self.retry.sleep(self._backoff(attempt))
                continue
            wait = self._retry_after(response, attempt)
            if wait is not None and attempt < self.retry.attempts:
                self.retry.sleep(wait)
                continue
            if response.is_success:
                return response.json() if response.content else None
            raise self._error(method, path, response)

    def paginate(self, path: str, params: Mapping[str, Any]) -> list[Any]:
        """Every item of a paginated list endpoint (``page``/``per_page``, as both forges page)."""
        items: list[Any] = []
        page = 1
        while True:
            batch = (
                self.request("GET", path, params={**params, "per_page": 100, "page": page}) or []
            )
            items += batch
            if len(batch) < 100:
                return items
            page += 1

    def _backoff(self, attempt: int) -> float:
        return float(min(self.retry.base_delay_s * 2.0 ** (attempt - 1), self.retry.max_wait_s))

    def _retry_after(self, response: httpx.Response, attempt: int) -> float | None:
        status = response.status_code
        limited = status == 429 or (
            status == 403 and response.headers.get("x-ratelimit-remaining") == "0"
        )
        if not limited and status < 500:
            return None
        header = response.headers.get("retry-after")
        if header is not None:
            try:
                return min(max(float(header), 0.0), self.retry.max_wait_s)
            except ValueError:
                pass
        reset = response.headers.get("x-ratelimit-reset")
        if limited and reset is not None and reset.isdigit():
            return min(max(int(reset) - self.retry.clock(), 0.0), self.retry.max_wait_s)
        return self._backoff(attempt)

    def _error(self, method: str, path: str, response: httpx.Response) -> ForgeError:
        status = response.status_code
        where = f"{self.forge} API {method} {path.split('?', maxsplit=1)[0]}"
        if status == 401:
            return ForgeError(
                f"{where} answered 401: the token is missing, expired or lacks permission;"
                f" set {self.credential_variable} to a token with {self.needs}"
            )
        if status == 403:
            return ForgeError(
                f"{where} answered 403: the token lacks permission for this repository;"
                f" give {self.credential_variable} {self.needs}"
            )
        if status == 404:
            return ForgeError(
                f"{where} answered 404: the repository does not exist or the token cannot see it;"
                " check forge.repository and the token's access"
            )
        detail = _message(response)
        return ForgeError(f"{where} answered {status}{': ' + detail if detail else ''}")


def _message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return ""
    if isinstance(data, dict):
        text = data.get("message") or data.get("error") or ""
        return " ".join(str(text).split())[:200]
    return ""
