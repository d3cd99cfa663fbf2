"""Choosing the forge and its credentials from the configuration and the CI environment.

Tokens come from the standard variables: ``GITHUB_TOKEN`` or ``GH_TOKEN`` for GitHub,
``GITLAB_TOKEN`` for GitLab (a project or personal access token with ``api`` scope: GitLab's
``CI_JOB_TOKEN`` cannot open merge requests). Without a GitLab token, promotion falls back to
``git push -o merge_request.create``. Tokens are never printed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from mlops_ci.config import ForgeConfig
from mlops_ci.forge.http import ApiClient, ForgeError, RetryPolicy
from mlops_ci.forge.interface import Forge

ForgeKind = Literal["github", "gitlab", "none"]
_REMOTE = re.compile(
    r"^(?:[a-z+]+://)?(?:[^@/]+@)?(?P<host>[^/:]+)(?::\d+)?[:/](?P<path>.+?)(?:\.git)?/?$"
)


@dataclass(frozen=True)
class ForgeTarget:
    """The forge a promotion talks to: kind, repository, and a client (None: no API)."""

    kind: ForgeKind
    repository: str | None
    client: Forge | None
    push_options: bool = False


def remote_parts(url: str | None) -> tuple[str, str] | None:
    """``(host, path)`` of a git remote URL (https, ssh or scp-like), or None for local paths."""
    if not url or url.startswith(("/", ".", "file://")):
        return None
    match = _REMOTE.match(url)
    return (match.group("host"), match.group("path")) if match else None


def detect_kind(configured: str, remote_url: str | None, environ: Mapping[str, str]) -> ForgeKind:
    """``auto`` resolves from the CI environment, then the remote's host."""
    if configured in ("github", "gitlab", "none"):
        return configured  # type: ignore[return-value]
    if environ.get("GITHUB_ACTIONS") == "true":
        return "github"
    if environ.get("GITLAB_CI") == "true":
        return "gitlab"
    parts = remote_parts(remote_url)
    if parts is not None:
        if parts[0] == "github.com":
            return "github"
        if "gitlab" in parts[0]:
            return "gitlab"
    return "none"


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _api_url(
    configured: str | None,
    ci_url: str | None,
    parts: tuple[str, str] | None,
    environ: Mapping[str, str],
) -> str | None:
    """``forge.api_url`` from the configuration, if it may receive the token; else ForgeError.

    The configuration is part of the pull request, and the token goes wherever the API URL
    points: a configured URL must be on the host the pipeline names (``MLOPS_CI_FORGE_API_URL``,
    the CI's own API URL) or, outside CI, the remote's host or this machine (local stand-ins).
    """
    if not configured:
        return None
    host = _host(configured)
    pipeline = environ.get("MLOPS_CI_FORGE_API_URL") or ci_url
    if pipeline:
        allowed = {_host(pipeline)}
    else:
        allowed = {"127.0.0.1", "localhost", "::1", *([parts[0].lower()] if parts else [])}
    if host and host in allowed:
        return configured
    raise ForgeError(
        "forge.api_url is not on the forge's own host, and the forge token would be sent there;"
        " remove it, or set MLOPS_CI_FORGE_API_URL in the pipeline"
    )


def make_forge(
    kind: ForgeKind,
    config: ForgeConfig,
    remote_url: str | None,
    environ: Mapping[str, str],
    retry: RetryPolicy | None = None,
) -> ForgeTarget:
    """The forge client for ``kind``; raises ForgeError when a required token is missing."""
    from mlops_ci.forge.github import GitHubForge
    from mlops_ci.forge.gitlab import GitLabForge

    parts = remote_parts(remote_url)
    if kind == "none":
        return ForgeTarget("none", parts[1] if parts else None, None)
    if kind == "github":
        token = environ.get("GITHUB_TOKEN") or environ.get("GH_TOKEN")
        repository = (
            config.repository or environ.get("GITHUB_REPOSITORY") or (parts[1] if parts else None)
        )
        if not repository:
            raise ForgeError(
                "cannot tell the GitHub repository; set forge.repository to owner/name"
            )
        if not token:
            raise ForgeError(
                "GitHub promotion needs a token: set GITHUB_TOKEN or GH_TOKEN (a GitHub App token or"
                " PAT if the promotion PR's own checks must run)"
            )
        ci_url = environ.get("GITHUB_API_URL")
        api_url = _api_url(config.api_url, ci_url, parts, environ) or ci_url
        api_url = api_url or "https://api.github.com"
        api = ApiClient(
            api_url,
            GitHubForge.headers(token),
            forge="GitHub",
            credential_variable="GITHUB_TOKEN",
            retry=retry,
        )
        return ForgeTarget("github", repository, GitHubForge(api, repository))
    token = environ.get("GITLAB_TOKEN")
    project = (
        config.repository
        or environ.get("CI_PROJECT_ID")
        or environ.get("CI_PROJECT_PATH")
        or (parts[1] if parts else None)
    )
    if not project:
        raise ForgeError("cannot tell the GitLab project; set forge.repository to group/project")
    if not token:
        return ForgeTarget("gitlab", project, None, push_options=True)
    ci_url = environ.get("CI_API_V4_URL")
    api_url = (
        _api_url(config.api_url, ci_url, parts, environ)
        or ci_url
        or (f"https://{parts[0]}/api/v4" if parts else "https://gitlab.com/api/v4")
    )
    api = ApiClient(
        api_url,
        GitLabForge.headers(token),
        forge="GitLab",
        credential_variable="GITLAB_TOKEN",
        retry=retry,
    )
    return ForgeTarget("gitlab", project, GitLabForge(api, project))
