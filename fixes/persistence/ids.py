"""Fixes persistence: proposal ids that never run out, ``fix_YYYYMMDD_HHMMSS[_N]``.

The id is the proposal's ``created_at`` second (UTC), as people type it
(``@mendbot implement fix_20261121_023300``); the second proposal of a second gets
``_2``, the third ``_3``, and so on without an upper bound. The primary key decides
between processes: an insert that loses its id to another writer asks
:meth:`IdAllocator.after_clash` for the next one, which one query finds (the highest
suffix stored for that second). Within a process the next suffix is remembered, so a
thousand proposals in one second cost a thousand inserts and one query, not the million
tries of counting up from ``_2`` each time.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC

from sqlalchemy import or_
from sqlmodel import col, select

from core.proposals import FixProposal
from fixes.persistence.db import Database, ProposalRow


def base_of(proposal: FixProposal) -> str:
    """``fix_YYYYMMDD_HHMMSS`` of the proposal's ``created_at``, in UTC."""
    return "fix_" + proposal.created_at.astimezone(UTC).strftime("%Y%m%d_%H%M%S")


def make_id(base: str, suffix: int | None) -> str:
    """``base`` itself for suffix None, else ``base_<suffix>``."""
    return base if suffix is None else f"{base}_{suffix}"


class IdAllocator:
    """Picks proposal ids (see the module docstring); thread-safe.

    Args:
        db: the database whose ``proposals`` table holds the ids taken.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._next: dict[str, int] = {}  # the last second used -> the suffix to try next

    def first_try(self, base: str) -> int | None:
        """The suffix to try first for ``base`` (None: the bare id)."""
        with self._lock:
            return self._next.get(base)

    def after_clash(self, base: str, tried: int | None) -> int:
        """The suffix to try after ``tried`` was taken: past every stored one."""
        return max(self.stored_next(base) or 2, (tried or 1) + 1)

    def fresh(self, proposals: Sequence[FixProposal]) -> list[str]:
        """Ids for a batch, in order: the next free ones of each second (one query each)."""
        upcoming: dict[str, int | None] = {}
        ids = []
        for proposal in proposals:
            base = base_of(proposal)
            if base not in upcoming:
                upcoming[base] = self.stored_next(base)
            suffix = upcoming[base]
            ids.append(make_id(base, suffix))
            upcoming[base] = (suffix or 1) + 1
        return ids

    def taken(self, proposal_id: str) -> None:
        """Remember that ``proposal_id`` was stored: its successor is tried next."""
        width = len("fix_YYYYMMDD_HHMMSS")
        base, tail = proposal_id[:width], proposal_id[width + 1 :]
        with self._lock:
            self._next = {base: int(tail or 1) + 1}

    def stored_next(self, base: str) -> int | None:
        """None when no id of ``base``'s second is stored, else one past the highest."""
        pattern = base.replace("_", "\\_") + "\\_%"
        query = select(ProposalRow.id).where(
            or_(col(ProposalRow.id) == base, col(ProposalRow.id).like(pattern, escape="\\"))
        )
        with self.db.session() as session:
            ids = list(session.exec(query))
        if not ids:
            return None
        tails = [i[len(base) + 1 :] for i in ids]
        return max([1, *(int(tail) for tail in tails if tail.isdigit())]) + 1
