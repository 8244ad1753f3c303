"""Shared contracts: how the pipeline tells people about proposals (Slack, console, memory).

The pipeline (monitor, decisions, implementor) talks to a :class:`Notifier` and never to
slack_sdk: the Slack notifier lives in ``bot/`` and renders :class:`ProposalEvent`s in its
own words; :class:`InMemoryNotifier` records calls for tests and dry runs.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from core.proposals import FixProposal

log = logging.getLogger("mendbot.notify")

EventKind = Literal[
    "approved",  # a person said yes (actor)
    "applying",  # the implementor started (backup taken)
    "validation_passed",  # details: checks (list of str)
    "validation_failed",  # details: check, output (tail, scrubbed)
    "applied",  # details: commit_sha, commit_url (may be absent), branch
    "rolled_back",  # details: reason
    "failed",  # details: reason, kept_branch (may be absent)
    "rejected",  # actor, details: reason (may be empty)
    "expired",  # details: ttl_seconds
    "seen_again",  # details: count (this cycle), total
    "refused",  # actor, details: reason (e.g. not an approver, stale proposal)
    # Operational actions and the signals they answer (fixes/actions, monitoring/signals):
    "resolved",  # details: source (alert | health), seconds (after an action, if any)
    "not_cleared",  # details: waited_seconds: the action ran but the signal stayed
    "action_queued",  # details: reason, retry_in_seconds: the platform's API is down
    "action_refused",  # details: reason (mendbot itself, breaker open, no executor)
]


class ProposalEvent(BaseModel):
    """Something that happened to a proposal, for its thread.

    Attributes:
        kind: see :data:`EventKind` for the kinds and the ``details`` keys each carries.
        actor: who caused it (Slack user id, ``cli:<user>``, ``mendbot``), if anyone.
        details: kind-specific facts; strings are already scrubbed of tokens.
    """

    kind: EventKind
    actor: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class Notifier(Protocol):
    """Where proposals and their progress are shown."""

    def post_proposal(self, proposal: FixProposal) -> str | None:
        """Show a new proposal; return a handle for its thread (stored as
        ``FixProposal.thread_ref``) or None when the notifier has no threads."""
        ...

    def post_event(self, proposal: FixProposal, event: ProposalEvent) -> None:
        """Tell the proposal's thread about ``event`` and refresh the proposal's message
        to its current ``status`` (e.g. remove buttons once decided)."""
        ...

    def post_alert(self, text: str) -> None:
        """A channel-level notice not tied to a proposal (e.g. a log source is down)."""
        ...


class NullNotifier:
    """Tells nobody (the default when Slack is not configured)."""

    def post_proposal(self, proposal: FixProposal) -> str | None:
        return None

    def post_event(self, proposal: FixProposal, event: ProposalEvent) -> None:
        return None

    def post_alert(self, text: str) -> None:
        return None


class InMemoryNotifier:
    """Records every call (thread-safe), for tests and dry runs.

    Attributes:
        proposals: proposals posted, in order.
        events: ``(proposal_id, event)`` pairs, in order.
        alerts: alert texts, in order.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.proposals: list[FixProposal] = []
        self.events: list[tuple[str, ProposalEvent]] = []
        self.alerts: list[str] = []

    def post_proposal(self, proposal: FixProposal) -> str | None:
        with self._lock:
            self.proposals.append(proposal)
            return f"memory:{len(self.proposals)}"

    def post_event(self, proposal: FixProposal, event: ProposalEvent) -> None:
        with self._lock:
            self.events.append((proposal.id, event))

    def post_alert(self, text: str) -> None:
        with self._lock:
            self.alerts.append(text)

    def event_kinds(self, proposal_id: str) -> list[str]:
        """The kinds of events posted for one proposal, in order."""
        with self._lock:
            return [event.kind for pid, event in self.events if pid == proposal_id]


class LogNotifier:
    """Tells the process log (logger ``mendbot.notify``) about proposals and alerts: the
    default of ``start_monitoring`` in a REPL, where Slack is not at hand."""

    def post_proposal(self, proposal: FixProposal) -> str | None:
        log.warning(
            "new proposal %s: %s (%s)", proposal.id, proposal.title, proposal.diagnosis.root_cause
        )
        return None

    def post_event(self, proposal: FixProposal, event: ProposalEvent) -> None:
        log.info("%s: %s %s", proposal.id, event.kind, event.details)

    def post_alert(self, text: str) -> None:
        log.warning("%s", text)
