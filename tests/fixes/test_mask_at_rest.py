"""Rows an older mendbot stored in clear are masked once, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import select

from core.models import Diagnosis, Severity
from core.proposals import Edit, FixProposal
from fixes.persistence.at_rest import MASKING_VERSION, MASKING_VERSION_KEY, mask_at_rest
from fixes.persistence.audit import AuditTrail
from fixes.persistence.db import AnomalyRow, AuditRow, Database, ProposalRow
from fixes.persistence.state import StateStore
from fixes.persistence.store import ProposalStore
from tests.fakes import anomalies as A
from tests.fakes.secrets_corpus import random_token

SECRET = "sk_live_" + random_token("at-rest", 40)
NOW = datetime(2026, 11, 21, 18, 30, tzinfo=UTC)


def _store_in_clear(db: Database) -> FixProposal:
    """What an older mendbot wrote: rows with the secret as it came from the log."""
    anomaly = A.keyerror(samples=[f"stripe said {SECRET}"], exception_message=f"'{SECRET}'")
    proposal = FixProposal(
        id="fix_20261121_183000",
        fingerprint=anomaly.fingerprint,
        anomaly=anomaly,
        diagnosis=Diagnosis(
            root_cause=f"key {SECRET} revoked", severity_assessment=Severity.HIGH, confidence=0.5
        ),
        title="KeyError in orders",
        edits=[Edit(path="app.py", old_text=f'KEY = "{SECRET}"\n', new_text="KEY = env()\n")],
        created_at=NOW,
        updated_at=NOW,
    )
    with db.session() as session:
        session.add(ProposalRow.from_proposal(proposal))
        session.add(
            AnomalyRow(
                fingerprint="f" * 16,
                kind="new_error",
                template=f"charge failed for {SECRET}",
                severity="HIGH",
                first_seen=NOW,
                last_seen=NOW,
                total_count=1,
            )
        )
        session.add(
            AuditRow(at=NOW, actor="mendbot", action="failed", details={"error": f"x {SECRET}"})
        )
    return proposal


def _dump(db: Database) -> str:
    """Every stored row but the proposals' edits (code, kept as it is)."""
    with db.session() as session:
        proposals = [
            {**row.model_dump(), "body": {k: v for k, v in row.body.items() if k != "edits"}}
            for row in session.exec(select(ProposalRow))
        ]
        others = [row.model_dump() for row in session.exec(select(AnomalyRow))]
        others += [row.model_dump() for row in session.exec(select(AuditRow))]
        return repr(proposals + others)


def test_stored_secrets_are_masked_once_and_edits_kept(database_url: str) -> None:
    db = Database(database_url)
    stored = _store_in_clear(db)
    assert SECRET in _dump(db)  # the test can fail

    changed = mask_at_rest(db)

    assert changed == 3
    proposal = ProposalStore(db).get(stored.id)
    assert proposal.edits == stored.edits  # code stays byte for byte
    assert SECRET not in _dump(db)
    assert proposal.diagnosis.root_cause == "key <SECRET_1> revoked"
    assert StateStore(db).get(MASKING_VERSION_KEY) == MASKING_VERSION
    assert mask_at_rest(db) == 0  # once per version


def test_new_rows_are_stored_masked(database_url: str) -> None:
    db = Database(database_url)
    AuditTrail(db).append(actor="mendbot", action="note", details={"why": f"token={SECRET}"})
    [event] = AuditTrail(db).events()
    assert event.details == {"why": "token=<SECRET_1>"}
