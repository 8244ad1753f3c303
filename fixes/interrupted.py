"""Fixes workflow: which proposals a killed process left ``approved`` or ``applying``, and
what became of them (used by :meth:`fixes.decisions.Decisions.recover` at start).

A proposal is *mine* when the last ``approved``/``applying`` audit event recorded this
checkout as its ``owner`` (``<host>:<path>``), or recorded none. Mine and ``applying`` with
the apply lock free: the implementor rolls it back. Mine and ``approved``: given up after
the implementor's lock wait plus a minute. Another checkout's: given up after
``abandoned_after`` without moving.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from core.proposals import FixProposal, ProposalStatus
from fixes.apply.contract import ApplyOutcome, Implementor
from fixes.persistence.store import ProposalStore

NEVER_STARTED = "approved but never started (mendbot stopped); nothing was changed"
OTHER_CHECKOUT_STOPPED = (
    "interrupted: the process applying it on another checkout stopped; "
    "check that repository (its next start rolls it back)"
)


def stuck_code_fixes(store: ProposalStore, limit: int = 1000) -> list[FixProposal]:
    """Code fixes ``applying`` or ``approved`` (actions recover through their own flow);
    at most ``limit``."""
    statuses = {ProposalStatus.APPLYING, ProposalStatus.APPROVED}
    return [p for p in store.list(statuses=statuses, limit=limit) if p.action is None]


def is_mine(store: ProposalStore, implementor: Implementor | None, proposal: FixProposal) -> bool:
    """True when ``implementor``'s checkout is the one ``proposal`` was approved or started
    on (see the module docstring); False without an implementor."""
    if implementor is None:
        return False
    location = getattr(implementor, "location", None)
    marks = [e for e in store.audit_trail(proposal.id) if e.action in ("approved", "applying")]
    owner = marks[-1].details.get("owner") if marks else None
    return owner is None or location is None or owner == location


def given_up(
    proposal: FixProposal,
    *,
    mine: bool,
    now: datetime,
    lock_wait_seconds: float,
    abandoned_after: timedelta,
) -> ApplyOutcome | None:
    """The ``failed`` outcome for a stuck proposal that waited past its grace, else None.

    Args:
        proposal: ``approved`` or ``applying``.
        mine: :func:`is_mine`.
        now: the current aware UTC time.
        lock_wait_seconds: how long an approval waits for the apply lock (seconds).
        abandoned_after: the grace for another checkout's proposal.
    """
    idle = now - (proposal.updated_at or proposal.created_at)
    approved = proposal.status is ProposalStatus.APPROVED
    grace = timedelta(seconds=lock_wait_seconds + 60.0) if approved and mine else abandoned_after
    if idle < grace:
        return None
    reason = NEVER_STARTED if approved else OTHER_CHECKOUT_STOPPED
    return ApplyOutcome(status="failed", reason=reason)
