"""Every field of a FixProposal survives the database, on SQLite and PostgreSQL.

``SAMPLE`` gives every field, nested ones included, a value other than its default; a
test checks that it still does, so a field added to the model (or to the anomaly,
diagnosis or edits inside it) fails here until the sample sets it, and from then on the
round trips below check that the store keeps it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy
from pydantic import BaseModel, Field

from core.actions import Action
from core.models import Anomaly, Diagnosis, FrameModel, Severity
from core.proposals import (
    Edit,
    Evidence,
    FixProposal,
    ProposalStatus,
    RegressionTest,
    Risk,
    TrackRecord,
)
from fixes.persistence.db import PROPOSAL_COLUMNS, Database, ProposalRow, SchemaMismatch
from fixes.persistence.store import ProposalStore

NOW = datetime(2026, 11, 21, 2, 33, 0, tzinfo=UTC)
PLUS_5 = timezone(timedelta(hours=5))

SAMPLE = FixProposal(
    id="fix_ignored_by_add",
    fingerprint="3f2a9c0d1e4b5a69",
    anomaly=Anomaly(
        kind="new_error",
        fingerprint="3f2a9c0d1e4b5a69",
        template="KeyError at /app/app.py:orders",
        count=19,
        first_seen=NOW - timedelta(minutes=5),
        last_seen=NOW.astimezone(PLUS_5),
        severity=Severity.CRITICAL,
        samples=["Traceback ...\nKeyError: 'u42'", "ünïcödé ✓"],
        exception_type="KeyError",
        exception_message="'u42'",
        frames=[FrameModel(file="/app/app.py", line=9, function="orders")],
        logger="app.orders",
        service="orders-api",
        summary="KeyError in orders (app.py:9), 19 times",
        details={"share": 0.25, "limits": [1, 2], "nested": {"a": None}},
    ),
    diagnosis=Diagnosis(
        root_cause="orders() looks up users that were never registered.",
        severity_assessment=Severity.HIGH,
        affected_components=["app.py:orders"],
        confidence=0.85,
        source="lm",
        model="openai/gpt-4o-mini",
        evidence=["19 KeyError events", "line 9: STATS['users'][...]"],
    ),
    title="KeyError in orders()",
    edits=[
        Edit(path="app.py", old_text="a\r\n", new_text="b\r\n"),
        Edit(path="lib/new.py", old_text="", new_text="X = 1\n"),
    ],
    reasoning="Unknown users get a clear error instead of a 500.",
    evidence=[
        Evidence(
            kind="emitter",
            path="app.py",
            line=9,
            function="orders",
            code_sha256="ab" * 32,
            detail="unknown user ✓",
        )
    ],
    risk=Risk.HIGH,
    risk_notes="callers may rely on the KeyError",
    risk_reasons=["adds a shell command call (os.system)", "removes an assertion"],
    notes=["an LM edit was dropped: it touched .env"],
    status=ProposalStatus.APPLIED,
    created_at=NOW,
    updated_at=NOW + timedelta(seconds=1),
    decided_by="U123",
    decided_at=(NOW + timedelta(seconds=2)).astimezone(PLUS_5),
    commit_sha="0123456789abcdef0123456789abcdef01234567",
    error="validation failed (command)",
    thread_ref="C1:1700000000.1",
    seen_again=7,
    regression_test=RegressionTest(
        path="tests/mendbot/test_fix_20261121_023300.py",  # what add() makes of the id
        content="def test_orders():\n    assert orders({}) is not None\n",
        fails_with="KeyError",
        reaches="POST /orders",
    ),
    proven=True,
    action=Action(
        kind="rollback",
        target="svc-1",
        trust="auto",
        rule="alert-down-rollback",
        params={"environment_id": "env-2"},
    ),
    track_record=TrackRecord(
        source="lm:openai/gpt-4o-mini",
        anomaly_kind="new_error",
        verified=7,
        judged=9,
        confidence=0.79,
    ),
)
#: Fields that ``ProposalStore.add`` sets itself, whatever the proposal says.
SET_BY_ADD = {"id", "status", "updated_at"}


def _left_at_default(model: BaseModel, prefix: str = "") -> list[str]:
    """Dotted names of the fields of ``model`` (recursively) that hold their default."""
    found = []
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        if not info.is_required() and value == info.get_default(call_default_factory=True):
            found.append(prefix + name)
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            if isinstance(item, BaseModel):
                suffix = f"[{index}]" if isinstance(value, list) else ""
                found += _left_at_default(item, f"{prefix}{name}{suffix}.")
    return found


def _differences(got: FixProposal, want: FixProposal, skip: set[str]) -> dict[str, Any]:
    return {
        name: (getattr(got, name), getattr(want, name))
        for name in FixProposal.model_fields
        if name not in skip and getattr(got, name) != getattr(want, name)
    }


def test_the_sample_sets_every_field_of_the_proposal() -> None:
    assert _left_at_default(SAMPLE) == [], (
        "give these fields a non-default value in SAMPLE, so that the round trips "
        "below check that the store keeps them"
    )


def test_every_field_survives_add_and_get(database_url: str) -> None:
    store = ProposalStore(Database(database_url))
    stored = store.add(SAMPLE)
    assert stored.status is ProposalStatus.PROPOSED and stored.updated_at == NOW

    got = store.get(stored.id)
    assert got == stored
    assert _differences(got, SAMPLE, skip=SET_BY_ADD) == {}
    assert store.list() == [got]
    assert store.open_for_fingerprint(SAMPLE.fingerprint) == got
    store.db.dispose()
    assert ProposalStore(Database(database_url)).get(stored.id) == got


def test_every_field_survives_a_transition(database_url: str) -> None:
    store = ProposalStore(Database(database_url))
    stored = store.add(SAMPLE)
    later = NOW + timedelta(hours=1)
    approved = store.transition(
        stored.id, ProposalStatus.APPROVED, actor="U9", decided_by="U9", decided_at=later
    )
    changed = {"status", "updated_at", "decided_by", "decided_at"}
    assert _differences(approved, stored, skip=changed) == {}
    assert (approved.status, approved.decided_by, approved.decided_at) == (
        ProposalStatus.APPROVED,
        "U9",
        later,
    )
    assert store.get(stored.id) == approved


def test_proven_is_kept_by_the_final_transition_and_by_nothing_else(database_url: str) -> None:
    store = ProposalStore(Database(database_url))
    stored = store.add(SAMPLE.model_copy(update={"proven": None}))
    store.transition(stored.id, ProposalStatus.APPROVED, actor="U9")
    store.transition(stored.id, ProposalStatus.APPLYING, actor="mendbot")
    applied = store.transition(stored.id, ProposalStatus.APPLIED, actor="mendbot", proven=True)
    assert applied.proven is True and store.get(stored.id).proven is True
    assert applied.regression_test == stored.regression_test
    assert store.audit_trail(stored.id)[-1].details["proven"] is True


def test_a_new_model_field_is_stored_without_a_change_to_the_row() -> None:
    class Extended(FixProposal):
        added_later: dict[str, int] = Field(default_factory=dict)

    extended = Extended(**SAMPLE.model_dump(), added_later={"x": 1})
    row = ProposalRow.from_proposal(extended)
    assert row.body["added_later"] == {"x": 1}
    assert set(row.body) | set(PROPOSAL_COLUMNS) == set(Extended.model_fields)
    assert row.to_proposal() == SAMPLE


def test_a_database_made_by_an_older_version_is_refused_clearly(database_url: str) -> None:
    engine = sqlalchemy.create_engine(database_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE proposals (id VARCHAR(64) PRIMARY KEY, title TEXT)")
    engine.dispose()
    with pytest.raises(SchemaMismatch, match=r"'proposals' .* lacks column.*body.*older mendbot"):
        Database(database_url)
