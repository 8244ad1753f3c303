"""Fixes actions: an action proposal through the decisions: run, retry, verify, escalate.

:class:`~fixes.decisions.Decisions` hands an approved proposal that carries an action
here instead of to the implementor, so an action is approved, audited and reported exactly
like a code fix: ``approved`` -> ``applying`` -> ``applied`` (the platform accepted it) or
``failed``. While the platform's API is down the proposal stays ``applying`` and its
action is queued (people are told once, ``action_queued``); :meth:`ActionFlow.tick`
retries what is due and escalates actions whose signal did not clear (``not_cleared``);
:meth:`ActionFlow.signal_cleared` reports the ones whose signal did (``resolved``).
"""

from __future__ import annotations

from collections.abc import Callable

from core.notifier import ProposalEvent
from core.proposals import FixProposal, ProposalStatus
from fixes.actions.runner import ActionRunner, Attempt
from fixes.apply.contract import ApplyOutcome
from fixes.persistence.store import SYSTEM_ACTOR, ProposalStore

#: The actor of an action taken without a person (trust level ``auto``).
AUTO_ACTOR = "mendbot:auto"

Notify = Callable[[FixProposal, ProposalEvent], None]
Finish = Callable[[str, ApplyOutcome], FixProposal]


class ActionFlow:
    """The action side of the decisions.

    Args:
        runner: runs actions and keeps their rows.
        store: the proposals.
        notify: tells a proposal's thread (the decisions' notifier, looked up per call).
        alert: a channel notice (a breaker opening).
        finish: the decisions' final transition (audits and notifies).
    """

    def __init__(
        self,
        *,
        runner: ActionRunner,
        store: ProposalStore,
        notify: Notify,
        alert: Callable[[str], None],
        finish: Finish,
    ) -> None:
        self.runner = runner
        self.store = store
        self.notify = notify
        self.alert = alert
        self.finish = finish

    def refusal(self, proposal: FixProposal, *, actor: str) -> str | None:
        """Why the proposal's action may not be approved by ``actor``, or None: switched
        off, nothing to run it, mendbot itself, or automatic behind an open breaker."""
        action = proposal.action
        if action is None:
            return None
        if action.trust == "off":
            return f"{action.kind} actions are switched off (trust level off)"
        reason = self.runner.refusal(action)
        if reason is None and actor == AUTO_ACTOR and self.runner.breaker_open(action.target):
            reason = f"the breaker on {action.target} is open; a person may still approve it"
        return reason

    def run(self, applying: FixProposal) -> FixProposal:
        """Attempt the action of an ``applying`` proposal; returns it as stored after."""
        automatic = applying.decided_by == AUTO_ACTOR
        attempt = self.runner.attempt(applying, automatic=automatic)
        if attempt.breaker_opened and applying.action is not None:
            self.alert(breaker_text(applying.action.target, self.runner.breaker_failures))
        if attempt.status == "queued":
            return self._queued(applying, attempt)
        if attempt.status == "done":
            watch = self.runner.verify.total_seconds()
            return self.finish(
                applying.id,
                ApplyOutcome(status="applied", action_detail=attempt.detail, watch_seconds=watch),
            )
        return self.finish(applying.id, ApplyOutcome(status="failed", reason=attempt.detail))

    def tick(self) -> list[FixProposal]:
        """Retry queued actions that are due, and escalate those whose signal stayed.

        Returns:
            The proposals whose status changed.
        """
        changed = []
        for proposal_id in self.runner.due():
            proposal = self.store.get(proposal_id)
            if proposal.status is ProposalStatus.APPLYING:
                changed.append(self.run(proposal))
        for proposal_id, waited, opened in self.runner.overdue():
            proposal = self.store.get(proposal_id)
            self.store.audit(
                actor=SYSTEM_ACTOR,
                action="not_cleared",
                proposal_id=proposal_id,
                details={"waited_seconds": round(waited, 1)},
            )
            self.notify(
                proposal,
                ProposalEvent(kind="not_cleared", details={"waited_seconds": round(waited, 1)}),
            )
            if opened and proposal.action is not None:
                self.alert(breaker_text(proposal.action.target, self.runner.breaker_failures))
        return changed

    def signal_cleared(self, fingerprint: str, *, source: str) -> list[str]:
        """Report, in each thread, the actions that the clearing of ``fingerprint`` verified.

        Returns:
            The ids of the proposals verified.
        """
        verified = []
        for proposal_id, seconds in self.runner.cleared(fingerprint):
            details = {"source": source, "seconds": round(seconds, 1)}
            self.store.audit(
                actor=SYSTEM_ACTOR, action="cleared", proposal_id=proposal_id, details=details
            )
            self.notify(
                self.store.get(proposal_id), ProposalEvent(kind="resolved", details=details)
            )
            verified.append(proposal_id)
        return verified

    def recover(self) -> list[FixProposal]:
        """At start: fail the actions a killed process left running (queued ones go on)."""
        changed = []
        for proposal_id in self.runner.interrupted():
            if self.store.get(proposal_id).status is ProposalStatus.APPLYING:
                reason = "interrupted while the action ran; check the service by hand"
                changed.append(
                    self.finish(proposal_id, ApplyOutcome(status="failed", reason=reason))
                )
        return changed

    def _queued(self, applying: FixProposal, attempt: Attempt) -> FixProposal:
        details = {"reason": attempt.detail, "retry_in_seconds": attempt.retry_in_seconds}
        self.store.audit(
            actor=SYSTEM_ACTOR, action="action_queued", proposal_id=applying.id, details=details
        )
        if attempt.first_queued:
            self.notify(applying, ProposalEvent(kind="action_queued", details=details))
        return self.store.get(applying.id)


def breaker_text(target: str, failures: int) -> str:
    """The channel notice when a target's breaker opens."""
    return (
        f"Breaker open on {target}: {failures} failed actions within the hour. No more "
        f"automatic actions there until a person says `@mendbot resume {target}` or the "
        "cooldown ends."
    )
