"""The one scrubber: nothing secret reaches a message, a finding, a report or a log line.

Messages name files, lines and the kind of problem; when they quote input at all, it is a short
excerpt (:func:`excerpt`). Every text that leaves mlops-ci passes :func:`scrub` at the boundary
(error and finding constructors, the CLI's stdout and stderr, every report file), which removes:

- credentials in URLs (``https://user:token@host`` becomes ``https://***@host``);
- values of secret-looking parameters (``token=…``, ``password: …``, ``Authorization: Bearer …``);
- the value of every environment variable whose name looks secret (``*TOKEN*``, ``*SECRET*``,
  ``*PASSWORD*``, ``*KEY*``, ...) present at run time, wherever it appears: defence in depth for a
  message that embeds content in a way nobody foresaw (``-r /proc/self/environ``);
- NUL and other control characters, which only appear when binary content is being echoed.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

REDACTED = "***"
EXCERPT_CHARS = 80

# Names of environment variables whose values are credentials (GITHUB_TOKEN, CI_JOB_TOKEN,
# ACTIONS_ID_TOKEN_REQUEST_TOKEN, AWS_SECRET_ACCESS_KEY, CI_REGISTRY_PASSWORD, NPM_AUTH, ...);
# KEY and AUTH only as whole words, so PIP_KEYRING_PROVIDER or XAUTHORITY keep their values.
_SECRET_NAME = re.compile(
    r"TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|PRIVATE|COOKIE|APIKEY"
    r"|(^|_)KEY(S)?($|_)|(^|_)AUTH($|_)|_PAT$",
    re.IGNORECASE,
)
# Values too short or too common to be a credential; redacting them would shred ordinary text.
_MIN_SECRET_CHARS = 6
_NOT_SECRET = {"true", "false", "none", "null", "yes", "no"}

_URL_USERINFO = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^/@\s'\"<>]+@")
# ``token=…`` in a query string or an option; ``password: …`` in YAML or INI text. Only '='
# for most names: prose such as "grant 'permissions: id-token: write'" must survive.
_PARAMETER = re.compile(
    r"(?i)\b((?:[a-z0-9]+[_-])*(?:token|secret|password|passwd|pwd|api[_-]?key|access[_-]?key"
    r"|private[_-]?key)(\s*=\s*)|(?:[a-z0-9]+[_-])*(?:password|passwd)(\s*:\s*))"
    r"(\"[^\"]*\"|'[^']*'|[^\s&;,'\"<>)\\]+)"
)
_BEARER = re.compile(
    r"(?i)\b(authorization:\s*(?:bearer|basic|token)|bearer)\s+[A-Za-z0-9._~+/=-]{8,}"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of the secret-looking variables of ``environ`` (default: this process), longest
    first so a value that contains another is redacted whole."""
    environ = os.environ if environ is None else environ
    values = {
        value
        for name in _secret_names(frozenset(environ))
        if (value := environ.get(name, ""))
        and len(value) >= _MIN_SECRET_CHARS
        and value.lower() not in _NOT_SECRET
        and not value.isdigit()  # a bare number would also match JSON numbers and line counts
    }
    return sorted(values, key=len, reverse=True)


_NAMES_CACHE: dict[frozenset[str], tuple[str, ...]] = {}


def _secret_names(names: frozenset[str]) -> tuple[str, ...]:
    # Every message and finding is scrubbed: match the names once per set of variables.
    found = _NAMES_CACHE.get(names)
    if found is None:
        if len(_NAMES_CACHE) > 32:
            _NAMES_CACHE.clear()
        found = tuple(name for name in names if _SECRET_NAME.search(name))
        _NAMES_CACHE[names] = found
    return found


def scrub(text: str, environ: Mapping[str, str] | None = None) -> str:
    """``text`` with credentials, secret parameters and secret variables' values redacted."""
    if not text:
        return text
    for value in secret_values(environ):
        if value in text:
            text = text.replace(value, REDACTED)
    text = _URL_USERINFO.sub(rf"\1{REDACTED}@", text)
    text = _PARAMETER.sub(_redact_parameter, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return text


def _redact_parameter(match: re.Match[str]) -> str:
    value = match.group(4)
    if value.strip("'\"") in ("", REDACTED):
        return match.group(0)
    return f"{match.group(1)}{REDACTED}"


def scrub_line(text: str, environ: Mapping[str, str] | None = None) -> str:
    """:func:`scrub`, with control characters (NUL from ``/proc`` files, escape sequences)
    shown as ``?``: for one-line messages, which must never carry binary content."""
    return _CONTROL.sub("?", scrub(text, environ))


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """A short, scrubbed, one-line excerpt of input for a message (``…`` marks a cut)."""
    line = " ".join(scrub_line(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def scrub_bytes(data: bytes, environ: Mapping[str, str] | None = None) -> bytes:
    """Known secret values removed from bytes about to be written (a report file)."""
    for value in secret_values(environ):
        encoded = value.encode("utf-8", errors="ignore")
        if encoded and encoded in data:
            data = data.replace(encoded, REDACTED.encode())
    return data


class ScrubbingStream:
    """A text stream that scrubs every write (``sys.stdout``/``sys.stderr`` during a run).

    It exposes no ``buffer``, so nothing (click's ``echo`` included) can write bytes past it.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        """Write ``text`` scrubbed; return ``len(text)`` as callers expect of a text stream."""
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._stream.write(scrub(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        """Write each line scrubbed."""
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Flush the underlying stream."""
        self._stream.flush()

    @property
    def buffer(self) -> Any:
        """Refused: a binary write would bypass the scrubber."""
        raise AttributeError("buffer")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def subprocess_environ(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default: this process's) without its secret-looking variables: for the
    scanners mlops-ci runs (pip-audit, cyclonedx-py, bandit), which read repository files and
    need no credential. pip's parser expands ``${GITHUB_TOKEN}`` in a requirements file; with
    the variable gone, nothing can copy its value into an SBOM or an error message."""
    environ = os.environ if environ is None else environ
    return {name: value for name, value in environ.items() if not _SECRET_NAME.search(name)}


def scrub_document(text: str, environ: Mapping[str, str] | None = None) -> str:
    """:func:`scrub` for a whole report or SBOM; a JSON document stays valid JSON.

    Redacting text can, in contrived cases (a secret value that matches inside a ``\\uXXXX``
    escape), break a JSON document; then every string of the parsed document is scrubbed
    instead and the document is written again.
    """
    scrubbed = scrub(text, environ)
    if scrubbed == text or text[:1] not in "{[":
        return scrubbed
    try:
        json.loads(scrubbed)
        return scrubbed
    except ValueError:
        pass
    try:
        data = json.loads(text)
    except ValueError:
        return scrubbed
    return json.dumps(_scrub_strings(data, environ), indent=2) + "\n"


def _scrub_strings(value: Any, environ: Mapping[str, str] | None) -> Any:
    if isinstance(value, str):
        return scrub(value, environ)
    if isinstance(value, list):
        return [_scrub_strings(item, environ) for item in value]
    if isinstance(value, dict):
        return {scrub(str(k), environ): _scrub_strings(v, environ) for k, v in value.items()}
    return value
