"""Fixes persistence: running totals of every anomaly fingerprint ever seen.

One row per fingerprint (:class:`~fixes.persistence.db.AnomalyRow`): the events counted
over all cycles and processes, and the widest ``first_seen`` .. ``last_seen`` span, and
the template (masked).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, literal, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from core.models import Anomaly
from core.redact import scrub_secrets
from fixes.persistence.db import AnomalyRow, Database, UTCDateTime
from fixes.persistence.errors import StoreError


class AnomalyTotals:
    """Running totals per anomaly fingerprint in the shared database.

    Args:
        db: the process's :class:`~fixes.persistence.db.Database`.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, anomaly: Anomaly) -> tuple[int, bool]:
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
            total = self._add_to(anomaly)
            if total is not None:
                return total, False
            try:
                with self.db.session() as session:
                    session.add(_new_row(anomaly))
                return anomaly.count, True
            except IntegrityError:
                continue  # another process inserted it first: add to theirs
        raise StoreError(f"cannot record anomaly {anomaly.fingerprint}")

    def get(self, fingerprint: str) -> dict[str, Any] | None:
        """``{"first_seen", "last_seen", "total_count", "kind", "template"}`` or None.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
        """
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

    def _add_to(self, anomaly: Anomaly) -> int | None:
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


def _new_row(anomaly: Anomaly) -> AnomalyRow:
    return AnomalyRow(
        fingerprint=anomaly.fingerprint,
        kind=anomaly.kind,
        template=scrub_secrets(anomaly.template),
        severity=anomaly.severity.value,
        first_seen=anomaly.first_seen,
        last_seen=anomaly.last_seen,
        total_count=anomaly.count,
    )
