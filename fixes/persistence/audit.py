"""Fixes persistence: the append-only audit trail (who did what to which proposal, when).

Rows are inserted, never updated or deleted. A proposal's transition writes its event in
the transition's own transaction (:func:`audit_row` builds it for the store); anything
else is appended on its own with :meth:`AuditTrail.append`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, select

from core.clock import utcnow
from core.proposals import AuditEvent
from core.redact import mask_data
from fixes.persistence.db import AuditRow, Database


class AuditTrail:
    """Audit events in the shared database.

    Args:
        db: the process's :class:`~fixes.persistence.db.Database`.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def append(
        self,
        *,
        actor: str,
        action: str,
        proposal_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append one event (e.g. ``refused``, ``validation_output``).

        Args:
            actor: Slack user id, ``cli:<user>`` or ``mendbot``.
            action: what happened, e.g. ``paused``.
            proposal_id: the proposal concerned, if any.
            details: facts; datetimes become ISO 8601 UTC strings, sets and tuples lists,
                and secrets in strings placeholders.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the database refused the insert.
        """
        with self.db.session() as session:
            session.add(audit_row(actor, action, proposal_id, details or {}))

    def append_each(
        self,
        *,
        actor: str,
        action: str,
        proposal_ids: Sequence[str],
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append the same event for each of ``proposal_ids``, in one transaction (a
        flood's thousands of proposals cost one commit, not thousands).

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the database refused the inserts (none is kept).
        """
        with self.db.session() as session:
            session.add_all(audit_row(actor, action, pid, details or {}) for pid in proposal_ids)

    def events(
        self, proposal_id: str | None = None, *, limit: int | None = None
    ) -> list[AuditEvent]:
        """Events in the order they happened (ascending id), for one proposal or all.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
        """
        query = select(AuditRow).order_by(col(AuditRow.id))
        if proposal_id is not None:
            query = query.where(AuditRow.proposal_id == proposal_id)
        if limit is not None:
            query = query.limit(limit)
        with self.db.session() as session:
            return [_event(row) for row in session.exec(query)]


def audit_row(
    actor: str,
    action: str,
    proposal_id: str | None,
    details: dict[str, Any],
    *,
    at: datetime | None = None,
) -> AuditRow:
    """An :class:`AuditRow` to add to a session (``at`` defaults to now, UTC); every string
    in ``details`` is masked (:func:`core.redact.mask_data`)."""
    return AuditRow(
        at=at or utcnow(),
        actor=actor,
        action=action,
        proposal_id=proposal_id,
        details=mask_data(_jsonable(details)),
    )


def _event(row: AuditRow) -> AuditEvent:
    return AuditEvent(
        id=row.id or 0,
        at=row.at,
        actor=row.actor,
        action=row.action,
        proposal_id=row.proposal_id,
        details=row.details,
    )


def _jsonable(details: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in details.items():
        if isinstance(value, datetime):
            value = value.astimezone(UTC).isoformat()
        elif isinstance(value, (set, frozenset, tuple)):
            value = list(value)
        out[key] = value
    return out
