"""``oci://HOST[:PORT]/REPO[:TAG][@sha256:HEX]`` references, parsed and checked before any I/O.

Plain HTTP is used for loopback registries only (``localhost``, ``127.0.0.0/8``, ``[::1]``), as a
registry started on the same machine for tests or a local cache; any other host is HTTPS unless
the caller opts in explicitly (``--plain-http``): credentials never travel in clear by default.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace

from mlops_ci.oci.errors import OciError

SCHEME = "oci://"
# The distribution reference grammar (opencontainers/distribution-spec), lower-case paths.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
_HOST = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$"
)
_HINT = "write oci://HOST[:PORT]/REPOSITORY[:TAG] or oci://HOST[:PORT]/REPOSITORY@sha256:HEX"


@dataclass(frozen=True)
class OciReference:
    """A registry, a repository in it, and a tag and/or a manifest digest."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    def __str__(self) -> str:
        tail = (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")
        return f"{SCHEME}{self.registry}/{self.repository}{tail}"

    @property
    def host(self) -> str:
        """The registry's host name or address, without port or brackets."""
        if self.registry.startswith("["):
            return self.registry[1 : self.registry.index("]")]
        return self.registry.rsplit(":", 1)[0] if ":" in self.registry else self.registry

    @property
    def is_loopback(self) -> bool:
        """Whether the registry is on this machine (``localhost`` or a loopback address)."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def manifest_reference(self) -> str:
        """What goes after ``/manifests/``: the digest when known, else the tag."""
        if self.digest:
            return self.digest
        if self.tag:
            return self.tag
        raise OciError(f"{self} names no tag and no digest; {_HINT}")

    def pinned(self, digest: str) -> OciReference:
        """The same repository at manifest ``digest`` (the tag dropped: a digest is immutable)."""
        return replace(self, tag=None, digest=digest)

    def scheme(self, plain_http: bool = False) -> str:
        """``http`` for a loopback registry or when ``plain_http`` is asked for, else ``https``."""
        return "http" if plain_http or self.is_loopback else "https"


def is_oci_reference(text: str) -> bool:
    """Whether a command-line argument is meant as a registry reference (``oci://...``)."""
    return text.startswith(SCHEME)


def parse_reference(text: str, *, what: str = "reference") -> OciReference:
    """Parse ``oci://HOST[:PORT]/REPO[:TAG][@sha256:HEX]``; anything else is an exit-2 error."""
    if not text.startswith(SCHEME):
        raise OciError(f"{what} {text[:200]!r} is not an OCI reference; {_HINT}")
    rest = text[len(SCHEME) :]
    digest = None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not _DIGEST.match(digest):
            raise OciError(
                f"{what} {text[:200]!r}: the digest must be sha256: and 64 lower-case hex digits"
            )
    registry, _, path = rest.partition("/")
    if not registry or not path or not _HOST.match(registry):
        raise OciError(f"{what} {text[:200]!r} names no registry host or repository; {_HINT}")
    tag = None
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        path, tag = path.rsplit(":", 1)
        if not _TAG.match(tag):
            raise OciError(
                f"{what} {text[:200]!r}: a tag is 1-128 letters, digits, '_', '.' or '-'"
                " and starts with a letter, digit or '_'"
            )
    if not _REPOSITORY.match(path):
        raise OciError(
            f"{what} {text[:200]!r}: the repository must be lower-case letters, digits and"
            " separators ('.', '_', '-', '/')"
        )
    return OciReference(registry, path, tag, digest)
