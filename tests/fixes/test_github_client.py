"""GitHubClient against a fake GitHub that speaks the documented REST shapes, on a real
bare repository: open, reuse, follow; 401, 404, 422, 5xx, rate limits; hostile answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fixes.apply.github import (
    GitHubAuthError,
    GitHubClient,
    GitHubError,
    GitHubNotFound,
    GitHubRefused,
    GitHubUnavailable,
)
from tests.fakes.git import RepoPair, git, make_repo
from tests.fakes.github import TOKEN, FakeGitHub, github_error
from tests.fakes.server import Reply

NOW = 1_800_000_000.0
BRANCH = "mendbot/fix_20261121_023300"


@pytest.fixture
def pair(tmp_path: Path) -> RepoPair:
    """A repository whose remote has ``main`` and a pushed fix branch one commit ahead."""
    repo = make_repo(tmp_path, {"app.py": "x = 1\n"})
    git(repo.work, "checkout", "-q", "-b", BRANCH)
    (repo.work / "app.py").write_text("x = 2\n")
    git(repo.work, "commit", "-q", "-am", "Auto-fix: x")
    git(repo.work, "push", "-q", "origin", BRANCH)
    git(repo.work, "checkout", "-q", "main")
    return repo


@pytest.fixture
def github(pair: RepoPair) -> Iterator[FakeGitHub]:
    with FakeGitHub(bare=pair.bare) as fake:
        yield fake


class Rig:
    def __init__(self, github: FakeGitHub) -> None:
        self.github = github
        self.sleeps: list[float] = []
        self.http = httpx.Client(timeout=5)

    def client(self, **overrides: object) -> GitHubClient:
        options: dict[str, object] = {
            "client": self.http,
            "api_url": self.github.url,
            "token": TOKEN,
            "repository": self.github.repository,
            "sleep": self.sleeps.append,
            "clock": lambda: NOW,
        }
        options.update(overrides)
        return GitHubClient(**options)  # type: ignore[arg-type]

    def open(self, client: GitHubClient | None = None):
        return (client or self.client()).create_pull_request(
            head=BRANCH, base="main", title="Auto-fix: x", body="why"
        )


@pytest.fixture
def rig(github: FakeGitHub) -> Iterator[Rig]:
    made = Rig(github)
    yield made
    made.http.close()


def test_opens_a_pull_request_with_the_documented_request(rig: Rig, pair: RepoPair) -> None:
    pull = rig.open()

    [sent] = rig.github.requests("POST")
    assert sent.header("authorization") == f"Bearer {TOKEN}"
    assert sent.header("accept") == "application/vnd.github+json"
    assert sent.header("x-github-api-version") == "2022-11-28"
    assert sent.json() == {"title": "Auto-fix: x", "head": BRANCH, "base": "main", "body": "why"}
    assert (pull.number, pull.state, pull.merged) == (1, "open", False)
    assert pull.url == "https://github.com/acme/orders/pull/1"
    assert (pull.head_ref, pull.base_ref) == (BRANCH, "main")
    assert pull.head_sha == git(pair.bare, "rev-parse", BRANCH)


def test_already_exists_422_finds_and_reuses_the_open_pull_request(rig: Rig) -> None:
    first = rig.open()
    again = rig.open()

    assert again.number == first.number
    assert [r.method for r in rig.github.requests()] == ["POST", "POST", "GET"]
    [listed] = rig.github.requests("GET")
    assert listed.query == {"head": [f"acme:{BRANCH}"], "state": ["all"], "per_page": ["30"]}
    assert len(rig.github.pulls) == 1


def test_found_pull_request_prefers_the_open_one_and_reads_the_list_shape(rig: Rig) -> None:
    client = rig.client()
    first = rig.open(client)
    rig.github.close(first.number)
    second = rig.open(client)  # closed one does not block a new one

    found = client.find_pull_request(BRANCH)

    assert found is not None and found.number == second.number and found.state == "open"
    assert client.find_pull_request("mendbot/other") is None


def test_bad_token_is_a_clear_error_naming_github_token_and_is_not_retried(rig: Rig) -> None:
    with pytest.raises(GitHubAuthError) as caught:
        rig.open(rig.client(token="ghp_wrongwrongwrongwrongwrong0123"))

    assert "GITHUB_TOKEN" in str(caught.value) and "401" in str(caught.value)
    assert "ghp_wrong" not in str(caught.value)
    assert len(rig.github.requests()) == 1 and rig.sleeps == []


def test_unknown_repository_is_a_clear_error_naming_github_repository(rig: Rig) -> None:
    with pytest.raises(GitHubNotFound) as caught:
        rig.open(rig.client(repository="acme/no-such-repo"))

    assert "GITHUB_REPOSITORY" in str(caught.value) and "acme/no-such-repo" in str(caught.value)
    assert rig.sleeps == []


def test_server_errors_are_retried_with_backoff_then_succeed(rig: Rig) -> None:
    rig.github.fail_next(github_error(502, "Server Error"), Reply.text("<html>unicorn</html>", 503))

    pull = rig.open()

    assert pull.number == 1
    assert len(rig.github.requests("POST")) == 3
    assert rig.sleeps == [1.0, 2.0]


def test_server_errors_past_the_attempts_end_in_unavailable(rig: Rig) -> None:
    rig.github.fail_next(*[github_error(500, "Server Error")] * 4)

    with pytest.raises(GitHubUnavailable, match="HTTP 500"):
        rig.open()

    assert len(rig.github.requests("POST")) == 4
    assert rig.sleeps == [1.0, 2.0, 4.0]
    assert rig.github.pulls == {}


def test_429_with_retry_after_waits_as_long_as_github_says(rig: Rig) -> None:
    rig.github.fail_next(Reply.json({"message": "Too many requests"}, 429, **{"Retry-After": "7"}))

    assert rig.open().number == 1
    assert rig.sleeps == [7.0]


def test_primary_limit_waits_until_the_reset_time(rig: Rig) -> None:
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 30)}
    rig.github.fail_next(Reply.json({"message": "API rate limit exceeded"}, 403, **headers))

    assert rig.open().number == 1
    assert rig.sleeps == [30.0]


def test_secondary_limit_without_headers_waits_a_minute(rig: Rig) -> None:
    message = "You have exceeded a secondary rate limit. Please wait a few minutes."
    rig.github.fail_next(github_error(403, message))

    assert rig.open().number == 1
    assert rig.sleeps == [60.0]


def test_a_wait_longer_than_allowed_is_not_slept_but_reported(rig: Rig) -> None:
    rig.github.fail_next(Reply.json({"message": "slow down"}, 429, **{"Retry-After": "3600"}))

    with pytest.raises(GitHubUnavailable) as caught:
        rig.open()

    assert caught.value.retry_after_seconds == 3600.0
    assert "try again in 3600 s" in str(caught.value)
    assert rig.sleeps == [] and len(rig.github.requests()) == 1


def test_403_that_is_not_a_rate_limit_is_a_permission_error(rig: Rig) -> None:
    rig.github.fail_next(github_error(403, "Resource not accessible by personal access token"))

    with pytest.raises(GitHubAuthError, match="Pull requests: read and write"):
        rig.open()
    assert rig.sleeps == []


def test_branch_not_on_github_is_refused_with_githubs_reason(rig: Rig) -> None:
    with pytest.raises(GitHubRefused) as caught:
        rig.client().create_pull_request(
            head="mendbot/never-pushed", base="main", title="t", body="b"
        )

    assert caught.value.status == 422 and "head invalid" in str(caught.value)


def test_following_reads_merged_and_closed(rig: Rig, pair: RepoPair) -> None:
    client = rig.client()
    pull = rig.open(client)
    sha = rig.github.merge(pull.number)

    merged = client.get_pull_request(pull.number)

    assert merged.merged and merged.state == "closed"
    assert merged.merge_commit_sha == sha == pair.remote_head("main")
    assert merged.merged_at is not None and merged.merged_at.tzinfo is not None
    assert merged.summary()["merge_commit_sha"] == sha
    with pytest.raises(GitHubNotFound):
        client.get_pull_request(99)


def test_unreachable_github_is_unavailable_after_retries(rig: Rig) -> None:
    rig.github.server.stop()

    with pytest.raises(GitHubUnavailable, match="could not be reached"):
        rig.open()
    assert rig.sleeps == [1.0, 2.0, 4.0]


# --- hostile or broken answers ---------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"number": 1},
        {
            "number": 1,
            "html_url": "https://github.com/acme/orders/pull/1",
            "state": "open",
            "head": {"ref": BRANCH, "sha": "$(rm -rf /)"},
            "base": {"ref": "main"},
        },
        {
            "number": -3,
            "html_url": "x",
            "state": "merged",
            "head": {"ref": BRANCH, "sha": "a" * 40},
            "base": {"ref": "main"},
        },
    ],
)
def test_an_answer_of_the_wrong_shape_is_an_error_not_a_crash(rig: Rig, payload: object) -> None:
    rig.github.fail_next(Reply.json(payload, 201))

    with pytest.raises(GitHubError, match="unexpected shape"):
        rig.open()


def test_the_token_never_appears_in_an_error_even_when_echoed(rig: Rig) -> None:
    rig.github.fail_next(github_error(422, f"bad token {TOKEN} in Authorization: Bearer {TOKEN}"))

    with pytest.raises(GitHubRefused) as caught:
        rig.open()
    assert TOKEN not in str(caught.value)


def test_a_repository_that_is_not_owner_slash_name_is_refused_before_any_request(
    rig: Rig,
) -> None:
    bad_names = (
        "../../admin",
        "acme/..",
        "acme/orders\n",
        "acme/orders/pulls",
        "acme",
        "acme/orders?x=1",
    )
    for bad in bad_names:
        with pytest.raises(ValueError, match="owner/name"):
            rig.client(repository=bad)
    assert rig.github.server.requests == []


def test_the_runtime_client_follows_a_renamed_repository(
    rig: Rig, make_settings, github: FakeGitHub
) -> None:
    from monitoring.runtime import build_github

    number = rig.open().number
    moved = f"{github.url}/repos/{github.repository}/pulls/{number}"
    github.server.route(
        "GET", f"/repos/acme/old-name/pulls/{number}", Reply(301, headers={"Location": moved})
    )
    settings = make_settings(
        delivery="pull_request",
        github_token=TOKEN,
        github_repository="acme/old-name",
        github_api_url=github.url,
    )
    client = build_github(settings)
    assert client is not None
    try:
        assert client.get_pull_request(number).number == number
    finally:
        client.client.close()
