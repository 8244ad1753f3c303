"""Fixes persistence: proposals and their atomic state transitions.

Errors raised here (defined in :mod:`fixes.persistence.errors`)::

    StoreError
    ├── ProposalNotFound      no proposal with that id
    └── InvalidTransition     the proposal is not in a state the transition starts from
                              (``.current`` holds the status it is in)

Transitions are compare-and-set in SQL (``UPDATE ... WHERE id = :id AND status IN (...)``),
so of two approvals racing (threads, processes, Slack retries) exactly one wins, on SQLite
and PostgreSQL alike. Every transition writes its audit event in the same transaction.
The row mapping (which fields are columns, the rest JSON) is
:class:`~fixes.persistence.db.ProposalRow`'s; the anomaly totals and the audit trail live
in :mod:`~fixes.persistence.anomalies` and :mod:`~fixes.persistence.audit`, reachable
through this store too.
"""

from __future__ import annotations

import builtins
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.clock import utcnow
from core.models import Anomaly
from core.proposals import (
    OPEN_STATUSES,
    TRANSITIONS,
    AuditEvent,
    FixProposal,
    ProposalStatus,
    regression_test_path,
)
from core.redact import mask_proposal, scrub_secrets
from fixes.persistence.anomalies import AnomalyTotals
from fixes.persistence.audit import AuditTrail, audit_row
from fixes.persistence.db import Database, ProposalRow
from fixes.persistence.errors import InvalidTransition, ProposalNotFound, StoreError
from fixes.persistence.ids import IdAllocator, base_of, make_id

__all__ = ["SYSTEM_ACTOR", "InvalidTransition", "ProposalNotFound", "ProposalStore", "StoreError"]

SYSTEM_ACTOR = "mendbot"
#: Inserts :meth:`ProposalStore.add` tries before giving up, each after another writer
#: took the id it tried (the suffixes themselves never run out).
_CLAIM_ATTEMPTS = 100
#: Proposal fields a transition may set beside ``status`` (the rest are fixed at creation).
#: those without a column of their own are merged into the row's JSON ``body``.
_TRANSITION_FIELDS = frozenset({"decided_by", "decided_at", "commit_sha", "error", "proven"})
_BODY_FIELDS = frozenset({"proven"})


class ProposalStore:
    """Proposals in one database, with the anomaly totals and audit trail beside them.

    Args:
        db: the process's :class:`~fixes.persistence.db.Database`.

    Attributes:
        anomalies: the running totals per fingerprint (also :meth:`record_anomaly`).
        trail: the audit trail (also :meth:`audit` and :meth:`audit_trail`).
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self.anomalies = AnomalyTotals(db)
        self.trail = AuditTrail(db)
        self.ids = IdAllocator(db)

    # --- proposals ------------------------------------------------------------------------
    def add(self, proposal: FixProposal, *, actor: str = SYSTEM_ACTOR) -> FixProposal:
        """Store a new proposal with a fresh unique id and audit ``proposed``.

        The id is ``fix_YYYYMMDD_HHMMSS`` from ``proposal.created_at`` (UTC), or with
        ``_2``, ``_3``, ... appended when that is taken, without an upper bound (see
        :mod:`fixes.persistence.ids`); the primary key decides between processes. Its
        texts are stored masked (:func:`core.redact.mask_proposal`; edits as they are).
        A regression test gets its path from the id (``tests/mendbot/test_<id>.py``).

        Returns:
            A masked copy of ``proposal`` with ``id``, ``status=proposed`` and
            ``updated_at`` set.

        Raises:
            StoreError: :data:`_CLAIM_ATTEMPTS` inserts in a row lost their id to other
                writers (a storm of concurrent inserts within one second).
            sqlalchemy.exc.StatementError: ``created_at`` is naive.
        """
        base = base_of(proposal)
        suffix = self.ids.first_try(base)
        for _attempt in range(_CLAIM_ATTEMPTS):
            stored = _as_new(proposal, make_id(base, suffix))
            try:
                self._insert(stored, actor)
            except IntegrityError:
                suffix = self.ids.after_clash(base, suffix)
                continue
            self.ids.taken(stored.id)
            return stored
        raise StoreError(
            f"could not claim an id after {make_id(base, suffix)}: {_CLAIM_ATTEMPTS} inserts "
            "in a row lost their id to other writers"
        )

    def add_many(
        self, proposals: Sequence[FixProposal], *, actor: str = SYSTEM_ACTOR
    ) -> builtins.list[FixProposal]:
        """Store a cycle's new proposals in one transaction, ids as :meth:`add` gives them.

        A flood of thousands of proposals costs one commit instead of thousands. When
        another writer takes one of the ids meanwhile, nothing of the batch is kept and
        each proposal is added on its own with :meth:`add`.

        Returns:
            The stored copies, in the order given.

        Raises:
            StoreError, sqlalchemy.exc.StatementError: as :meth:`add`.
        """
        if not proposals:
            return []
        ids = self.ids.fresh(proposals)
        stored = [_as_new(proposal, pid) for proposal, pid in zip(proposals, ids, strict=True)]
        try:
            with self.db.session() as session:
                session.add_all(ProposalRow.from_proposal(p) for p in stored)
                session.flush()
                session.add_all(audit_row(actor, "proposed", p.id, _facts(p)) for p in stored)
        except IntegrityError:
            return [self.add(proposal, actor=actor) for proposal in proposals]
        self.ids.taken(stored[-1].id)
        return stored

    def _insert(self, proposal: FixProposal, actor: str) -> None:
        with self.db.session() as session:
            session.add(ProposalRow.from_proposal(proposal))
            session.flush()
            session.add(audit_row(actor, "proposed", proposal.id, _facts(proposal)))

    def get(self, proposal_id: str) -> FixProposal:
        """The proposal with this id.

        Raises:
            ProposalNotFound: there is none.
        """
        with self.db.session() as session:
            row = session.get(ProposalRow, proposal_id)
            if row is None:
                raise ProposalNotFound(proposal_id)
            return row.to_proposal()

    def list(
        self, *, statuses: Collection[ProposalStatus] | None = None, limit: int = 50
    ) -> builtins.list[FixProposal]:
        """Proposals, newest first, optionally only those in ``statuses`` (at most ``limit``)."""
        query = select(ProposalRow).order_by(
            col(ProposalRow.created_at).desc(), col(ProposalRow.id).desc()
        )
        if statuses is not None:
            query = query.where(col(ProposalRow.status).in_([s.value for s in statuses]))
        with self.db.session() as session:
            return [row.to_proposal() for row in session.exec(query.limit(limit))]

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
            return row.to_proposal() if row else None

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
            proposal_id, to: the proposal and its new status.
            actor: who causes it (Slack user id, ``cli:<user>``, ``mendbot``).
            expected: statuses it may start from; default: every status that
                :data:`~core.proposals.TRANSITIONS` allows to reach ``to``.
            details: extra facts for the audit event (JSON-serialisable; stored masked).
            **fields: ``decided_by``, ``decided_at``, ``commit_sha``, ``error``, ``proven``
                to set too (``error`` is stored masked).

        Returns:
            The proposal as stored after the transition.

        Raises:
            ProposalNotFound: no such proposal.
            InvalidTransition: it is in another state (someone else got there first).
            ValueError: an unknown field name.
        """
        fields = _checked_fields(fields)
        sources = _sources(to, expected)
        now = utcnow()
        audit = _transition_facts(sources, details or {}, fields)
        values: dict[str, Any] = {"status": to.value, "updated_at": now}
        with self.db.session() as session:
            values.update(_field_values(session, proposal_id, fields))
            won = _compare_and_set(session, proposal_id, sources, values)
            if won:
                session.add(audit_row(actor, to.value, proposal_id, audit, at=now))
                session.flush()
            row = session.get(ProposalRow, proposal_id)
        if row is None:
            raise ProposalNotFound(proposal_id)
        if not won:
            raise InvalidTransition(proposal_id, ProposalStatus(row.status), to)
        return row.to_proposal()

    def set_thread_ref(self, proposal_id: str, thread_ref: str) -> None:
        """Remember where the notifier posted the proposal (e.g. ``"C123:1700000000.1"``).

        Raises:
            ProposalNotFound: no such proposal.
        """
        with self.db.session() as session:
            result = session.exec(  # type: ignore[call-overload]
                update(ProposalRow)
                .where(col(ProposalRow.id) == proposal_id)
                .values(thread_ref=thread_ref)
            )
            if result.rowcount != 1:
                raise ProposalNotFound(proposal_id)

    def add_seen_again(self, proposal_id: str, count: int) -> int:
        """Add ``count`` later sightings to an open proposal; returns the new total.

        Raises:
            ProposalNotFound: no such proposal.
        """
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

    def count_by_status(self) -> dict[str, int]:
        """How many proposals are in each status (only statuses that occur)."""
        query = select(ProposalRow.status, func.count()).group_by(ProposalRow.status)
        with self.db.session() as session:
            return {status: n for status, n in session.exec(query)}

    # --- beside the proposals (see AnomalyTotals and AuditTrail) ----------------------------
    def record_anomaly(self, anomaly: Anomaly) -> tuple[int, bool]:
        """Add an anomaly's events to its fingerprint's totals: ``(total_count, is_new)``.

        Raises:
            StoreError: the row could neither be updated nor inserted (twice).
        """
        return self.anomalies.record(anomaly)

    def anomaly_totals(self, fingerprint: str) -> dict[str, Any] | None:
        """``{"first_seen", "last_seen", "total_count", "kind", "template"}`` or None."""
        return self.anomalies.get(fingerprint)

    def audit(
        self,
        *,
        actor: str,
        action: str,
        proposal_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append one audit event (e.g. ``refused``, ``validation_output``)."""
        self.trail.append(actor=actor, action=action, proposal_id=proposal_id, details=details)

    def audit_each(
        self,
        *,
        actor: str,
        action: str,
        proposal_ids: Collection[str],
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append the same event for many proposals in one transaction (e.g. ``held``)."""
        self.trail.append_each(
            actor=actor, action=action, proposal_ids=builtins.list(proposal_ids), details=details
        )

    def audit_trail(
        self, proposal_id: str | None = None, *, limit: int | None = None
    ) -> builtins.list[AuditEvent]:
        """Audit events in the order they happened, for one proposal or all."""
        return self.trail.events(proposal_id, limit=limit)


def _as_new(proposal: FixProposal, proposal_id: str) -> FixProposal:
    """A masked copy to insert: ``id`` set, ``proposed``, ``updated_at`` = ``created_at``,
    and a regression test's path from the id."""
    test = proposal.regression_test
    return mask_proposal(proposal).model_copy(
        update={
            "id": proposal_id,
            "status": ProposalStatus.PROPOSED,
            "updated_at": proposal.created_at,
            "regression_test": test.model_copy(update={"path": regression_test_path(proposal_id)})
            if test
            else None,
        }
    )


def _facts(proposal: FixProposal) -> dict[str, Any]:
    """The details of a proposal's ``proposed`` audit event."""
    return {
        "fingerprint": proposal.fingerprint,
        "kind": proposal.anomaly.kind,
        "edits": len(proposal.edits),
    }


def _checked_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` with ``error`` masked; ValueError on a name a transition cannot set."""
    unknown = set(fields) - _TRANSITION_FIELDS
    if unknown:
        raise ValueError(f"cannot set {sorted(unknown)} in a transition")
    if fields.get("error"):
        fields = {**fields, "error": scrub_secrets(fields["error"])}
    return fields


def _sources(
    to: ProposalStatus, expected: Collection[ProposalStatus] | None
) -> set[ProposalStatus]:
    """The statuses a transition to ``to`` may start from."""
    if expected is not None:
        return set(expected)
    return {status for status, nxt in TRANSITIONS.items() if to in nxt}


def _transition_facts(
    sources: set[ProposalStatus], details: dict[str, Any], fields: dict[str, Any]
) -> dict[str, Any]:
    """The audit details of a transition: where it came from, the caller's facts, and
    the ``commit_sha`` / ``error`` it sets."""
    facts = {"from": sorted(s.value for s in sources), **details}
    facts.update({k: v for k, v in fields.items() if k in ("commit_sha", "error", "proven")})
    return facts


def _field_values(session: Session, proposal_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Column values for ``fields``: a column field as itself, a body field (``proven``)
    merged into the row's JSON ``body`` as it is in this transaction."""
    values = {k: v for k, v in fields.items() if k not in _BODY_FIELDS}
    in_body = {k: v for k, v in fields.items() if k in _BODY_FIELDS}
    current = session.get(ProposalRow, proposal_id) if in_body else None
    if current is not None:
        values["body"] = {**current.body, **in_body}
    return values


def _compare_and_set(
    session: Session, proposal_id: str, sources: set[ProposalStatus], values: dict[str, Any]
) -> bool:
    """``UPDATE`` the proposal with ``values`` if its status is one of ``sources``."""
    result = session.exec(  # type: ignore[call-overload]
        update(ProposalRow)
        .where(col(ProposalRow.id) == proposal_id)
        .where(col(ProposalRow.status).in_([s.value for s in sources]))
        .values(**values)
    )
    return bool(result.rowcount == 1)
