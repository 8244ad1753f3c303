"""PullRequestFollower: fixes waiting on their pull requests, on a fake GitHub whose merges
are real merge commits in a bare remote; merged -> applied (hook called), closed ->
rejected; GitHub trouble and odd answers change nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.notifier import InMemoryNotifier
from core.proposals import FixProposal, ProposalStatus
from fixes.apply.github import GitHubClient
from fixes.pull_requests import CLOSED_REASON, PullRequestFollower
from monitoring.runtime import Runtime, build_follower, build_runtime
from tests.fakes.git import RepoPair, git, make_repo, protect_branch
from tests.fakes.github import TOKEN, FakeGitHub, github_error
from tests.fakes.proposals import SERVICE, make_proposal


@pytest.fixture
def service(tmp_path: Path) -> RepoPair:
    pair = make_repo(tmp_path, SERVICE)
    protect_branch(pair.bare, "main")
    return pair


@pytest.fixture
def github(service: RepoPair) -> Iterator[FakeGitHub]:
    with FakeGitHub(bare=service.bare) as fake:
        yield fake


class Delivered:
    """Records ``on_delivered`` calls (the hook deploy tracking plugs into)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ProposalStatus, str]] = []

    def __call__(self, proposal: FixProposal, commit_sha: str) -> None:
        self.calls.append((proposal.id, proposal.status, commit_sha))


@pytest.fixture
def runtime(make_settings, database_url: str, service: RepoPair, github: FakeGitHub):
    settings = make_settings(
        database_url=database_url,
        target_repo_path=service.work,
        delivery="pull_request",
        github_token=TOKEN,
        github_repository=github.repository,
        github_api_url=github.url,
    )
    built = build_runtime(settings, notifier=InMemoryNotifier())
    assert built.github is not None
    built.github._sleep = lambda _seconds: None  # no real waits between retries
    yield built
    built.close()


def _waiting(runtime: Runtime, fingerprint: str = "3f2a9c0d1e4b5a69") -> FixProposal:
    proposal = runtime.store.add(make_proposal(fingerprint=fingerprint))
    waiting = runtime.decisions.implement(proposal.id, actor="U0ALICE")
    assert waiting.status is ProposalStatus.AWAITING_MERGE, waiting.error
    return waiting


def _follower(runtime: Runtime, hook: Delivered) -> PullRequestFollower:
    follower = build_follower(runtime, on_delivered=hook)
    assert follower is not None
    return follower


def _kinds(runtime: Runtime, proposal_id: str) -> list[str]:
    assert isinstance(runtime.notifier, InMemoryNotifier)
    return runtime.notifier.event_kinds(proposal_id)


def test_an_open_pull_request_changes_nothing(runtime: Runtime, github: FakeGitHub) -> None:
    waiting, hook = _waiting(runtime), Delivered()

    result = _follower(runtime, hook).follow()

    assert result.changed == [] and result.notes == []
    assert runtime.store.get(waiting.id).status is ProposalStatus.AWAITING_MERGE
    assert len(github.requests("GET", "/1")) == 1 and hook.calls == []


def test_merged_becomes_applied_with_the_merge_commit_and_calls_the_hook_once(
    runtime: Runtime, github: FakeGitHub, service: RepoPair
) -> None:
    waiting, hook = _waiting(runtime), Delivered()
    merge_sha = github.merge(1)
    follower = _follower(runtime, hook)

    [applied] = follower.follow().changed
    again = follower.follow()

    assert applied.status is ProposalStatus.APPLIED
    assert applied.commit_sha == merge_sha == service.remote_head("main")
    assert git(service.bare, "rev-parse", "main^2") == waiting.commit_sha  # the fix merged in
    assert hook.calls == [(waiting.id, ProposalStatus.APPLIED, merge_sha)]
    assert again.changed == [] and len(hook.calls) == 1
    event = runtime.store.audit_trail(waiting.id)[-1]
    assert event.action == "applied" and event.details["commit_sha"] == merge_sha
    assert event.details["pull_request"]["url"] == "https://github.com/acme/orders/pull/1"
    assert event.details["pull_request"]["merge_commit_sha"] == merge_sha
    assert _kinds(runtime, waiting.id)[-1] == "pull_request_merged"


def test_closed_without_merge_is_rejected_and_the_branch_is_left(
    runtime: Runtime, github: FakeGitHub, service: RepoPair
) -> None:
    waiting, hook = _waiting(runtime), Delivered()
    branch = f"mendbot/{waiting.id}"
    tip, main = service.remote_head(branch), service.remote_head("main")
    github.close(1)

    [rejected] = _follower(runtime, hook).follow().changed

    assert rejected.status is ProposalStatus.REJECTED and rejected.decided_by == "github"
    event = runtime.store.audit_trail(waiting.id)[-1]
    assert (event.action, event.details["reason"]) == ("rejected", CLOSED_REASON)
    assert event.details["pull_request"]["number"] == 1
    assert service.remote_head(branch) == tip and service.remote_head("main") == main
    assert hook.calls == [] and _kinds(runtime, waiting.id)[-1] == "pull_request_closed"
    assert runtime.store.open_for_fingerprint(waiting.fingerprint) is None


def test_github_down_changes_nothing_and_the_next_cycle_catches_up(
    runtime: Runtime, github: FakeGitHub
) -> None:
    waiting, hook = _waiting(runtime), Delivered()
    github.merge(1)
    github.fail_next(*[github_error(503, "Service Unavailable")] * 4)
    follower = _follower(runtime, hook)

    down = follower.follow()
    up = follower.follow()

    assert down.changed == [] and "HTTP 503" in down.notes[0] and waiting.id in down.notes[0]
    assert [p.id for p in up.changed] == [waiting.id] and len(hook.calls) == 1


def test_a_failing_hook_does_not_undo_the_merge(runtime: Runtime, github: FakeGitHub) -> None:
    waiting = _waiting(runtime)
    github.merge(1)

    def broken(_proposal: FixProposal, _sha: str) -> None:
        raise RuntimeError("deploy follower crashed")

    assert runtime.github is not None
    follower = PullRequestFollower(
        store=runtime.store, notifier=runtime.notifier, github=runtime.github, on_delivered=broken
    )
    result = follower.follow()

    assert runtime.store.get(waiting.id).status is ProposalStatus.APPLIED
    assert "deploy tracking did not start: deploy follower crashed" in result.notes[0]


def test_two_processes_following_record_the_merge_once(
    runtime: Runtime, github: FakeGitHub, make_settings, database_url: str
) -> None:
    waiting, hook = _waiting(runtime), Delivered()
    github.merge(1)
    followers = [_follower(runtime, hook) for _ in range(2)]
    other = build_runtime(
        make_settings(
            database_url=database_url,
            delivery="pull_request",
            github_token=TOKEN,
            github_repository=github.repository,
            github_api_url=github.url,
        )
    )
    followers.append(_follower(other, hook))
    start = threading.Barrier(len(followers))

    def run(follower: PullRequestFollower) -> None:
        start.wait()
        follower.follow()

    threads = [threading.Thread(target=run, args=(f,)) for f in followers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    other.close()

    assert len(hook.calls) == 1
    trail = runtime.store.audit_trail(waiting.id)
    assert [e.action for e in trail].count("applied") == 1


# --- odd answers -------------------------------------------------------------------------------


def test_a_pull_request_of_another_branch_is_not_taken_for_ours(
    runtime: Runtime, github: FakeGitHub
) -> None:
    waiting, hook = _waiting(runtime), Delivered()
    github.merge(1)
    github.pulls[1]["head"]["ref"] = "feature/someone-elses"  # e.g. GITHUB_REPOSITORY changed

    result = _follower(runtime, hook).follow()

    assert result.changed == [] and "not mendbot/" in result.notes[0]
    assert runtime.store.get(waiting.id).status is ProposalStatus.AWAITING_MERGE
    assert hook.calls == []


def test_merged_without_a_merge_commit_is_not_recorded(
    runtime: Runtime, github: FakeGitHub
) -> None:
    waiting, hook = _waiting(runtime), Delivered()
    github.pulls[1].update(state="closed", merged=True, merge_commit_sha=None)

    result = _follower(runtime, hook).follow()

    assert result.changed == [] and "no merge commit" in result.notes[0]
    assert runtime.store.get(waiting.id).status is ProposalStatus.AWAITING_MERGE


def test_a_repository_that_disappeared_is_a_note_naming_the_setting(
    runtime: Runtime, github: FakeGitHub
) -> None:
    waiting, hook = _waiting(runtime), Delivered()
    assert runtime.github is not None
    moved = GitHubClient(
        client=runtime.github.client,
        api_url=github.url,
        token=TOKEN,
        repository="acme/renamed",
        sleep=lambda _s: None,
    )
    follower = PullRequestFollower(
        store=runtime.store, notifier=runtime.notifier, github=moved, on_delivered=hook
    )

    result = follower.follow()

    assert result.changed == [] and "GITHUB_REPOSITORY" in result.notes[0]
    assert runtime.store.get(waiting.id).status is ProposalStatus.AWAITING_MERGE


def test_no_follower_without_pull_request_delivery(make_settings, service: RepoPair) -> None:
    plain = build_runtime(make_settings(target_repo_path=service.work))
    try:
        assert build_follower(plain) is None
    finally:
        plain.close()
