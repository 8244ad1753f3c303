"""Fixes persistence: compiled diagnosis programs, saved by ``mendbot learn``.

A saved program is a JSON object (``state``): the few-shot demos DSPy's optimizer chose for
each predictor of the diagnosis program, in the format of
:mod:`monitoring.diagnosis.compiled`. This store neither reads nor checks it: it masks
every string in it (:func:`core.redact.mask_data`, as every other table), inserts it, and
hands it back. Rows are never updated; the newest is the latest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from core.clock import utcnow
from core.redact import mask_data
from fixes.persistence.db import CompiledProgramRow, Database


@dataclass(frozen=True)
class SavedProgram:
    """One saved compiled program.

    Attributes:
        id: its sequence number (ascending in time).
        created_at: when it was saved (aware UTC).
        optimizer: the DSPy optimizer that compiled it (``LabeledFewShot``, ...).
        model: the LM it was bootstrapped with (None for one that needed no LM).
        proposal_ids: the verified fixes its examples came from.
        state: the program's JSON state (secrets masked).
    """

    id: int
    created_at: datetime
    optimizer: str
    model: str | None
    proposal_ids: list[str]
    state: dict[str, Any]


class ProgramStore:
    """The ``compiled_programs`` table.

    Args:
        db: the process's :class:`~fixes.persistence.db.Database`.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def save(
        self,
        state: dict[str, Any],
        *,
        optimizer: str,
        model: str | None,
        proposal_ids: Sequence[str],
    ) -> SavedProgram:
        """Insert a compiled program; every string in ``state`` is masked first.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the database refused it (nothing is saved).
        """
        row = CompiledProgramRow(
            created_at=utcnow(),
            optimizer=optimizer,
            model=model,
            proposal_ids=list(proposal_ids),
            state=mask_data(state),
        )
        with self.db.session() as session:
            session.add(row)
            session.flush()
            return _saved(row)

    def latest_id(self) -> int | None:
        """The newest program's id (a cheap query), or None when none was saved."""
        query = select(CompiledProgramRow.id).order_by(col(CompiledProgramRow.id).desc())
        with self.db.session() as session:
            return session.exec(query.limit(1)).first()

    def get(self, program_id: int) -> SavedProgram | None:
        """The program with this id, or None."""
        with self.db.session() as session:
            row = session.get(CompiledProgramRow, program_id)
            return _saved(row) if row is not None else None

    def latest(self) -> SavedProgram | None:
        """The newest program, or None."""
        program_id = self.latest_id()
        return self.get(program_id) if program_id is not None else None


def _saved(row: CompiledProgramRow) -> SavedProgram:
    return SavedProgram(
        id=row.id or 0,
        created_at=row.created_at,
        optimizer=row.optimizer,
        model=row.model,
        proposal_ids=list(row.proposal_ids),
        state=dict(row.state),
    )
