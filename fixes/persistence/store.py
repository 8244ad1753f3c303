"""Fixes persistence: proposals, their atomic state transitions, anomalies seen, audit trail.

Errors raised here::

    StoreError
    ├── ProposalNotFound      no proposal with that id
    └── InvalidTransition     the proposal is not in a state the transition starts from
                              (``.current`` holds the status it is in)

Transitions are compare-and-set in SQL (``UPDATE ... WHERE id = :id AND status IN (...)``),
so of two approvals racing (threads, processes, Slack retries) exactly one wins, on SQLite
and PostgreSQL alike. Every transition writes its audit event in the same transaction.
"""

from __future__ import annotations

import builtins
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, func, literal, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from core.clock import utcnow
from core.models import Anomaly, Diagnosis
from core.proposals import (
    OPEN_STATUSES,
    TRANSITIONS,
    AuditEvent,
    Edit,
    FixProposal,
    ProposalStatus,
    Risk,
)
from fixes.persistence.db import AnomalyRow, AuditRow, Database, ProposalRow, UTCDateTime

SYSTEM_ACTOR = "mendbot"
_ID_ATTEMPTS = 1000
#: Proposal fields a transition may set beside ``status`` (the rest are fixed at creation).
_TRANSITION_FIELDS = frozenset({"decided_by", "decided_at", "commit_sha", "error"})


class StoreError(Exception):
    """Base of the errors raised by :class:`ProposalStore`."""


class ProposalNotFound(StoreError):
    """No proposal has the given id."""

    def __init__(self, proposal_id: str) -> None:
        super().__init__(f"no proposal {proposal_id!r}")
        self.proposal_id = proposal_id


class InvalidTransition(StoreError):
    """The proposal's current status does not allow the requested transition."""

    def __init__(self, proposal_id: str, current: ProposalStatus, to: ProposalStatus) -> None:
        super().__init__(f"{proposal_id} is {current.value}; it cannot become {to.value}")
        self.proposal_id = proposal_id
        self.current = current
        self.to = to


class ProposalStore:
    """Proposals, anomaly totals and the audit trail in one database.

    Args:
        db: the process's :class:`~fixes.persistence.db.Database`.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    # --- proposals ------------------------------------------------------------------------
    def add(self, proposal: FixProposal, *, actor: str = SYSTEM_ACTOR) -> FixProposal:
        """Store a new proposal with a fresh unique id and audit ``proposed``.

        The id is ``fix_YYYYMMDD_HHMMSS`` from ``proposal.created_at`` (UTC), with
        ``_2``, ``_3``, ... appended when that id is taken (also across processes:
        the primary key decides).

        Returns:
            A copy of ``proposal`` with ``id``, ``status=proposed`` and ``updated_at`` set.

        Raises:
            StoreError: no free id within 1,000 suffixes.
        """
        base = "fix_" + _utc(proposal.created_at).strftime("%Y%m%d_%H%M%S")
        for attempt in range(1, _ID_ATTEMPTS + 1):
            candidate = base if attempt == 1 else f"{base}_{attempt}"
            stored = proposal.model_copy(
                update={
                    "id": candidate,
                    "status": ProposalStatus.PROPOSED,
                    "updated_at": proposal.created_at,
                }
            )
            try:
                with self.db.session() as session:
                    session.add(_to_row(stored))
                    session.flush()
                    session.add(
                        _audit_row(
                            actor,
                            "proposed",
                            candidate,
                            {
                                "fingerprint": stored.fingerprint,
                                "kind": stored.anomaly.kind,
                                "edits": len(stored.edits),
                            },
                        )
                    )
                return stored
            except IntegrityError:
                continue
        raise StoreError(f"no free proposal id after {base}_{_ID_ATTEMPTS}")

    def get(self, proposal_id: str) -> FixProposal:
        """The proposal with this id.

        Raises:
            ProposalNotFound: there is none.
        """
        with self.db.session() as session:
            row = session.get(ProposalRow, proposal_id)
            if row is None:
                raise ProposalNotFound(proposal_id)
            return _from_row(row)

    def list(
        self, *, statuses: Collection[ProposalStatus] | None = None, limit: int = 50
    ) -> list[FixProposal]:
        """Proposals, newest first, optionally only those in ``statuses`` (at most ``limit``)."""
        query = select(ProposalRow).order_by(
            col(ProposalRow.created_at).desc(), col(ProposalRow.id).desc()
        )
        if statuses is not None:
            query = query.where(col(ProposalRow.status).in_([s.value for s in statuses]))
        with self.db.session() as session:
            return [_from_row(row) for row in session.exec(query.limit(limit))]

    def open_for_fingerprint(self, fingerprint: str) -> FixProposal | None:
        """The newest proposal for ``fingerprint`` that is still open (proposed, approved,
        applying), or None."""
        return self._newest_for(fingerprint, OPEN_STATUSES)

    def latest_for_fingerprint(
        self, fingerprint: str, statuses: Collection[ProposalStatus] | None = None
    ) -> FixProposal | None:
        """The newest proposal for ``fingerprint`` (optionally in ``statuses``), or None."""
        return self._newest_for(fingerprint, statuses)

    def _newest_for(
        self, fingerprint: str, statuses: Collection[ProposalStatus] | None
    ) -> FixProposal | None:
        query = select(ProposalRow).where(ProposalRow.fingerprint == fingerprint)
        if statuses is not None:
            query = query.where(col(ProposalRow.status).in_([s.value for s in statuses]))
        query = query.order_by(col(ProposalRow.created_at).desc(), col(ProposalRow.id).desc())
        with self.db.session() as session:
            row = session.exec(query.limit(1)).first()
            return _from_row(row) if row else None

    def transition(
        self,
        proposal_id: str,
        to: ProposalStatus,
        *,
        actor: str,
        expected: Collection[ProposalStatus] | None = None,
        details: dict[str, Any] | None = None,
        **fields: Any,
    ) -> FixProposal:
        """Move a proposal to ``to`` atomically and audit it.

        Args:
            proposal_id: the proposal.
            to: the new status.
            actor: who causes it (Slack user id, ``cli:<user>``, ``mendbot``).
            expected: statuses it may start from; default: every status that
                :data:`~core.proposals.TRANSITIONS` allows to reach ``to``.
            details: extra facts for the audit event (JSON-serialisable).
            **fields: ``decided_by``, ``decided_at``, ``commit_sha``, ``error`` to set too.

        Returns:
            The proposal as stored after the transition.

        Raises:
            ProposalNotFound: no such proposal.
            InvalidTransition: it is in another state (someone else got there first).
            ValueError: an unknown field name.
        """
        unknown = set(fields) - _TRANSITION_FIELDS
        if unknown:
            raise ValueError(f"cannot set {sorted(unknown)} in a transition")
        sources = (
            set(expected)
            if expected is not None
            else {status for status, nxt in TRANSITIONS.items() if to in nxt}
        )
        now = utcnow()
        values = {"status": to.value, "updated_at": now, **fields}
        audit = {"from": sorted(s.value for s in sources), **(details or {})}
        audit.update({k: v for k, v in fields.items() if k in ("commit_sha", "error")})
        with self.db.session() as session:
            result = session.exec(  # type: ignore[call-overload]
                update(ProposalRow)
                .where(col(ProposalRow.id) == proposal_id)
                .where(col(ProposalRow.status).in_([s.value for s in sources]))
                .values(**values)
            )
            if result.rowcount == 1:
                session.add(_audit_row(actor, to.value, proposal_id, audit, at=now))
                session.flush()
                return _from_row(session.get(ProposalRow, proposal_id))  # type: ignore[arg-type]
            row = session.get(ProposalRow, proposal_id)
        if row is None:
            raise ProposalNotFound(proposal_id)
        raise InvalidTransition(proposal_id, ProposalStatus(row.status), to)

    def set_thread_ref(self, proposal_id: str, thread_ref: str) -> None:
        """Remember where the notifier posted the proposal (e.g. ``"C123:1700000000.1"``)."""
        self._update(proposal_id, thread_ref=thread_ref)

    def add_seen_again(self, proposal_id: str, count: int) -> int:
        """Add ``count`` later sightings to an open proposal; returns the new total."""
        with self.db.session() as session:
            session.exec(  # type: ignore[call-overload]
                update(ProposalRow)
                .where(col(ProposalRow.id) == proposal_id)
                .values(seen_again=ProposalRow.seen_again + count)
            )
            row = session.get(ProposalRow, proposal_id)
            if row is None:
                raise ProposalNotFound(proposal_id)
            session.refresh(row)
            return row.seen_again

    def _update(self, proposal_id: str, **values: Any) -> None:
        with self.db.session() as session:
            result = session.exec(  # type: ignore[call-overload]
                update(ProposalRow).where(col(ProposalRow.id) == proposal_id).values(**values)
            )
            if result.rowcount != 1:
                raise ProposalNotFound(proposal_id)

    # --- anomalies seen ------------------------------------------------------------------------
    def record_anomaly(self, anomaly: Anomaly) -> tuple[int, bool]:
        """Add an anomaly's events to the running totals of its fingerprint.

        Atomic across processes (an ``UPDATE ... SET total_count = total_count + n``, or
        an insert that a racing insert turns back into that update); ``first_seen`` and
        ``last_seen`` only ever widen.

        Returns:
            ``(total_count, is_new)``: the fingerprint's total events ever, and whether
            this is the first time it is seen.

        Raises:
            StoreError: the row could neither be updated nor inserted (twice).
        """
        for _attempt in range(3):
            total = self._add_to_anomaly(anomaly)
            if total is not None:
                return total, False
            try:
                with self.db.session() as session:
                    session.add(
                        AnomalyRow(
                            fingerprint=anomaly.fingerprint,
                            kind=anomaly.kind,
                            template=anomaly.template,
                            severity=anomaly.severity.value,
                            first_seen=anomaly.first_seen,
                            last_seen=anomaly.last_seen,
                            total_count=anomaly.count,
                        )
                    )
                return anomaly.count, True
            except IntegrityError:
                continue  # another process inserted it first: add to theirs
        raise StoreError(f"cannot record anomaly {anomaly.fingerprint}")

    def _add_to_anomaly(self, anomaly: Anomaly) -> int | None:
        first = literal(anomaly.first_seen, UTCDateTime)
        last = literal(anomaly.last_seen, UTCDateTime)
        with self.db.session() as session:
            result = session.exec(  # type: ignore[call-overload]
                update(AnomalyRow)
                .where(col(AnomalyRow.fingerprint) == anomaly.fingerprint)
                .values(
                    total_count=AnomalyRow.total_count + anomaly.count,
                    severity=anomaly.severity.value,
                    first_seen=case(
                        (col(AnomalyRow.first_seen) > first, first),
                        else_=col(AnomalyRow.first_seen),
                    ),
                    last_seen=case(
                        (col(AnomalyRow.last_seen) < last, last), else_=col(AnomalyRow.last_seen)
                    ),
                )
            )
            if result.rowcount != 1:
                return None
            row = session.get(AnomalyRow, anomaly.fingerprint)
            session.refresh(row)
            return row.total_count if row else None

    def anomaly_totals(self, fingerprint: str) -> dict[str, Any] | None:
        """``{"first_seen", "last_seen", "total_count", "kind", "template"}`` or None."""
        with self.db.session() as session:
            row = session.get(AnomalyRow, fingerprint)
            if row is None:
                return None
            return {
                "first_seen": row.first_seen,
                "last_seen": row.last_seen,
                "total_count": row.total_count,
                "kind": row.kind,
                "template": row.template,
            }

    # --- audit trail -----------------------------------------------------------------------------
    def audit(
        self,
        *,
        actor: str,
        action: str,
        proposal_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append one audit event (e.g. ``refused``, ``validation_output``)."""
        with self.db.session() as session:
            session.add(_audit_row(actor, action, proposal_id, details or {}))

    def audit_trail(
        self, proposal_id: str | None = None, *, limit: int | None = None
    ) -> builtins.list[AuditEvent]:
        """Audit events in the order they happened, for one proposal or all."""
        query = select(AuditRow).order_by(col(AuditRow.id))
        if proposal_id is not None:
            query = query.where(AuditRow.proposal_id == proposal_id)
        if limit is not None:
            query = query.limit(limit)
        with self.db.session() as session:
            return [
                AuditEvent(
                    id=row.id or 0,
                    at=row.at,
                    actor=row.actor,  # type: ignore[arg-type]
                    action=row.action,
                    proposal_id=row.proposal_id,
                    details=row.details,
                )
                for row in session.exec(query)
            ]

    def count_by_status(self) -> dict[str, int]:
        """How many proposals are in each status (only statuses that occur)."""
        query = select(ProposalRow.status, func.count()).group_by(ProposalRow.status)
        with self.db.session() as session:
            return {status: n for status, n in session.exec(query)}


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _audit_row(
    actor: str,
    action: str,
    proposal_id: str | None,
    details: dict[str, Any],
    *,
    at: datetime | None = None,
) -> AuditRow:
    return AuditRow(
        at=at or utcnow(),
        actor=actor,
        action=action,
        proposal_id=proposal_id,
        details=_jsonable(details),
    )


def _jsonable(details: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in details.items():
        if isinstance(value, datetime):
            value = _utc(value).isoformat()
        elif isinstance(value, (set, frozenset, tuple)):
            value = list(value)
        out[key] = value
    return out


def _to_row(p: FixProposal) -> ProposalRow:
    return ProposalRow(
        id=p.id,
        fingerprint=p.fingerprint,
        status=p.status.value,
        title=p.title,
        anomaly=p.anomaly.model_dump(mode="json"),
        diagnosis=p.diagnosis.model_dump(mode="json"),
        edits=[e.model_dump() for e in p.edits],
        reasoning=p.reasoning,
        risk=p.risk.value,
        risk_notes=p.risk_notes,
        notes=list(p.notes),
        created_at=p.created_at,
        updated_at=p.updated_at or p.created_at,
        decided_by=p.decided_by,
        decided_at=p.decided_at,
        commit_sha=p.commit_sha,
        error=p.error,
        thread_ref=p.thread_ref,
        seen_again=p.seen_again,
    )


def _from_row(row: ProposalRow) -> FixProposal:
    return FixProposal(
        id=row.id,
        fingerprint=row.fingerprint,
        status=ProposalStatus(row.status),
        title=row.title,
        anomaly=Anomaly.model_validate(row.anomaly),
        diagnosis=Diagnosis.model_validate(row.diagnosis),
        edits=[Edit.model_validate(e) for e in row.edits],
        reasoning=row.reasoning,
        risk=Risk(row.risk),
        risk_notes=row.risk_notes,
        notes=list(row.notes),
        created_at=row.created_at,
        updated_at=row.updated_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        commit_sha=row.commit_sha,
        error=row.error,
        thread_ref=row.thread_ref,
        seen_again=row.seen_again,
    )
