"""Fix outcomes derived from the stored proposals and audit trail (SQLite and PostgreSQL):
grouping by source and anomaly kind and by fingerprint, rejection reasons, and the track
record a new proposal is calibrated by."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.actions import Action
from core.models import Diagnosis, Severity
from core.proposals import FixProposal, ProposalStatus
from fixes.persistence.db import Database
from fixes.persistence.outcomes import FixOutcomes
from fixes.persistence.store import ProposalStore
from tests.fakes.proposals import make_proposal

S = ProposalStatus
#: The transitions that take a new proposal to each outcome.
PATHS: dict[ProposalStatus, list[ProposalStatus]] = {
    S.VERIFIED: [S.APPROVED, S.APPLYING, S.APPLIED, S.VERIFIED],
    S.REGRESSED: [S.APPROVED, S.APPLYING, S.APPLIED, S.REGRESSED],
    S.REVERTED: [S.APPROVED, S.APPLYING, S.APPLIED, S.REGRESSED, S.REVERTED],
    S.ROLLED_BACK: [S.APPROVED, S.APPLYING, S.ROLLED_BACK],
    S.FAILED: [S.APPROVED, S.APPLYING, S.FAILED],
    S.REJECTED: [S.REJECTED],
    S.APPLIED: [S.APPROVED, S.APPLYING, S.APPLIED],
    S.PROPOSED: [],
}


@pytest.fixture
def store(database_url: str) -> Iterator[ProposalStore]:
    db = Database(database_url)
    yield ProposalStore(db)
    db.dispose()


def lm(proposal: FixProposal, model: str = "openai/gpt-4o-mini") -> FixProposal:
    diagnosis = proposal.diagnosis.model_copy(update={"source": "lm", "model": model})
    return proposal.model_copy(update={"diagnosis": diagnosis})


def fix_in(
    store: ProposalStore,
    status: ProposalStatus,
    *,
    fingerprint: str = "3f2a9c0d1e4b5a69",
    proposal: FixProposal | None = None,
    reason: str = "",
) -> FixProposal:
    """A stored fix taken through the real transitions to ``status``."""
    stored = store.add(proposal or make_proposal(fingerprint=fingerprint))
    for step in PATHS[status]:
        details = {"reason": reason} if step is S.REJECTED else None
        stored = store.transition(stored.id, step, actor="U0ALICE", details=details)
    return stored


def test_outcomes_are_grouped_by_source_and_kind_with_rejection_reasons(store) -> None:
    for status in (S.VERIFIED, S.VERIFIED, S.REGRESSED, S.ROLLED_BACK, S.APPLIED, S.FAILED):
        fix_in(store, status)
    fix_in(store, S.REJECTED, reason="too risky <!channel>")
    fix_in(store, S.REJECTED, reason="too risky <!channel>")
    fix_in(store, S.VERIFIED, proposal=lm(make_proposal()))
    fix_in(store, S.REVERTED, proposal=lm(make_proposal()))
    fix_in(store, S.PROPOSED)  # no outcome yet
    fix_in(store, S.REJECTED, proposal=make_proposal([]))  # needs investigation: not a fix
    action = Action(kind="restart", target="svc-1", trust="ask")
    fix_in(store, S.ROLLED_BACK, proposal=make_proposal().model_copy(update={"action": action}))

    playbook, model = FixOutcomes(store.db).stats()
    assert playbook.key == {"source": "playbook", "anomaly_kind": "repeated_error"}
    assert (playbook.verified, playbook.judged, playbook.failed_attempts) == (2, 4, 2)
    assert playbook.success_rate == 0.5
    row = playbook.to_json()
    assert (row["applied"], row["failed"], row["rejected"]) == (1, 1, 2)
    assert "proposed" not in row  # not an outcome
    assert row["rejected_reasons"] == {"too risky <!channel>": 2}
    assert model.key == {"source": "lm:openai/gpt-4o-mini", "anomaly_kind": "repeated_error"}
    assert (model.verified, model.judged, model.counts["reverted"]) == (1, 2, 1)


def test_outcomes_per_fingerprint_and_failed_attempts_since(store) -> None:
    first = fix_in(store, S.ROLLED_BACK, fingerprint="aaaaaaaaaaaaaaaa")
    fix_in(store, S.REGRESSED, fingerprint="aaaaaaaaaaaaaaaa")
    fix_in(store, S.VERIFIED, fingerprint="bbbbbbbbbbbbbbbb")
    outcomes = FixOutcomes(store.db)
    by_fp = {s.key["fingerprint"]: s for s in outcomes.stats_by_fingerprint()}
    assert by_fp["aaaaaaaaaaaaaaaa"].failed_attempts == 2
    assert by_fp["bbbbbbbbbbbbbbbb"].failed_attempts == 0
    failures = outcomes.failed_attempts("aaaaaaaaaaaaaaaa")
    assert [f.status for f in failures] == [S.ROLLED_BACK, S.REGRESSED]
    assert outcomes.failed_attempts("aaaaaaaaaaaaaaaa", since=failures[0].at)[0].status is (
        S.REGRESSED
    )
    assert first.id == failures[0].proposal_id


def test_a_new_fix_is_calibrated_by_fixes_of_its_kind(store) -> None:
    for status in [S.VERIFIED] * 7 + [S.REGRESSED, S.ROLLED_BACK, S.REJECTED, S.APPLIED]:
        fix_in(store, status)
    fix_in(store, S.REVERTED, proposal=lm(make_proposal()))  # another source: not counted
    outcomes = FixOutcomes(store.db)
    truncation = make_proposal().model_copy(
        update={"anomaly": make_proposal().anomaly.model_copy(update={"kind": "truncation"})}
    )
    no_edit = make_proposal([])
    same, other, investigate = outcomes.calibrate([make_proposal(), truncation, no_edit])

    record = same.track_record
    assert record is not None and record.sentence() == "fixes of this kind: 7 of 9 verified"
    assert record.confidence == pytest.approx((7 + 0.85 * 2) / (9 + 2))
    assert other.track_record is not None
    assert other.track_record.sentence() == "no fix of this kind judged yet"
    assert other.track_record.confidence == pytest.approx(0.85)
    assert investigate.track_record is None
    stored = store.add(same)  # kept with the proposal, as it was when proposed
    assert store.get(stored.id).track_record == record


def test_a_track_record_never_leaves_the_unit_range() -> None:
    from core.proposals import calibrated_confidence

    assert calibrated_confidence(1.0, 0, 50) == pytest.approx(2 / 52)
    assert calibrated_confidence(0.0, 50, 50) == pytest.approx(50 / 52)
    assert Diagnosis(root_cause="x", severity_assessment=Severity.LOW, confidence=1.0)
