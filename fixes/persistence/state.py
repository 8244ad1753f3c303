"""Fixes persistence: small named values (cursors, baselines, caches) and once-only keys.

Monitoring keeps its source cursors, the template baseline and the diagnosis cache here,
and the Slack app its seen ``event_id``s, so that a restart resumes where it stopped.
Values are JSON (dicts, lists, strings, numbers).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from core.clock import utcnow
from fixes.persistence.db import Database, OnceRow, StateRow


class StateStore:
    """Key/value state and idempotency keys in the shared database.

    Args:
        db: the process's :class:`~fixes.persistence.db.Database`.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, key: str, default: Any = None) -> Any:
        """The JSON value stored under ``key``, or ``default``."""
        with self.db.session() as session:
            row = session.get(StateRow, key)
            return default if row is None else row.value

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` (JSON-serialisable) under ``key``, replacing any older value."""
        with self.db.session() as session:
            row = session.get(StateRow, key)
            if row is None:
                row = StateRow(key=key, value=value, updated_at=utcnow())
            else:
                row.value = value
                row.updated_at = utcnow()
            session.add(row)

    def delete(self, key: str) -> None:
        """Forget ``key`` (no error when absent)."""
        with self.db.session() as session:
            session.exec(delete(StateRow).where(col(StateRow.key) == key))  # type: ignore[call-overload]

    def claim_once(self, key: str) -> bool:
        """True the first time ``key`` is claimed in this database, False ever after.

        Atomic across threads and processes (primary-key insert), so it dedupes retried
        deliveries such as Slack events re-sent with ``X-Slack-Retry-Num``.
        """
        try:
            with self.db.session() as session:
                session.add(OnceRow(key=key, at=utcnow()))
            return True
        except IntegrityError:
            return False

    def forget_claims_older_than(self, age_seconds: float, *, now: datetime | None = None) -> int:
        """Drop once-keys older than ``age_seconds``; returns how many were dropped."""
        cutoff = (now or utcnow()) - timedelta(seconds=age_seconds)
        with self.db.session() as session:
            result = session.exec(  # type: ignore[call-overload]
                delete(OnceRow).where(col(OnceRow.at) < cutoff)
            )
            return int(result.rowcount or 0)
