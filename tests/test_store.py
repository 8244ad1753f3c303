"""ProposalStore and StateStore on SQLite and PostgreSQL: ids, transitions, audit, restart."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fixes.db import Database
from fixes.models import FixProposal, ProposalStatus
from fixes.state import StateStore
from fixes.store import InvalidTransition, ProposalNotFound, ProposalStore
from monitoring.models import Anomaly, Diagnosis, Severity

NOW = datetime(2026, 11, 21, 2, 33, 0, tzinfo=UTC)


def _proposal(fingerprint: str = "fp1") -> FixProposal:
    anomaly = Anomaly(kind="repeated_error", fingerprint=fingerprint, template="KeyError at app.py",
                      count=19, first_seen=NOW, last_seen=NOW, severity=Severity.HIGH)
    diagnosis = Diagnosis(root_cause="unknown user id", severity_assessment=Severity.HIGH,
                          confidence=0.8)
    return FixProposal(fingerprint=fingerprint, anomaly=anomaly, diagnosis=diagnosis,
                       title="KeyError in orders()", created_at=NOW)


def test_ids_are_unique_and_dated(database_url: str) -> None:
    store = ProposalStore(Database(database_url))
    first, second = store.add(_proposal()), store.add(_proposal())
    assert first.id == "fix_20261121_023300"
    assert second.id == "fix_20261121_023300_2"
    assert store.get(second.id).anomaly.count == 19


def test_transition_is_compare_and_set(database_url: str) -> None:
    store = ProposalStore(Database(database_url))
    proposal = store.add(_proposal())
    approved = store.transition(proposal.id, ProposalStatus.APPROVED, actor="U1",
                                decided_by="U1", decided_at=NOW)
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
