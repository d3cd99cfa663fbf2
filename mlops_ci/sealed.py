"""Sealed cache entries: a result mlops-ci stored itself, never one a pull request committed.

The result cache and the pre-push stamps live in the repository (``.mlops-ci/cache``), which is
the attacker's tree: a pull request can commit ``.mlops-ci/cache/results/<key>.json`` saying
"passed" for the very inputs it adds (the key is a digest of public material, computable
offline), and a check would replay it. So every entry is sealed with an HMAC-SHA256 under a
key that lives outside the repository (``$XDG_CACHE_HOME/mlops-ci/cache.key``, else
``~/.cache/mlops-ci/cache.key``, created ``0600`` on first use; ``MLOPS_CI_CACHE_KEY_FILE``
moves it). An entry without a valid seal is a miss. When no key can be read or made, nothing
is replayed (fail closed: the checks run).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any

_KEY_BYTES = 32


def key_file(environ: dict[str, str] | os._Environ[str] | None = None) -> Path:
    """Where the sealing key lives (outside any repository)."""
    environ = os.environ if environ is None else environ
    configured = environ.get("MLOPS_CI_CACHE_KEY_FILE")
    if configured:
        return Path(configured)
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mlops-ci" / "cache.key"


@functools.lru_cache(maxsize=8)
def _key(path: Path) -> bytes | None:
    try:
        data = path.read_bytes()
        if len(data) >= _KEY_BYTES:
            return data
    except OSError:
        pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = secrets.token_bytes(_KEY_BYTES)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(fresh)
        return fresh
    except FileExistsError:  # another process made it first
        try:
            data = path.read_bytes()
        except OSError:
            return None
        return data if len(data) >= _KEY_BYTES else None
    except OSError:
        return None


def _mac(key: bytes, body: str) -> str:
    return hmac.new(key, body.encode("utf-8"), hashlib.sha256).hexdigest()


def seal(payload: Any) -> str | None:
    """``payload`` as sealed JSON text, or None when there is no key (then store nothing)."""
    key = _key(key_file())
    if key is None:
        return None
    body = json.dumps(payload, sort_keys=True)
    return json.dumps({"mac": _mac(key, body), "body": body})


def unseal(data: bytes | str) -> Any | None:
    """The payload of sealed JSON text, or None when it is not sealed by this machine's key."""
    key = _key(key_file())
    if key is None:
        return None
    try:
        outer = json.loads(data)
        body, mac = outer["body"], outer["mac"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(body, str) or not isinstance(mac, str):
        return None
    if not hmac.compare_digest(_mac(key, body), mac):
        return None
    return json.loads(body)
