"""Shared contracts: proposals, their edits and state machine, and audit events.

The proposal lifecycle (``TRANSITIONS`` is the single source of truth)::

    proposed ──▶ approved ──▶ applying ──▶ applied
       │             │            ├──────▶ rolled_back   (validation failed, interrupted)
       │             │            └──────▶ failed        (push refused, preflight refused)
       │             └──────────────────▶ failed
       ├──▶ rejected
       ├──▶ expired                      (older than MENDBOT_PROPOSAL_TTL_SECONDS)
       └──▶ resolved                     (its signal cleared before anyone acted: an
                                          alert resolved, a health check passing again)

A proposal carries either ``edits`` (a code fix, applied by the implementor) or an
operational ``action`` (:class:`core.actions.Action`: restart, redeploy, rollback, a
container restart, a configured command), run by ``fixes.actions`` through the same
approval, audit and notification path.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from core.actions import Action
from core.models import Anomaly, Diagnosis


class Risk(StrEnum):
    """How risky applying a proposal is."""

    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class ProposalStatus(StrEnum):
    """Where a proposal is in its lifecycle (see the module docstring)."""

    PROPOSED = "proposed"
    APPROVED = "approved"
    APPLYING = "applying"
    APPLIED = "applied"
    ROLLED_BACK = "rolled_back"
    FAILED = "failed"
    REJECTED = "rejected"
    EXPIRED = "expired"
    RESOLVED = "resolved"


S = ProposalStatus
TRANSITIONS: dict[ProposalStatus, frozenset[ProposalStatus]] = {
    S.PROPOSED: frozenset({S.APPROVED, S.REJECTED, S.EXPIRED, S.RESOLVED}),
    S.APPROVED: frozenset({S.APPLYING, S.FAILED}),
    S.APPLYING: frozenset({S.APPLIED, S.ROLLED_BACK, S.FAILED}),
    S.APPLIED: frozenset(),
    S.ROLLED_BACK: frozenset(),
    S.FAILED: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
    S.RESOLVED: frozenset(),
}
#: Statuses in which a proposal still stands for its fingerprint (not posted again).
OPEN_STATUSES = frozenset({S.PROPOSED, S.APPROVED, S.APPLYING})
#: Statuses from which nothing follows.
FINAL_STATUSES = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)


class Edit(BaseModel):
    """One textual replacement in the target repository.

    Attributes:
        path: POSIX path relative to the repository root, e.g. ``app.py``.
        old_text: text that must occur exactly once in the file today.
        new_text: its replacement. An edit with empty ``old_text`` creates ``path``
            (which must not exist yet) with ``new_text`` as its content.
    """

    path: str
    old_text: str
    new_text: str


class FixProposal(BaseModel):
    """A diagnosed anomaly with the change that would fix it, waiting for a person.

    Attributes:
        id: ``fix_YYYYMMDD_HHMMSS`` (UTC), with ``_2``, ``_3``... on a clash; assigned
            by ``ProposalStore.add`` (empty before that).
        fingerprint: the anomaly's fingerprint (dedup key across cycles).
        anomaly, diagnosis: what was seen and why it happens.
        title: one line for a message header, e.g. ``KeyError in orders()``.
        edits: the change; empty means "needs investigation" (cannot be implemented).
        reasoning: why these edits fix the root cause.
        risk, risk_notes: LOW/MEDIUM/HIGH and what could go wrong.
        notes: remarks from the checks, e.g. an LM edit dropped and why.
        status: lifecycle state; change it only through ``ProposalStore.transition``.
        created_at, updated_at: aware UTC.
        decided_by, decided_at: who approved or rejected, and when.
        commit_sha: the pushed fix commit, once applied.
        error: why it failed or was rolled back, token-scrubbed.
        thread_ref: the notifier's handle on the proposal's message (Slack
            ``"<channel>:<ts>"``), None until posted.
        seen_again: how many more events of this anomaly arrived after it was posted.
        action: instead of edits, an operational action (restart, redeploy, ...); None for
            a code fix.
    """

    id: str = ""
    fingerprint: str
    anomaly: Anomaly
    diagnosis: Diagnosis
    title: str
    edits: list[Edit] = Field(default_factory=list)
    reasoning: str = ""
    risk: Risk = Risk.MEDIUM
    risk_notes: str = ""
    notes: list[str] = Field(default_factory=list)
    status: ProposalStatus = ProposalStatus.PROPOSED
    created_at: datetime
    updated_at: datetime | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    commit_sha: str | None = None
    error: str | None = None
    thread_ref: str | None = None
    seen_again: int = 0
    action: Action | None = None

    @property
    def implementable(self) -> bool:
        """True when there is a concrete change to apply or an action to run (otherwise:
        needs investigation)."""
        return bool(self.edits) or self.action is not None


class AuditEvent(BaseModel):
    """One append-only audit trail entry.

    Attributes:
        id: database sequence number (ascending in time order).
        at: aware UTC time of the event.
        actor: who did it: a Slack user id (``U...``), ``cli:<user>``, or ``mendbot``.
        action: e.g. ``proposed``, ``approved``, ``applying``, ``applied``,
            ``rolled_back``, ``refused``, ``validation_output``.
        proposal_id: the proposal concerned, if any.
        details: JSON-serialisable facts (reasons, commit sha, command output).
    """

    id: int
    at: datetime
    actor: str
    action: str
    proposal_id: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
