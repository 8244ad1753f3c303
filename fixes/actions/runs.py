"""Fixes actions: one database row per operational action: queue, verification and outcome.

A row follows its action (:class:`~fixes.persistence.db.ActionRunRow`)::

    running ──▶ watching ──▶ done: cleared       (the signal cleared in time)
       │            └──────▶ done: not_cleared   (it did not: escalated; a strike)
       ├──▶ queued ──▶ running ...               (the platform's API was down)
       ├──▶ done: failed                         (the platform said no; a strike)
       └──▶ done: refused                        (mendbot itself, no executor)

Failures (``failed`` and ``not_cleared``) per target are the breaker's strikes; the done
rows per action kind and anomaly kind are the remediation library ``mendbot stats``
shows. Everything is in the database, so a restart loses no queued retry or watch.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select

from core.proposals import FixProposal
from fixes.persistence.db import ActionRunRow, Database

FAILURE_RESULTS = ("failed", "not_cleared")


@dataclass(frozen=True)
class ActionStats:
    """Outcomes of one action kind on one anomaly kind (``mendbot stats``).

    Attributes:
        action_kind, anomaly_kind: what was done, and for what.
        total: actions finished.
        cleared, not_cleared, failed, refused: how they ended.
        median_seconds_to_clear: from the action to the signal clearing, for ``cleared``.
    """

    action_kind: str
    anomaly_kind: str
    total: int
    cleared: int
    not_cleared: int
    failed: int
    refused: int
    median_seconds_to_clear: float | None

    @property
    def success_rate(self) -> float:
        """``cleared / (total - refused)``; 0.0 when nothing ran."""
        ran = self.total - self.refused
        return self.cleared / ran if ran else 0.0


class ActionRuns:
    """The ``action_runs`` table.

    Args:
        db: the process's :class:`~fixes.persistence.db.Database`.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def start(self, proposal: FixProposal, *, automatic: bool, now: datetime) -> ActionRunRow:
        """The proposal's row in ``running`` (created on the first attempt).

        Raises:
            ValueError: the proposal carries no action.
        """
        if proposal.action is None:
            raise ValueError(f"{proposal.id} carries no action")
        with self.db.session() as session:
            row = session.get(ActionRunRow, proposal.id)
            if row is None:
                row = ActionRunRow(
                    proposal_id=proposal.id,
                    fingerprint=proposal.fingerprint,
                    target=proposal.action.target,
                    action_kind=proposal.action.kind,
                    anomaly_kind=proposal.anomaly.kind,
                    rule=proposal.action.rule,
                    automatic=automatic,
                    phase="running",
                    started_at=now,
                )
            row.phase, row.attempts = "running", row.attempts + 1
            session.add(row)
            session.flush()
            return _copy(row)

    def get(self, proposal_id: str) -> ActionRunRow | None:
        """The row of a proposal's action, or None."""
        with self.db.session() as session:
            row = session.get(ActionRunRow, proposal_id)
            return _copy(row) if row else None

    def update(self, proposal_id: str, **values: Any) -> None:
        """Set columns of one row (``phase``, ``result``, ``due_at``, ...)."""
        with self.db.session() as session:
            row = session.get(ActionRunRow, proposal_id)
            if row is None:
                return
            for name, value in values.items():
                setattr(row, name, value)
            session.add(row)

    def move(self, proposal_id: str, *, from_phase: str, **values: Any) -> bool:
        """Set columns of one row only if it is still in ``from_phase`` (compare-and-set:
        of two deliveries clearing one watch, one wins). Returns True when it moved."""
        with self.db.session() as session:
            result = session.exec(  # type: ignore[call-overload]
                update(ActionRunRow)
                .where(col(ActionRunRow.proposal_id) == proposal_id)
                .where(col(ActionRunRow.phase) == from_phase)
                .values(**values)
            )
            return bool(result.rowcount == 1)

    def in_phase(self, phase: str, *, due_by: datetime | None = None) -> list[ActionRunRow]:
        """Rows in ``phase`` (with ``due_at <= due_by`` when given), oldest first."""
        query = select(ActionRunRow).where(ActionRunRow.phase == phase)
        if due_by is not None:
            query = query.where(col(ActionRunRow.due_at) <= due_by)
        with self.db.session() as session:
            rows = session.exec(query.order_by(col(ActionRunRow.started_at)))
            return [_copy(row) for row in rows]

    def watching(self, fingerprint: str) -> list[ActionRunRow]:
        """Rows of ``fingerprint`` waiting for their signal to clear."""
        with self.db.session() as session:
            query = select(ActionRunRow).where(
                ActionRunRow.fingerprint == fingerprint, ActionRunRow.phase == "watching"
            )
            return [_copy(row) for row in session.exec(query)]

    def knows(self, target: str) -> bool:
        """True when any action ever ran (or was asked to run) on ``target``."""
        query = select(ActionRunRow.proposal_id).where(ActionRunRow.target == target).limit(1)
        with self.db.session() as session:
            return session.exec(query).first() is not None

    def failures(self, target: str, *, since: datetime) -> int:
        """Failed or not-cleared actions on ``target`` that finished after ``since``
        (strictly: a resume at the instant of a failure clears it)."""
        query = (
            select(func.count())
            .select_from(ActionRunRow)
            .where(ActionRunRow.target == target)
            .where(col(ActionRunRow.result).in_(FAILURE_RESULTS))
            .where(col(ActionRunRow.finished_at) > since)
        )
        with self.db.session() as session:
            return int(session.exec(query).one())

    def counts(self) -> dict[tuple[str, str], int]:
        """``(action kind, result)`` -> rows; unfinished rows count under their phase
        (``running``, ``queued``, ``watching``)."""
        kind, result, phase = (
            col(ActionRunRow.action_kind),
            col(ActionRunRow.result),
            col(ActionRunRow.phase),
        )
        query = select(kind, result, phase, func.count()).group_by(kind, result, phase)
        with self.db.session() as session:
            return {(k, r or p): n for k, r, p, n in session.exec(query)}

    def stats(self) -> list[ActionStats]:
        """Outcomes per action kind and anomaly kind, most used first."""
        with self.db.session() as session:
            rows = list(session.exec(select(ActionRunRow).where(ActionRunRow.phase == "done")))
        groups: dict[tuple[str, str], list[ActionRunRow]] = defaultdict(list)
        for row in rows:
            groups[(row.action_kind, row.anomaly_kind)].append(row)
        stats = [_stats(key, group) for key, group in groups.items()]
        return sorted(stats, key=lambda s: (-s.total, s.action_kind, s.anomaly_kind))


def _stats(key: tuple[str, str], rows: list[ActionRunRow]) -> ActionStats:
    results = [row.result for row in rows]
    seconds = sorted(r.seconds_to_clear for r in rows if r.seconds_to_clear is not None)
    median = seconds[len(seconds) // 2] if seconds else None
    return ActionStats(
        action_kind=key[0],
        anomaly_kind=key[1],
        total=len(rows),
        cleared=results.count("cleared"),
        not_cleared=results.count("not_cleared"),
        failed=results.count("failed"),
        refused=results.count("refused"),
        median_seconds_to_clear=median,
    )


def _copy(row: ActionRunRow) -> ActionRunRow:
    return ActionRunRow.model_validate(row.model_dump())
