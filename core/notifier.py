"""Shared contracts: how the pipeline tells people about proposals (Slack, console, memory).

The pipeline (monitor, decisions, implementor) talks to a :class:`Notifier` and never to
slack_sdk: the Slack notifier lives in ``bot/`` and renders :class:`ProposalEvent`s in its
own words; :class:`InMemoryNotifier` records calls for tests and dry runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from core.proposals import FixProposal
from core.text import one_line, printable

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
    # Pull-request delivery; details: pull_request ({number, url, branch, base, and once
    # merged merge_commit_sha, merged_at}), and for opened: commit_sha, commit_url, branch;
    # for closed: reason ("pull request closed").
    "pull_request_opened",
    "pull_request_merged",
    "pull_request_closed",
    # After the push (see core.verification): following the deploy, judging the fix.
    "deploy_live",  # details: commit_sha, deploy_id, deploy_status, live_at, window_seconds
    "deploy_failed",  # details: commit_sha, deploy_id, deploy_status
    "deploy_lost",  # details: commit_sha, waited_seconds (no deployment of it was seen)
    "verified",  # details: commit_sha, count_before, count_after, window_seconds, caused
    "regressed",  # details: as verified (count_after > 0)
    "probably_caused",  # details: commit_sha, fingerprint, summary, frame, first_seen
    # Undoing a pushed fix (fixes.decisions.Decisions.revert).
    "reverting",  # actor, details: fix_commit, files
    "reverted",  # actor, details: revert_sha, commit_url, reason, automatic, already
    "revert_failed",  # actor, details: reason, automatic, kept_branch (may be absent)
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

    def post_held(self, proposals: Sequence[FixProposal], *, cap: int) -> None:
        """One message listing the new proposals of a cycle that were stored but not
        posted, because ``cap`` (``MENDBOT_MAX_PROPOSALS_PER_CYCLE``) were posted already;
        ``proposals`` most severe first."""
        ...


class NullNotifier:
    """Tells nobody (the default when Slack is not configured)."""

    def post_proposal(self, proposal: FixProposal) -> str | None:
        return None

    def post_event(self, proposal: FixProposal, event: ProposalEvent) -> None:
        return None

    def post_alert(self, text: str) -> None:
        return None

    def post_held(self, proposals: Sequence[FixProposal], *, cap: int) -> None:
        return None


class InMemoryNotifier:
    """Records every call (thread-safe), for tests and dry runs.

    Attributes:
        proposals: proposals posted, in order.
        events: ``(proposal_id, event)`` pairs, in order.
        alerts: alert texts, in order.
        held: ``(proposal ids, cap)`` per summary of proposals not posted, in order.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.proposals: list[FixProposal] = []
        self.events: list[tuple[str, ProposalEvent]] = []
        self.alerts: list[str] = []
        self.held: list[tuple[list[str], int]] = []

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

    def post_held(self, proposals: Sequence[FixProposal], *, cap: int) -> None:
        with self._lock:
            self.held.append(([p.id for p in proposals], cap))

    def event_kinds(self, proposal_id: str) -> list[str]:
        """The kinds of events posted for one proposal, in order."""
        with self._lock:
            return [event.kind for pid, event in self.events if pid == proposal_id]


class LogNotifier:
    """Tells the process log (logger ``mendbot.notify``) about proposals and alerts: the
    default of ``start_monitoring`` in a REPL, where Slack is not at hand. Log and LM text
    is logged :func:`~core.text.printable` (a REPL's log is a terminal)."""

    def post_proposal(self, proposal: FixProposal) -> str | None:
        log.warning(
            "new proposal %s: %s (%s)",
            proposal.id,
            one_line(proposal.title),
            printable(proposal.diagnosis.root_cause),
        )
        return None

    def post_event(self, proposal: FixProposal, event: ProposalEvent) -> None:
        log.info("%s: %s %s", proposal.id, event.kind, printable(str(event.details)))

    def post_alert(self, text: str) -> None:
        log.warning("%s", printable(text))

    def post_held(self, proposals: Sequence[FixProposal], *, cap: int) -> None:
        log.warning(
            "%d more new proposals stored, not posted (over the cap of %d a cycle): %s",
            len(proposals),
            cap,
            ", ".join(p.id for p in proposals[:20]) + (" ..." if len(proposals) > 20 else ""),
        )
