"""Pull-request delivery: the validated fix lands on ``mendbot/<id>`` of a real bare remote
whose ``main`` is protected, and a pull request is opened on a fake GitHub."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.notifier import InMemoryNotifier
from core.proposals import ProposalStatus
from monitoring.runtime import Runtime, build_runtime
from tests.fakes.git import RepoPair, git, make_repo, protect_branch
from tests.fakes.github import TOKEN, FakeGitHub, github_error
from tests.fakes.proposals import SERVICE, make_proposal, tree_hashes
from tests.fakes.server import Request

ALICE = "U0ALICE"


@pytest.fixture
def service(tmp_path: Path) -> RepoPair:
    pair = make_repo(tmp_path, SERVICE)
    protect_branch(pair.bare, "main")
    return pair


@pytest.fixture
def github(service: RepoPair) -> Iterator[FakeGitHub]:
    with FakeGitHub(bare=service.bare) as fake:
        yield fake


@pytest.fixture
def runtime_for(make_settings, database_url: str, service: RepoPair, github: FakeGitHub):
    built: list[Runtime] = []

    def factory(**overrides: object) -> Runtime:
        options: dict[str, object] = {
            "database_url": database_url,
            "target_repo_path": service.work,
            "delivery": "pull_request",
            "github_token": TOKEN,
            "github_repository": github.repository,
            "github_api_url": github.url,
        }
        options.update(overrides)
        built.append(build_runtime(make_settings(**options), notifier=InMemoryNotifier()))
        return built[-1]

    yield factory
    for runtime in built:
        runtime.close()


def _notifier(runtime: Runtime) -> InMemoryNotifier:
    assert isinstance(runtime.notifier, InMemoryNotifier)
    return runtime.notifier


def _clean_on_main(service: RepoPair, main_before: str) -> None:
    """The checkout is on main at the remote's unchanged head, with nothing to commit."""
    assert service.remote_head("main") == main_before
    assert git(service.work, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert service.head() == main_before
    assert git(service.work, "status", "--porcelain") == ""
    assert git(service.work, "rev-list", "--count", "origin/main..main") == "0"
    assert not (service.work / ".git" / "mendbot" / "journal.json").exists()


def test_approved_fix_goes_to_its_branch_and_a_pull_request_into_protected_main(
    runtime_for, service: RepoPair, github: FakeGitHub
) -> None:
    runtime = runtime_for()
    proposal = runtime.store.add(make_proposal())
    main_before, files_before = service.remote_head("main"), tree_hashes(service.work)

    final = runtime.decisions.implement(proposal.id, actor=ALICE)

    assert final.status is ProposalStatus.AWAITING_MERGE, final.error
    branch = f"mendbot/{proposal.id}"
    assert final.commit_sha == service.remote_head(branch)
    assert git(service.bare, "rev-parse", f"{branch}^") == main_before
    assert f"Fix-Id: {proposal.id}" in service.remote_message(branch)
    assert '.get(body["user_id"])' in git(service.bare, "show", f"{branch}:app.py")
    _clean_on_main(service, main_before)
    assert tree_hashes(service.work) == files_before

    [sent] = github.requests("POST")
    request = sent.json()
    assert (request["head"], request["base"]) == (branch, "main")
    assert request["title"] == "Auto-fix: KeyError in orders()"
    assert "orders() looks up users that were never registered." in request["body"]
    assert ALICE in request["body"] and final.commit_sha[:12] in request["body"]
    assert "app.py | +3 -1 (1 edit)" in request["body"]

    url = "https://github.com/acme/orders/pull/1"
    kinds = _notifier(runtime).event_kinds(proposal.id)
    assert kinds == ["approved", "applying", "validation_passed", "pull_request_opened"]
    opened = _notifier(runtime).events[-1][1]
    assert opened.details["pull_request"]["url"] == url
    assert opened.details["pull_request"]["branch"] == branch
    [waiting] = [e for e in runtime.store.audit_trail(proposal.id) if e.action == "awaiting_merge"]
    assert waiting.details["pull_request"]["url"] == url
    assert waiting.details["pull_request"]["number"] == 1


def test_the_same_protected_remote_refuses_a_plain_push(
    runtime_for, service: RepoPair, github: FakeGitHub
) -> None:
    runtime = runtime_for(delivery="push")
    proposal = runtime.store.add(make_proposal())
    main_before = service.remote_head("main")

    final = runtime.decisions.implement(proposal.id, actor=ALICE)

    assert final.status is ProposalStatus.FAILED
    assert "Protected branch update failed" in (final.error or "")
    assert service.remote_head("main") == main_before
    assert github.server.requests == []


def test_a_second_fix_after_the_first_starts_from_the_unchanged_main(
    runtime_for, service: RepoPair, github: FakeGitHub
) -> None:
    runtime = runtime_for()
    first = runtime.store.add(make_proposal())
    runtime.decisions.implement(first.id, actor=ALICE)
    second = runtime.store.add(make_proposal(fingerprint="0b1c2d3e4f5a6b7c"))

    final = runtime.decisions.implement(second.id, actor=ALICE)

    assert final.status is ProposalStatus.AWAITING_MERGE, final.error
    main = service.remote_head("main")
    assert git(service.bare, "rev-parse", f"mendbot/{second.id}^") == main
    assert [p["number"] for p in github.pulls.values()] == [1, 2]


def test_a_pull_request_a_person_opened_first_is_reused(
    runtime_for, service: RepoPair, github: FakeGitHub
) -> None:
    runtime = runtime_for()
    proposal = runtime.store.add(make_proposal())
    branch = f"mendbot/{proposal.id}"

    def person_was_quicker(_request: Request) -> None:
        github.open_pull(head=branch, title="opened by hand from the pushed branch")

    github.fail_next(person_was_quicker)

    final = runtime.decisions.implement(proposal.id, actor=ALICE)

    assert final.status is ProposalStatus.AWAITING_MERGE, final.error
    assert len(github.pulls) == 1
    assert [r.method for r in github.requests()] == ["POST", "GET"]
    opened = _notifier(runtime).events[-1][1]
    assert opened.details["pull_request"]["number"] == 1


def test_refused_token_fails_with_the_branch_named_and_main_untouched(
    runtime_for, service: RepoPair, github: FakeGitHub
) -> None:
    runtime = runtime_for(github_token="ghp_revokedrevokedrevokedrevoked01")
    proposal = runtime.store.add(make_proposal())
    main_before = service.remote_head("main")

    final = runtime.decisions.implement(proposal.id, actor=ALICE)

    assert final.status is ProposalStatus.FAILED
    branch = f"mendbot/{proposal.id}"
    reason = final.error or ""
    assert "GITHUB_TOKEN" in reason and branch in reason and "ghp_revoked" not in reason
    assert service.remote_head(branch) == final.commit_sha  # nothing is lost
    _clean_on_main(service, main_before)
    assert github.pulls == {}


def test_github_down_for_a_moment_is_retried(
    runtime_for, service: RepoPair, github: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = runtime_for()
    assert runtime.github is not None
    slept: list[float] = []
    monkeypatch.setattr(runtime.github, "_sleep", slept.append)
    github.fail_next(github_error(502, "Server Error"), github_error(503, "Unavailable"))
    proposal = runtime.store.add(make_proposal())

    final = runtime.decisions.implement(proposal.id, actor=ALICE)

    assert final.status is ProposalStatus.AWAITING_MERGE, final.error
    assert len(github.requests("POST")) == 3 and slept == [1.0, 2.0]


def test_a_stale_branch_of_that_name_is_never_overwritten(
    runtime_for, service: RepoPair, github: FakeGitHub, tmp_path: Path
) -> None:
    runtime = runtime_for()
    proposal = runtime.store.add(make_proposal())
    branch = f"mendbot/{proposal.id}"
    other = tmp_path / "elsewhere"
    git(tmp_path, "clone", "-q", str(service.bare), str(other))
    (other / "README.md").write_text("# someone else's work\n")
    git(other, "commit", "-q", "-am", "unrelated work on a branch of that name")
    git(other, "push", "-q", "origin", f"HEAD:refs/heads/{branch}")
    theirs, main_before = service.remote_head(branch), service.remote_head("main")

    final = runtime.decisions.implement(proposal.id, actor=ALICE)

    assert final.status is ProposalStatus.FAILED
    assert service.remote_head(branch) == theirs  # never forced
    assert "refused" in (final.error or "") and branch in (final.error or "")
    assert f"Fix-Id: {proposal.id}" in git(service.work, "log", "-1", "--format=%B", branch)
    _clean_on_main(service, main_before)
    assert github.pulls == {}


def test_terminal_implement_opens_the_pull_request_and_exits_0(
    service: RepoPair, github: FakeGitHub, database_url: str, monkeypatch, tmp_path: Path, capsys
) -> None:
    from bot.cli.main import main
    from settings import get_settings

    env = {
        "DATABASE_URL": database_url,
        "TARGET_REPO_PATH": str(service.work),
        "MENDBOT_DELIVERY": "pull_request",
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": github.repository,
        "GITHUB_API_URL": github.url,
    }
    monkeypatch.chdir(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        runtime = build_runtime(get_settings())
        proposal = runtime.store.add(make_proposal())
        runtime.close()

        code = main(["fixes", "implement", proposal.id, "--as", "ops"])
    finally:
        get_settings.cache_clear()

    out, err = capsys.readouterr()
    assert code == 0, err
    assert "pull request opened: https://github.com/acme/orders/pull/1" in err
    assert f"{proposal.id} awaiting merge" in out
