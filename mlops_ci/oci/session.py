"""The HTTP session every registry request goes through, with a timeout on *every* request.

The client passes its own timeout with each request, but oras-py's token backend, which answers
a registry's bearer challenge, calls the same session for the token (``session.get(realm)``)
without one: a token service that accepts the connection and never answers would hang the
command for ever. A session whose requests default to the client's timeout bounds those too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import requests


def bounded_session(timeout: tuple[float, float]) -> requests.Session:
    """A ``requests.Session`` whose requests without a ``timeout`` get ``timeout``
    ((connect, read) seconds)."""
    import requests

    class BoundedSession(requests.Session):
        def request(self, *args: Any, **kwargs: Any) -> Any:
            """``requests.Session.request`` with the default timeout filled in."""
            if kwargs.get("timeout") is None:
                kwargs["timeout"] = timeout
            return super().request(*args, **kwargs)

    return BoundedSession()
