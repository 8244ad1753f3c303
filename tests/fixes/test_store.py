"""ProposalStore and StateStore on SQLite and PostgreSQL: ids, transitions, audit, restart."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.models import Anomaly, Diagnosis, Severity
from core.proposals import FixProposal, ProposalStatus
from fixes.persistence.db import Database
from fixes.persistence.state import StateStore
from fixes.persistence.store import InvalidTransition, ProposalNotFound, ProposalStore

NOW = datetime(2026, 11, 21, 2, 33, 0, tzinfo=UTC)


def _proposal(fingerprint: str = "fp1") -> FixProposal:
    anomaly = Anomaly(
        kind="repeated_error",
        fingerprint=fingerprint,
        template="KeyError at app.py",
        count=19,
        first_seen=NOW,
        last_seen=NOW,
        severity=Severity.HIGH,
    )
    diagnosis = Diagnosis(
        root_cause="unknown user id", severity_assessment=Severity.HIGH, confidence=0.8
    )
    return FixProposal(
        fingerprint=fingerprint,
        anomaly=anomaly,
        diagnosis=diagnosis,
        title="KeyError in orders()",
        created_at=NOW,
    )


def test_ids_are_unique_and_dated(database_url: str) -> None:
    store = ProposalStore(Database(database_url))
    first, second = store.add(_proposal()), store.add(_proposal())
    assert first.id == "fix_20261121_023300"
    assert second.id == "fix_20261121_023300_2"
    assert store.get(second.id).anomaly.count == 19


def test_transition_is_compare_and_set(database_url: str) -> None:
    store = ProposalStore(Database(database_url))
    proposal = store.add(_proposal())
    approved = store.transition(
        proposal.id, ProposalStatus.APPROVED, actor="U1", decided_by="U1", decided_at=NOW
    )
    assert approved.status is ProposalStatus.APPROVED and approved.decided_at == NOW
    with pytest.raises(InvalidTransition) as refused:
        store.transition(proposal.id, ProposalStatus.APPROVED, actor="U2")
    assert refused.value.current is ProposalStatus.APPROVED
    with pytest.raises(InvalidTransition):
        store.transition(proposal.id, ProposalStatus.REJECTED, actor="U2")
    with pytest.raises(ProposalNotFound):
        store.transition("fix_missing", ProposalStatus.APPROVED, actor="U1")
    actions = [e.action for e in store.audit_trail(proposal.id)]
    assert actions == ["proposed", "approved"]


def test_second_start_keeps_everything(database_url: str) -> None:
    store = ProposalStore(Database(database_url))
    proposal = store.add(_proposal())
    store.set_thread_ref(proposal.id, "C1:1.2")
    StateStore(store.db).set("cursor:file", {"offset": 42})
    store.db.dispose()

    reopened = ProposalStore(Database(database_url))
    assert reopened.get(proposal.id).thread_ref == "C1:1.2"
    assert reopened.open_for_fingerprint("fp1").id == proposal.id  # type: ignore[union-attr]
    assert StateStore(reopened.db).get("cursor:file") == {"offset": 42}


def test_claim_once_and_anomaly_totals(database_url: str) -> None:
    db = Database(database_url)
    state, store = StateStore(db), ProposalStore(db)
    assert state.claim_once("Ev1") is True
    assert state.claim_once("Ev1") is False
    anomaly = _proposal().anomaly
    assert store.record_anomaly(anomaly) == (19, True)
    assert store.record_anomaly(anomaly) == (38, False)


def test_only_one_of_many_concurrent_approvals_wins(database_url: str) -> None:
    import threading

    store = ProposalStore(Database(database_url))
    proposal = store.add(_proposal())
    barrier = threading.Barrier(8)
    winners: list[str] = []
    losers: list[ProposalStatus] = []

    def approve(actor: str) -> None:
        barrier.wait()
        try:
            store.transition(
                proposal.id,
                ProposalStatus.APPROVED,
                actor=actor,
                expected={ProposalStatus.PROPOSED},
                decided_by=actor,
            )
            winners.append(actor)
        except InvalidTransition as lost:
            losers.append(lost.current)

    threads = [threading.Thread(target=approve, args=(f"U{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert len(winners) == 1 and losers == [ProposalStatus.APPROVED] * 7
    assert store.get(proposal.id).decided_by == winners[0]
    assert [e.action for e in store.audit_trail(proposal.id)] == ["proposed", "approved"]


def test_audit_trail_keeps_every_transition_in_order(database_url: str) -> None:
    store = ProposalStore(Database(database_url))
    proposal = store.add(_proposal())
    store.transition(
        proposal.id, ProposalStatus.APPROVED, actor="U1", decided_by="U1", decided_at=NOW
    )
    store.transition(
        proposal.id, ProposalStatus.APPLYING, actor="mendbot", details={"owner": "host:/srv/app"}
    )
    store.audit(
        actor="mendbot",
        action="validation_output",
        proposal_id=proposal.id,
        details={"check": "command", "output": "1 failed", "at": NOW},
    )
    final = store.transition(
        proposal.id,
        ProposalStatus.ROLLED_BACK,
        actor="mendbot",
        error="validation failed (command)",
    )

    trail = store.audit_trail(proposal.id)
    assert [(e.action, e.actor) for e in trail] == [
        ("proposed", "mendbot"),
        ("approved", "U1"),
        ("applying", "mendbot"),
        ("validation_output", "mendbot"),
        ("rolled_back", "mendbot"),
    ]
    assert [e.id for e in trail] == sorted(e.id for e in trail)
    assert trail[2].details["owner"] == "host:/srv/app"
    assert trail[3].details["at"] == NOW.isoformat()
    assert trail[4].details["error"] == "validation failed (command)"
    assert all(e.at.tzinfo is not None for e in trail)
    assert final.error == "validation failed (command)" and final.updated_at is not None
    assert store.count_by_status() == {"rolled_back": 1}
    assert store.list(statuses={ProposalStatus.PROPOSED}) == []
    with pytest.raises(InvalidTransition):
        store.transition(proposal.id, ProposalStatus.APPLIED, actor="mendbot")


def test_bad_calls_are_refused_clearly(database_url: str) -> None:
    store = ProposalStore(Database(database_url))
    proposal = store.add(_proposal())
    with pytest.raises(ValueError, match="cannot set"):
        store.transition(proposal.id, ProposalStatus.APPROVED, actor="U1", title="x")
    with pytest.raises(ProposalNotFound):
        store.set_thread_ref("fix_missing", "C1:1")
    with pytest.raises(ProposalNotFound):
        store.get("fix_missing")
    assert store.add_seen_again(proposal.id, 3) == 3
    assert store.add_seen_again(proposal.id, 2) == 5
    naive = _proposal().model_copy(update={"created_at": datetime(2026, 1, 1)})
    with pytest.raises(Exception, match="naive datetime"):
        store.add(naive)


def test_anomaly_totals_keep_first_and_last_seen_in_utc(database_url: str) -> None:
    from datetime import timedelta, timezone

    store = ProposalStore(Database(database_url))
    anomaly = _proposal().anomaly
    later = anomaly.model_copy(
        update={
            "count": 2,
            "first_seen": NOW + timedelta(hours=1),
            "last_seen": (NOW + timedelta(hours=2)).astimezone(timezone(timedelta(hours=5))),
        }
    )
    store.record_anomaly(anomaly)
    store.record_anomaly(later)
    store.db.dispose()

    totals = ProposalStore(Database(database_url)).anomaly_totals("fp1")
    assert totals is not None
    assert totals["total_count"] == 21
    assert totals["first_seen"] == NOW and totals["first_seen"].tzinfo is not None
    assert totals["last_seen"] == NOW + timedelta(hours=2)
    assert totals["last_seen"].utcoffset() == timedelta(0)


def test_two_processes_creating_the_schema_at_once(tmp_path) -> None:
    import threading

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    barrier, errors = threading.Barrier(4), []

    def start() -> None:
        barrier.wait()
        try:
            ProposalStore(Database(url)).add(_proposal())
        except Exception as error:  # pragma: no cover - the assertion shows it
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert len(ProposalStore(Database(url)).list()) == 4


def test_anomaly_totals_widen_and_add_up_under_concurrency(database_url: str) -> None:
    import threading
    from datetime import timedelta

    store = ProposalStore(Database(database_url))
    base = _proposal().anomaly.model_copy(update={"count": 1})
    barrier = threading.Barrier(6)
    fresh: list[bool] = []

    def record(offset_hours: int) -> None:
        moment = NOW + timedelta(hours=offset_hours)
        barrier.wait()
        for _ in range(5):
            fresh.append(
                store.record_anomaly(
                    base.model_copy(update={"first_seen": moment, "last_seen": moment})
                )[1]
            )

    threads = [threading.Thread(target=record, args=(h,)) for h in (-3, -1, 0, 1, 2, 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    totals = store.anomaly_totals("fp1")
    assert totals is not None and totals["total_count"] == 30
    assert fresh.count(True) == 1
    assert totals["first_seen"] == NOW - timedelta(hours=3)
    assert totals["last_seen"] == NOW + timedelta(hours=4)
