"""Decisions: refusals, rejection, expiry, start-up recovery, and the Runtime that wires it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.notifier import InMemoryNotifier, ProposalEvent
from core.proposals import FixProposal, ProposalStatus
from fixes.apply.contract import ApplyOutcome
from fixes.apply.implementor import FixImplementor
from fixes.decisions import DecisionRefused, Decisions
from fixes.persistence.db import Database
from fixes.persistence.store import ProposalStore
from monitoring.runtime import build_runtime
from tests.fakes.git import RepoPair, git, make_repo
from tests.fakes.proposals import NOW, SERVICE, make_proposal


class ExplodingImplementor:
    """An implementor whose apply raises (a bug), to see Decisions record it."""

    def apply(
        self, proposal: FixProposal, *, approved_by: str, on_event: Callable[[ProposalEvent], None]
    ) -> ApplyOutcome:
        raise RuntimeError("boom")

    def recover_interrupted(self, *, applying: object = ()) -> dict[str, ApplyOutcome]:
        return {}


@pytest.fixture
def store(database_url: str):
    db = Database(database_url)
    yield ProposalStore(db)
    db.dispose()


@pytest.fixture
def service(tmp_path: Path) -> RepoPair:
    return make_repo(tmp_path, SERVICE)


def _decisions(
    store: ProposalStore, implementor=None, *, now: datetime = NOW, ttl: float = 3600.0
) -> Decisions:
    return Decisions(
        store=store,
        notifier=InMemoryNotifier(),
        implementor=implementor,
        proposal_ttl_seconds=ttl,
        clock=lambda: now,
    )


def _implementor(pair: RepoPair) -> FixImplementor:
    return FixImplementor(repo_path=pair.work)


def test_refusals_say_why(store: ProposalStore, service: RepoPair) -> None:
    decisions = _decisions(store, _implementor(service))
    investigate = store.add(make_proposal([], created_at=NOW))
    with pytest.raises(DecisionRefused) as refused:
        decisions.approve(investigate.id, actor="U1")
    assert refused.value.code == "not_implementable"
    with pytest.raises(DecisionRefused) as refused:
        decisions.approve("fix_20990101_000000", actor="U1")
    assert refused.value.code == "not_found"
    assert "no proposal fix_20990101_000000" in refused.value.reason

    no_repo = _decisions(store, None)
    proposal = store.add(make_proposal(created_at=NOW))
    with pytest.raises(DecisionRefused) as refused:
        no_repo.approve(proposal.id, actor="U1")
    assert refused.value.code == "no_repository"
    assert store.get(proposal.id).status is ProposalStatus.PROPOSED


def test_reject_records_reason_and_closes_the_proposal(store: ProposalStore) -> None:
    decisions = _decisions(store)
    proposal = store.add(make_proposal(created_at=NOW))

    rejected = decisions.reject(proposal.id, actor="U2", reason="we will redesign orders()")

    assert rejected.status is ProposalStatus.REJECTED and rejected.decided_by == "U2"
    last = store.audit_trail(proposal.id)[-1]
    assert (last.action, last.actor, last.details["reason"]) == (
        "rejected",
        "U2",
        "we will redesign orders()",
    )
    with pytest.raises(DecisionRefused) as again:
        decisions.reject(proposal.id, actor="U3")
    assert again.value.code == "not_open" and "already rejected" in again.value.reason
    with pytest.raises(DecisionRefused):
        decisions.approve(proposal.id, actor="U3")


def test_expired_proposals_cannot_be_approved(store: ProposalStore, service: RepoPair) -> None:
    old = store.add(make_proposal(created_at=NOW - timedelta(hours=30)))
    fresh = store.add(make_proposal(created_at=NOW - timedelta(hours=1), fingerprint="f2"))
    decisions = _decisions(store, _implementor(service), ttl=24 * 3600)

    with pytest.raises(DecisionRefused) as refused:
        decisions.approve(old.id, actor="U1")

    assert refused.value.code == "expired"
    assert store.get(old.id).status is ProposalStatus.EXPIRED
    assert decisions.expire_stale() == []
    assert store.get(fresh.id).status is ProposalStatus.PROPOSED


def test_a_bug_in_the_implementor_is_recorded_not_raised(store: ProposalStore) -> None:
    decisions = _decisions(store, ExplodingImplementor())
    proposal = store.add(make_proposal(created_at=NOW))

    final = decisions.implement(proposal.id, actor="U1")

    assert final.status is ProposalStatus.FAILED
    assert final.error == "internal error: boom"


def test_implementing_twice_applies_once(store: ProposalStore, service: RepoPair) -> None:
    decisions = _decisions(store, _implementor(service), now=datetime.now(UTC))
    proposal = store.add(make_proposal())
    assert decisions.implement(proposal.id, actor="U1").status is ProposalStatus.APPLIED
    with pytest.raises(DecisionRefused) as refused:
        decisions.implement(proposal.id, actor="U1")
    assert refused.value.code == "not_open" and "already applied" in refused.value.reason
    with pytest.raises(DecisionRefused):
        decisions.execute(proposal.id)
    assert git(service.bare, "rev-list", "--count", "main") == "2"


def _stuck(
    store: ProposalStore, status: ProposalStatus, owner: str | None, fingerprint: str
) -> FixProposal:
    proposal = store.add(make_proposal(fingerprint=fingerprint))
    store.transition(
        proposal.id, ProposalStatus.APPROVED, actor="U1", decided_by="U1", decided_at=NOW
    )
    if status is ProposalStatus.APPLYING:
        store.transition(
            proposal.id,
            ProposalStatus.APPLYING,
            actor="mendbot",
            details={"owner": owner} if owner else None,
        )
    return store.get(proposal.id)


def test_recover_tells_dead_applies_from_live_ones(store: ProposalStore, service: RepoPair) -> None:
    implementor = _implementor(service)
    here = _stuck(store, ProposalStatus.APPLYING, implementor.location, "here")
    elsewhere = _stuck(store, ProposalStatus.APPLYING, "other-host:/srv/app", "elsewhere")
    waiting = _stuck(store, ProposalStatus.APPROVED, None, "waiting")
    now = datetime.now(UTC)

    changed = _decisions(store, implementor, now=now).recover()

    assert [p.id for p in changed] == [here.id]
    assert store.get(here.id).status is ProposalStatus.ROLLED_BACK
    assert store.get(here.id).error == "interrupted"
    assert store.get(elsewhere.id).status is ProposalStatus.APPLYING
    assert store.get(waiting.id).status is ProposalStatus.APPROVED

    later = _decisions(store, implementor, now=now + timedelta(hours=2)).recover()

    assert {p.id for p in later} == {elsewhere.id, waiting.id}
    assert "approved but never started" in (store.get(waiting.id).error or "")
    assert store.get(elsewhere.id).status is ProposalStatus.FAILED


def test_the_periodic_sweep_finishes_a_dead_apply(store: ProposalStore, service) -> None:
    implementor = _implementor(service)
    proposal = store.add(make_proposal())
    decisions = _decisions(store, implementor, now=datetime.now(UTC))
    decisions.approve(proposal.id, actor="U1")
    approved_elsewhere = _stuck(store, ProposalStatus.APPROVED, None, "fp2")
    store.audit(
        actor="U1",
        action="approved",
        proposal_id=approved_elsewhere.id,
        details={"owner": "other-host:/srv/app"},
    )
    store.transition(proposal.id, ProposalStatus.APPLYING, actor="mendbot")  # then killed

    changed = decisions.expire_stale()

    assert [p.id for p in changed] == [proposal.id]
    assert store.get(proposal.id).status is ProposalStatus.ROLLED_BACK
    assert store.get(approved_elsewhere.id).status is ProposalStatus.APPROVED
    much_later = _decisions(store, implementor, now=datetime.now(UTC) + timedelta(minutes=30))
    assert much_later.expire_stale() == []  # another checkout's approval: give it an hour


def test_recover_without_a_repository_never_guesses(store: ProposalStore) -> None:
    stuck = _stuck(store, ProposalStatus.APPLYING, None, "fp")
    assert _decisions(store, None, now=datetime.now(UTC)).recover() == []
    assert store.get(stuck.id).status is ProposalStatus.APPLYING


def test_recover_finds_a_push_that_went_through(store: ProposalStore, service: RepoPair) -> None:
    implementor = _implementor(service)
    stuck = _stuck(store, ProposalStatus.APPLYING, implementor.location, "fp")
    (service.work / "README.md").write_text("# fixed\n")
    git(service.work, "commit", "-q", "-am", f"Auto-fix: x\n\nFix-Id: {stuck.id}")
    git(service.work, "push", "-q", "origin", "main")

    [done] = _decisions(store, implementor, now=datetime.now(UTC)).recover()

    assert done.status is ProposalStatus.APPLIED and done.commit_sha == service.remote_head()


def test_recover_waits_for_nobody_while_an_apply_is_live(
    store: ProposalStore,
    service: RepoPair,
) -> None:
    implementor = _implementor(service)
    stuck = _stuck(store, ProposalStatus.APPLYING, implementor.location, "fp")
    holding, release = threading.Event(), threading.Event()

    def live_apply() -> None:
        with implementor.exclusive(wait_seconds=0) as held:
            assert held
            holding.set()
            release.wait(10)

    worker = threading.Thread(target=live_apply)
    worker.start()
    try:
        assert holding.wait(10)
        assert _decisions(store, _implementor(service), now=datetime.now(UTC)).recover() == []
        assert store.get(stuck.id).status is ProposalStatus.APPLYING
    finally:
        release.set()
        worker.join()


def test_runtime_recovers_first_and_can_swap_its_notifier(
    make_settings,
    database_url: str,
    service: RepoPair,
) -> None:
    settings = make_settings(database_url=database_url, target_repo_path=service.work)
    first = build_runtime(settings)
    stuck = _stuck(first.store, ProposalStatus.APPLYING, None, "fp")
    first.close()

    runtime = build_runtime(settings)
    try:
        assert [p.id for p in runtime.recovered] == [stuck.id]
        assert runtime.implementor is not None
        notifier = InMemoryNotifier()
        runtime.with_notifier(notifier)
        proposal = runtime.store.add(make_proposal(fingerprint="other"))
        runtime.decisions.reject(proposal.id, actor="U1")
        assert notifier.event_kinds(proposal.id) == ["rejected"]
    finally:
        runtime.close()
    no_repo = build_runtime(make_settings(database_url=database_url))
    assert no_repo.implementor is None
    no_repo.close()
