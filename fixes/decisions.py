"""Fixes workflow: a person's decision on a proposal, the same from Slack and the terminal.

``Decisions`` turns "implement fix_ID" / "reject fix_ID" into store transitions, runs the
implementor, and tells the notifier each step. Who may decide is the caller's business
(Slack checks ``SLACK_APPROVERS``; a terminal user is trusted).

Errors::

    DecisionRefused      the decision cannot be taken; ``.reason`` is a sentence for the
                         person, ``.code`` one of: not_found, not_open, expired,
                         not_implementable, no_repository, not_revertible,
                         cannot_revert, busy, not_allowed (an action on mendbot itself,
                         with no executor, or automatic behind an open breaker)

A proposal that carries an operational action (restart, redeploy, ...) goes the same way,
but :class:`~fixes.actions.flow.ActionFlow` runs it instead of the implementor.

Approval is a compare-and-set from ``proposed``: of two approvals arriving together (two
clicks, a Slack retry, a CLI and a Slack user) one wins and the other is refused with
``not_open``, so a fix is applied at most once.

A proposal is ``applying`` only while its process holds the implementor's lock on the
checkout (taken before the transition, released after the final one), and the approval
and that transition record which checkout (``owner``: ``<host>:<path>``). So
:meth:`Decisions.recover` can tell a dead apply from a live one: with the lock free, an
``applying`` proposal of this checkout is dead; one of another checkout is left to its own
process unless it has not moved for ``abandoned_after_seconds``.

:meth:`Decisions.revert` undoes a pushed fix under the same lock (:mod:`fixes.revert`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta

from core.clock import utcnow
from core.notifier import EventKind, Notifier, ProposalEvent
from core.proposals import FixProposal, ProposalStatus
from core.redact import scrub_secrets
from fixes.actions.flow import ActionFlow
from fixes.actions.runner import ActionRunner
from fixes.apply.contract import ApplyOutcome, Implementor
from fixes.interrupted import given_up, is_mine, stuck_code_fixes
from fixes.persistence.store import SYSTEM_ACTOR, InvalidTransition, ProposalNotFound, ProposalStore
from fixes.refusals import DecisionRefused, RefusalCode, no_repository, not_open
from fixes.revert import RevertResult, check_revertible, record_recovered_reverts
from fixes.revert import revert as _revert

__all__ = ["DecisionRefused", "Decisions", "RefusalCode", "RevertResult"]


class Decisions:
    """Approve, implement, reject and expire proposals.

    Args:
        store: where proposals live.
        notifier: told about every step (thread messages, refreshed proposal message).
        implementor: applies approved proposals; None when no repository is configured
            (``TARGET_REPO_PATH`` unset), in which case approvals are refused.
        proposal_ttl_seconds: a proposal older than this cannot be approved any more.
        clock: the current aware UTC time (tests pass a fixed one).
        abandoned_after_seconds: :meth:`recover` gives up on a proposal ``approved`` or
            ``applying`` on another checkout after it has not moved for this long.
        actions: runs operational actions; None = action proposals cannot be approved.
    """

    def __init__(
        self,
        *,
        store: ProposalStore,
        notifier: Notifier,
        implementor: Implementor | None,
        proposal_ttl_seconds: float,
        clock: Callable[[], datetime] = utcnow,
        abandoned_after_seconds: float = 3600.0,
        actions: ActionRunner | None = None,
    ) -> None:
        self.store = store
        self.notifier = notifier
        self.implementor = implementor
        self.ttl = timedelta(seconds=proposal_ttl_seconds)
        self.clock = clock
        self.abandoned_after = timedelta(seconds=abandoned_after_seconds)
        self.actions = actions
        self.action_flow = (
            ActionFlow(
                runner=actions,
                store=store,
                notify=lambda p, e: self.notifier.post_event(p, e),
                alert=lambda text: self.notifier.post_alert(text),
                finish=self._finish,
            )
            if actions is not None
            else None
        )

    def approve(self, proposal_id: str, *, actor: str) -> FixProposal:
        """Record ``actor``'s approval (``proposed`` -> ``approved``) without applying.

        Raises:
            DecisionRefused: unknown id, not ``proposed`` any more, expired (it is marked
                ``expired`` then), nothing to apply, or no repository configured.
        """
        proposal = self._get(proposal_id)
        self._check_open(proposal)
        if proposal.action is not None:
            self._check_action(proposal, actor)
        elif not proposal.implementable:
            raise DecisionRefused(
                proposal_id,
                "not_implementable",
                f"{proposal_id} needs investigation: it has no change to apply",
            )
        elif self.implementor is None:
            raise no_repository(proposal_id)
        try:
            approved = self.store.transition(
                proposal_id,
                ProposalStatus.APPROVED,
                actor=actor,
                expected={ProposalStatus.PROPOSED},
                details=self._owner(),
                decided_by=actor,
                decided_at=self.clock(),
            )
        except InvalidTransition as lost:
            raise not_open(proposal_id, lost.current) from lost
        self.notifier.post_event(approved, ProposalEvent(kind="approved", actor=actor))
        return approved

    def execute(self, proposal_id: str) -> FixProposal:
        """Apply an approved proposal: ``approved`` -> ``applying`` -> final status.

        Safe to call twice: only the call that moves it to ``applying`` runs the
        implementor; the other is refused. Waits while another fix is being applied to
        the same checkout; if that takes longer than the implementor allows, the
        proposal is marked ``failed`` (nothing changed).

        Returns:
            The proposal in its final status (applied, rolled_back or failed), or
            ``awaiting_merge`` when its pull request was opened (pull-request delivery).

        Raises:
            DecisionRefused: unknown id, or not ``approved`` (already running or done).
        """
        if self._get(proposal_id).action is not None:
            return self._execute_action(proposal_id)
        if self.implementor is None:
            raise no_repository(proposal_id)
        with self._apply_lock(None) as held:
            if not held:
                return self._finish(
                    proposal_id,
                    ApplyOutcome(
                        status="failed",
                        reason="another fix was being applied to the "
                        "repository for too long; nothing was changed, approve it again later",
                    ),
                )
            applying = self._start_applying(proposal_id)
            return self._run_implementor(applying)

    def _check_action(self, proposal: FixProposal, actor: str) -> None:
        reason = (
            self.action_flow.refusal(proposal, actor=actor)
            if self.action_flow is not None
            else "operational actions are off on this instance (MENDBOT_REMEDIATION=off)"
        )
        if reason:
            raise DecisionRefused(proposal.id, "not_allowed", reason)

    def _execute_action(self, proposal_id: str) -> FixProposal:
        if self.action_flow is None:
            raise DecisionRefused(proposal_id, "not_allowed", "operational actions are off")
        return self.action_flow.run(self._start_applying(proposal_id))

    def _start_applying(self, proposal_id: str) -> FixProposal:
        try:
            return self.store.transition(
                proposal_id,
                ProposalStatus.APPLYING,
                actor=SYSTEM_ACTOR,
                expected={ProposalStatus.APPROVED},
                details=self._owner(),
            )
        except ProposalNotFound as missing:
            raise DecisionRefused(proposal_id, "not_found", str(missing)) from missing
        except InvalidTransition as lost:
            raise not_open(proposal_id, lost.current) from lost

    def _run_implementor(self, applying: FixProposal) -> FixProposal:
        proposal_id = applying.id

        def forward(event: ProposalEvent) -> None:
            if event.kind == "validation_failed":
                self.store.audit(
                    actor=SYSTEM_ACTOR,
                    action="validation_output",
                    proposal_id=proposal_id,
                    details=event.details,
                )
            self.notifier.post_event(self.store.get(proposal_id), event)

        assert self.implementor is not None
        try:
            outcome = self.implementor.apply(
                applying, approved_by=applying.decided_by or SYSTEM_ACTOR, on_event=forward
            )
        except Exception as error:  # the implementor restores files itself; record why
            outcome = ApplyOutcome(
                status="failed", reason=scrub_secrets(f"internal error: {error}")
            )
        return self._finish(proposal_id, outcome)

    def implement(self, proposal_id: str, *, actor: str) -> FixProposal:
        """Approve and apply in one call (the CLI's ``fixes implement``).

        Raises:
            DecisionRefused: as :meth:`approve` and :meth:`execute`.
        """
        self.approve(proposal_id, actor=actor)
        return self.execute(proposal_id)

    def reject(self, proposal_id: str, *, actor: str, reason: str = "") -> FixProposal:
        """Record ``actor``'s rejection (``proposed`` -> ``rejected``).

        Raises:
            DecisionRefused: unknown id, or not ``proposed`` any more.
        """
        proposal = self._get(proposal_id)
        if proposal.status is not ProposalStatus.PROPOSED:
            raise not_open(proposal_id, proposal.status)
        try:
            rejected = self.store.transition(
                proposal_id,
                ProposalStatus.REJECTED,
                actor=actor,
                expected={ProposalStatus.PROPOSED},
                details={"reason": reason},
                decided_by=actor,
                decided_at=self.clock(),
            )
        except InvalidTransition as lost:
            raise not_open(proposal_id, lost.current) from lost
        self.notifier.post_event(
            rejected, ProposalEvent(kind="rejected", actor=actor, details={"reason": reason})
        )
        return rejected

    def expire_stale(self) -> list[FixProposal]:
        """Mark every ``proposed`` proposal older than the TTL ``expired``, and finish
        stuck ones as :meth:`recover` does (the monitor calls this every cycle, so an apply
        killed in another process is rolled back without waiting for a restart).

        Returns:
            The proposals whose status changed (expired first).

        Raises:
            fixes.apply.journal.JournalError: as :meth:`recover`.
        """
        expired = []
        for proposal in self.store.list(statuses={ProposalStatus.PROPOSED}, limit=1000):
            if self._is_expired(proposal):
                done = self._expire(proposal)
                if done is not None:
                    expired.append(done)
        return expired + self.recover()

    def recover(self) -> list[FixProposal]:
        """At start: finish what a killed process left behind, before anything else runs.

        Only with this checkout's apply lock free (else a live process is applying, and
        this returns at once). Then no live process on this checkout is ``applying`` or
        waiting to, so: a half-applied fix is rolled back by the implementor (files
        restored) and marked ``rolled_back`` with reason "interrupted" (``applied`` if
        its push had gone through). A proposal ``approved`` here but never started is
        marked ``failed`` after the implementor's lock wait (a waiting approval gives up
        by then); one ``approved`` or ``applying`` on another checkout, after
        ``abandoned_after_seconds`` without moving. A revert killed half way is undone
        (audited ``revert_failed``, status kept) or, when the remote has it, recorded
        ``reverted`` (:func:`fixes.revert.record_recovered_reverts`).

        Returns:
            The proposals whose status changed.

        Raises:
            fixes.apply.journal.JournalError: the journal cannot be read (a person must look).
        """
        with self._apply_lock(0) as held:
            if not held:
                return []
            stuck = stuck_code_fixes(self.store)
            mine = {p.id for p in stuck if is_mine(self.store, self.implementor, p)}
            here = [p.id for p in stuck if p.id in mine and p.status is ProposalStatus.APPLYING]
            recovered = (
                self.implementor.recover_interrupted(applying=here) if self.implementor else {}
            )
            changed: list[FixProposal] = []
            for proposal in stuck:
                found = recovered.get(proposal.id)
                outcome = found if isinstance(found, ApplyOutcome) else None
                outcome = outcome or given_up(
                    proposal,
                    mine=proposal.id in mine,
                    now=self.clock(),
                    lock_wait_seconds=getattr(self.implementor, "lock_wait_seconds", 0.0),
                    abandoned_after=self.abandoned_after,
                )
                if outcome is None:
                    continue
                try:
                    changed.append(self._finish(proposal.id, outcome))
                except DecisionRefused:
                    continue
            return changed + record_recovered_reverts(self.store, self.notifier, recovered)

    def revert(
        self, proposal_id: str, *, actor: str, reason: str = "", automatic: bool = False
    ) -> RevertResult:
        """Undo an applied, verified or regressed fix (:func:`fixes.revert.revert`):
        ``git revert`` of its commit, validated, committed with ``Reverts-Fix-Id:`` and
        ``Approved-by: <actor>``, pushed; ``automatic`` when ``MENDBOT_AUTO_REVERT`` asked.

        Raises:
            DecisionRefused: unknown id, ``not_revertible``, ``no_repository``, ``busy``
                (the checkout held too long), or ``cannot_revert`` (nothing changed: e.g.
                later commits touched the same lines).
        """
        return _revert(
            self.store, self.notifier, self.implementor, self._apply_lock, proposal_id,
            actor=actor, reason=reason, automatic=automatic,
        )  # fmt: skip

    def check_revertible(self, proposal_id: str) -> FixProposal:
        """The proposal, if it may be reverted now (a quick check before queueing one).

        Raises:
            DecisionRefused: as :func:`fixes.revert.check_revertible`.
        """
        return check_revertible(self.store, self.implementor, proposal_id)

    def _owner(self) -> dict[str, str] | None:
        location = getattr(self.implementor, "location", None)
        return {"owner": location} if location else None

    def _apply_lock(self, wait_seconds: float | None) -> AbstractContextManager[bool]:
        exclusive = getattr(self.implementor, "exclusive", None)
        return exclusive(wait_seconds=wait_seconds) if exclusive else _held()

    # --- internals --------------------------------------------------------------------------
    def _finish(self, proposal_id: str, outcome: ApplyOutcome) -> FixProposal:
        target = ProposalStatus(outcome.status)
        details = {k: v for k, v in outcome.model_dump().items() if v is not None}
        try:
            final = self.store.transition(
                proposal_id,
                target,
                actor=SYSTEM_ACTOR,
                details=details,
                commit_sha=outcome.commit_sha,
                error=outcome.reason,
                proven=outcome.proven,
            )
        except InvalidTransition as lost:
            raise not_open(proposal_id, lost.current) from lost
        event_details = {k: v for k, v in details.items() if k != "status"}
        self.notifier.post_event(
            final, ProposalEvent(kind=_event_kind(outcome), details=event_details)
        )
        return final

    def _get(self, proposal_id: str) -> FixProposal:
        try:
            return self.store.get(proposal_id)
        except ProposalNotFound as missing:
            raise DecisionRefused(
                proposal_id, "not_found", f"there is no proposal {proposal_id}"
            ) from missing

    def _check_open(self, proposal: FixProposal) -> None:
        if proposal.status is not ProposalStatus.PROPOSED:
            raise not_open(proposal.id, proposal.status)
        if self._is_expired(proposal):
            self._expire(proposal)
            hours = self.ttl.total_seconds() / 3600
            raise DecisionRefused(
                proposal.id,
                "expired",
                f"{proposal.id} expired (proposals can be decided for {hours:g} h); "
                "it will be proposed again if the problem recurs",
            )

    def _is_expired(self, proposal: FixProposal) -> bool:
        return self.clock() - proposal.created_at > self.ttl

    def _expire(self, proposal: FixProposal) -> FixProposal | None:
        try:
            expired = self.store.transition(
                proposal.id,
                ProposalStatus.EXPIRED,
                actor=SYSTEM_ACTOR,
                expected={ProposalStatus.PROPOSED},
                details={"ttl_seconds": self.ttl.total_seconds()},
            )
        except InvalidTransition:
            return None
        self.notifier.post_event(
            expired,
            ProposalEvent(kind="expired", details={"ttl_seconds": self.ttl.total_seconds()}),
        )
        return expired


@contextmanager
def _held() -> Iterator[bool]:
    yield True


def _event_kind(outcome: ApplyOutcome) -> EventKind:
    """The thread event for an outcome: its status, or ``pull_request_opened`` when the
    fix waits for its pull request to be merged."""
    status = outcome.status
    return "pull_request_opened" if status == "awaiting_merge" else status
