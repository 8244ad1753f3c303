"""Fixes persistence: the state of following each pushed fix to production (restart-safe).

One row per fix (:class:`~fixes.persistence.db.VerificationRow`) holding a
:class:`~core.verification.Verification` as JSON, with ``phase`` and ``version`` as
columns: :meth:`VerificationStore.save` is a compare-and-set on ``version``, so of two
processes moving the same verification forward (a rolling deploy overlaps the old and the
new mendbot) one wins and the other skips its stale copy. Errors: what SQLAlchemy raises
when the database fails; a lost compare-and-set is a ``None`` result, not an error.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from core.clock import utcnow
from core.verification import Verification
from fixes.persistence.db import Database, VerificationRow


class VerificationStore:
    """Verifications in the shared database.

    Args:
        db: the process's :class:`~fixes.persistence.db.Database`.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def start(self, verification: Verification) -> Verification | None:
        """Store a new verification (version 0).

        Returns:
            It as stored, or None when the fix is already followed (kept as it is).

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the database failed.
        """
        stored = verification.model_copy(update={"version": 0})
        try:
            with self.db.session() as session:
                session.add(_row(stored))
        except IntegrityError:
            return None
        return stored

    def get(self, proposal_id: str) -> Verification | None:
        """The verification of one fix, or None."""
        with self.db.session() as session:
            row = session.get(VerificationRow, proposal_id)
            return _model(row) if row is not None else None

    def active(self) -> list[Verification]:
        """Verifications not done yet (deploying or watching), oldest first."""
        query = select(VerificationRow).where(col(VerificationRow.phase) != "done")
        with self.db.session() as session:
            rows = list(session.exec(query))
        return sorted((_model(r) for r in rows), key=lambda v: (v.started_at, v.proposal_id))

    def watching(self, fingerprint: str) -> bool:
        """True when a verification of ``fingerprint`` is not done yet."""
        query = (
            select(VerificationRow.proposal_id)
            .where(VerificationRow.fingerprint == fingerprint)
            .where(col(VerificationRow.phase) != "done")
        )
        with self.db.session() as session:
            return session.exec(query.limit(1)).first() is not None

    def save(self, verification: Verification) -> Verification | None:
        """Write ``verification`` if nobody saved it since it was read (same ``version``).

        Returns:
            It as stored (``version`` + 1), or None when another writer got there first.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the database failed.
        """
        stored = verification.model_copy(update={"version": verification.version + 1})
        with self.db.session() as session:
            result = session.exec(  # type: ignore[call-overload]
                update(VerificationRow)
                .where(col(VerificationRow.proposal_id) == verification.proposal_id)
                .where(col(VerificationRow.version) == verification.version)
                .values(
                    phase=stored.phase,
                    version=stored.version,
                    updated_at=utcnow(),
                    body=stored.model_dump(mode="json"),
                )
            )
            return stored if result.rowcount == 1 else None


def _row(verification: Verification) -> VerificationRow:
    return VerificationRow(
        proposal_id=verification.proposal_id,
        fingerprint=verification.fingerprint,
        phase=verification.phase,
        version=verification.version,
        updated_at=utcnow(),
        body=verification.model_dump(mode="json"),
    )


def _model(row: VerificationRow) -> Verification:
    return Verification.model_validate({**row.body, "phase": row.phase, "version": row.version})
