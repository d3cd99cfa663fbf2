"""Registry credentials: from ``MLOPS_CI_REGISTRY_USERNAME``/``_PASSWORD``, else docker's
``config.json`` (``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``: inline ``auths``,
``credHelpers`` and ``credsStore``, read by oras-py's auth backend).

The credentials become oras-py's basic-auth value; they are used to answer a registry's
challenge (HTTP Basic, or a bearer-token exchange) and never appear in a message.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlops_ci.oci.errors import OciError
from mlops_ci.oci.reference import OciReference

USERNAME_VARIABLE = "MLOPS_CI_REGISTRY_USERNAME"
PASSWORD_VARIABLE = "MLOPS_CI_REGISTRY_PASSWORD"  # noqa: S105 (a variable name)


def quiet_oras_logging() -> None:
    """oras-py logs registry messages and config warnings on stderr by itself; mlops-ci reports
    each failure once, as its own one-line error."""
    logging.getLogger("oras").setLevel(logging.CRITICAL + 1)


def docker_config_path(environ: Mapping[str, str]) -> Path | None:
    """The docker client configuration file in use, when it exists."""
    directory = environ.get("DOCKER_CONFIG")
    path = Path(directory) / "config.json" if directory else Path.home() / ".docker/config.json"
    return path if path.is_file() else None


def load_credentials(auth: Any, reference: OciReference, environ: Mapping[str, str]) -> bool:
    """Give oras-py's auth backend ``auth`` the credentials for ``reference``'s registry.

    Returns whether any were found. Only one of the two variables set is an error (exit 2): a
    half-configured login would otherwise fall back to anonymous access silently.
    """
    import oras.container

    username, password = environ.get(USERNAME_VARIABLE), environ.get(PASSWORD_VARIABLE)
    if bool(username) != bool(password):
        raise OciError(
            f"set both {USERNAME_VARIABLE} and {PASSWORD_VARIABLE}, or neither"
            " (docker's config.json is used then)"
        )
    if username and password:
        auth.set_basic_auth(username, password)
        return True
    config = docker_config_path(environ)
    if config is None:
        return False
    container = oras.container.Container(
        f"{reference.registry}/{reference.repository}", registry=reference.registry
    )
    try:
        # oras-py merges ~/.docker/config.json in too when it exists (docker itself would read
        # DOCKER_CONFIG's file only): both are the user's own logins.
        auth.load_configs(container, configs=[os.fspath(config)])
    except (OSError, ValueError, KeyError, TypeError):
        raise OciError(
            f"{config} cannot be read as a docker config.json; fix it or set"
            f" {USERNAME_VARIABLE} and {PASSWORD_VARIABLE}"
        ) from None
    return bool(getattr(auth, "_basic_auth", None))
