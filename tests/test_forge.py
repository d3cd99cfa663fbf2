"""Forge clients against local stand-ins of the GitHub and GitLab REST APIs."""

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from mlops_ci.config import ForgeConfig
from mlops_ci.forge.detect import detect_kind, make_forge, remote_parts
from mlops_ci.forge.http import ApiClient, ForgeError, RetryPolicy
from tests.forges import FakeGitHub, FakeGitLab


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def github(server: HTTPServer, sleeps: Sleeps | None = None) -> tuple[FakeGitHub, object]:
    fake = FakeGitHub(server).install()
    retry = RetryPolicy(sleep=sleeps or Sleeps(), clock=lambda: 1000.0)
    target = make_forge(
        "github",
        ForgeConfig(repository=fake.repository, api_url=fake.url),
        None,
        {"GITHUB_TOKEN": fake.token},
        retry,
    )
    return fake, target.client


def test_github_create_find_update_and_comment(httpserver: HTTPServer) -> None:
    fake, client = github(httpserver)
    pull = client.create_pull("mlops-ci/promote/m/staging/1", "main", "Promote m", "body")  # type: ignore[attr-defined]
    assert (pull.number, pull.state, pull.head) == (1, "open", "mlops-ci/promote/m/staging/1")
    client.add_labels(pull, ["mlops-ci"])  # type: ignore[attr-defined]
    client.request_reviewers(pull, ["alice"])  # type: ignore[attr-defined]
    client.upsert_comment(pull, "<!-- m -->", "<!-- m -->\nfirst")  # type: ignore[attr-defined]
    client.upsert_comment(pull, "<!-- m -->", "<!-- m -->\nsecond")  # type: ignore[attr-defined]
    assert [c["body"] for c in fake.comments] == ["<!-- m -->\nsecond"]
    assert fake.pulls[0]["labels"] == [{"name": "mlops-ci"}]
    assert fake.pulls[0]["requested_reviewers"] == [{"login": "alice"}]
    assert client.find_pulls("mlops-ci/promote/m/staging/1")[0].number == 1  # type: ignore[attr-defined]
    again = client.create_pull("mlops-ci/promote/m/staging/1", "main", "Promote m", "b")  # type: ignore[attr-defined]
    assert again.number == 1 and len(fake.pulls) == 1  # adopted, not duplicated
    fake.merge(1)
    assert client.find_pulls("mlops-ci/promote/m/staging/1")[0].state == "merged"  # type: ignore[attr-defined]


def test_502_twice_then_201_gives_one_pull(httpserver: HTTPServer) -> None:
    sleeps = Sleeps()
    fake, client = github(httpserver, sleeps)
    fake.failures = [Response("bad gateway", 502), Response("bad gateway", 502)]
    pull = client.create_pull("b", "main", "t", "body")  # type: ignore[attr-defined]
    assert pull.number == 1 and len(fake.pulls) == 1
    assert sleeps.calls == [1.0, 2.0]  # exponential backoff


def test_429_retry_after_is_honoured(httpserver: HTTPServer) -> None:
    sleeps = Sleeps()
    fake, client = github(httpserver, sleeps)
    fake.failures = [Response("slow down", 429, headers={"Retry-After": "7"})]
    client.create_pull("b", "main", "t", "body")  # type: ignore[attr-defined]
    assert sleeps.calls == [7.0]


def test_rate_limit_reset_is_honoured(httpserver: HTTPServer) -> None:
    sleeps = Sleeps()
    fake, client = github(httpserver, sleeps)
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1030"}
    fake.failures = [Response("{}", 403, headers=headers)]
    client.create_pull("b", "main", "t", "body")  # type: ignore[attr-defined]
    assert sleeps.calls == [30.0]  # reset (1030) minus the clock (1000)


def test_401_names_the_variable_never_the_token(httpserver: HTTPServer) -> None:
    fake = FakeGitHub(httpserver).install()
    secret = "ghp_SECRET_MARKER_123"  # noqa: S105
    target = make_forge(
        "github",
        ForgeConfig(repository=fake.repository, api_url=fake.url),
        None,
        {"GITHUB_TOKEN": secret},
    )
    with pytest.raises(ForgeError) as err:
        target.client.find_pulls("x")  # type: ignore[union-attr]
    assert "401" in str(err.value) and "GITHUB_TOKEN" in str(err.value)
    assert "lacks permission" in str(err.value)
    assert secret not in str(err.value)


def test_404_and_unreachable(httpserver: HTTPServer) -> None:
    fake = FakeGitHub(httpserver).install()
    client = make_forge(
        "github",
        ForgeConfig(repository="other/repo", api_url=fake.url),
        None,
        {"GH_TOKEN": fake.token},
    ).client
    with pytest.raises(ForgeError, match="404: the repository does not exist"):
        client.find_pulls("x")  # type: ignore[union-attr]
    api = ApiClient(
        "http://127.0.0.1:9",
        {},
        forge="GitHub",
        credential_variable="GITHUB_TOKEN",
        retry=RetryPolicy(attempts=2, sleep=Sleeps()),
    )
    with pytest.raises(ForgeError, match="unreachable"):
        api.request("GET", "x")


def test_missing_github_token_is_a_clear_error() -> None:
    with pytest.raises(ForgeError, match="set GITHUB_TOKEN or GH_TOKEN"):
        make_forge("github", ForgeConfig(repository="a/b"), None, {})


def test_gitlab_merge_requests_and_notes(httpserver: HTTPServer) -> None:
    fake = FakeGitLab(httpserver).install()
    target = make_forge(
        "gitlab",
        ForgeConfig(repository=fake.project, api_url=fake.url),
        None,
        {"GITLAB_TOKEN": fake.token},
    )
    client = target.client
    assert client is not None
    mr = client.create_pull("mlops-ci/promote/m/prod/2", "main", "Promote m", "desc")
    assert (mr.number, mr.state) == (1, "open")
    assert client.create_pull("mlops-ci/promote/m/prod/2", "main", "Promote m", "desc").number == 1
    client.add_labels(mr, ["mlops-ci", "promotion"])
    client.request_reviewers(mr, ["bob"])
    client.upsert_comment(mr, "<!-- x -->", "<!-- x -->\none")
    client.upsert_comment(mr, "<!-- x -->", "<!-- x -->\ntwo")
    assert [n["body"] for n in fake.notes] == ["<!-- x -->\ntwo"]
    assert fake.mrs[0]["labels"] == ["mlops-ci", "promotion"] and fake.mrs[0]["reviewer_ids"] == [
        42
    ]
    assert [p.head for p in client.open_pulls("mlops-ci/promote/m/prod/")] == [
        "mlops-ci/promote/m/prod/2"
    ]
    client.close_pull(mr, "superseded")
    assert fake.mrs[0]["state"] == "closed"


def test_gitlab_without_token_falls_back_to_push_options() -> None:
    target = make_forge("gitlab", ForgeConfig(), "git@gitlab.com:acme/models.git", {})
    assert target.client is None and target.push_options and target.repository == "acme/models"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/acme/models.git", ("github.com", "acme/models")),
        ("git@github.com:acme/models.git", ("github.com", "acme/models")),
        (
            "ssh://git@gitlab.example.com:2222/group/sub/project.git",
            ("gitlab.example.com", "group/sub/project"),
        ),
        ("https://x-access-token:abc@github.com/acme/models", ("github.com", "acme/models")),
        ("/tmp/origin.git", None),
    ],
)
def test_remote_parts(url: str, expected: tuple[str, str] | None) -> None:
    assert remote_parts(url) == expected


def test_detect_kind() -> None:
    assert detect_kind("auto", None, {"GITHUB_ACTIONS": "true"}) == "github"
    assert detect_kind("auto", None, {"GITLAB_CI": "true"}) == "gitlab"
    assert detect_kind("auto", "git@gitlab.com:a/b.git", {}) == "gitlab"
    assert detect_kind("auto", "/tmp/x.git", {}) == "none"
    assert detect_kind("none", "https://github.com/a/b", {}) == "none"


@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_a_configured_api_url_elsewhere_never_receives_the_token(kind: str) -> None:
    """forge.api_url comes from the pull request: it may not send the token to another host."""
    token = {"GITHUB_TOKEN": "t", "GITLAB_TOKEN": "t"}
    ci = {"GITHUB_API_URL": "https://api.github.com", "CI_API_V4_URL": "https://gl.example/api/v4"}
    evil = ForgeConfig(repository="o/r", api_url="https://collector.example/api")
    with pytest.raises(ForgeError, match="not on the forge's own host"):
        make_forge(kind, evil, None, {**token, **ci})  # type: ignore[arg-type]
    with pytest.raises(ForgeError, match="not on the forge's own host"):
        make_forge(kind, evil, "https://github.com/o/r.git", token)  # type: ignore[arg-type]
    # The pipeline may name any host, and a URL on the CI's own host is fine.
    pipeline = {**token, "MLOPS_CI_FORGE_API_URL": "https://collector.example/api"}
    assert make_forge(kind, evil, None, pipeline).client is not None  # type: ignore[arg-type]
    own = ForgeConfig(
        repository="o/r",
        api_url=ci["GITHUB_API_URL" if kind == "github" else "CI_API_V4_URL"] + "/x",
    )
    assert make_forge(kind, own, None, {**token, **ci}).client is not None  # type: ignore[arg-type]
