"""Fixes workflow: undoing a pushed fix (what :meth:`Decisions.revert` delegates to).

:func:`revert` checks that the fix may be reverted (:func:`check_revertible`: applied,
verified or regressed, with a commit, and a repository), takes the checkout's apply lock,
checks again (it may have moved meanwhile), runs the implementor's revert with its events
told to the thread, and records what came of it (:func:`record_revert`): ``reverted`` is
a compare-and-set from applied, verified or regressed with the revert's facts audited; a
revert that rolled back or whose push was refused is audited ``revert_failed`` and told
to the thread, the status unchanged. At start, :func:`record_recovered_reverts` does the
same for a revert that a killed process left.

Errors: :class:`~fixes.refusals.DecisionRefused` (codes ``not_found``,
``not_revertible``, ``no_repository``, ``busy``, ``cannot_revert``, ``not_open``); an
expected failure after the checks is a result, not an error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from core.notifier import Notifier, ProposalEvent
from core.proposals import REVERTIBLE_STATUSES, FixProposal, ProposalStatus
from core.redact import scrub_secrets
from fixes.apply.contract import RevertOutcome
from fixes.apply.transaction import EventSink
from fixes.persistence.store import SYSTEM_ACTOR, InvalidTransition, ProposalNotFound, ProposalStore
from fixes.refusals import DecisionRefused, no_repository, not_open

#: The checkout's apply lock: ``lock(wait_seconds)`` yields whether it is held.
Lock = Callable[[float | None], AbstractContextManager[bool]]


class Reverting(Protocol):
    """The implementor's revert (``FixImplementor.revert``)."""

    def revert(
        self, proposal: FixProposal, *, approved_by: str, reason: str, on_event: EventSink
    ) -> RevertOutcome:
        """Undo the proposal's pushed commit; every expected failure is an outcome."""
        ...


INTERRUPTED = (
    "interrupted: mendbot stopped during the revert; every file was restored and nothing was pushed"
)


@dataclass(frozen=True)
class RevertResult:
    """What :meth:`Decisions.revert` did: the proposal as stored after it (``reverted``, or
    unchanged when the revert rolled back or its push was refused) and the outcome."""

    proposal: FixProposal
    outcome: RevertOutcome

    @property
    def reverted(self) -> bool:
        """True when the fix is undone on the remote."""
        return self.outcome.status == "reverted"


def revert(
    store: ProposalStore,
    notifier: Notifier,
    implementor: object,
    lock: Lock,
    proposal_id: str,
    *,
    actor: str,
    reason: str,
    automatic: bool,
) -> RevertResult:
    """Undo a pushed fix (see the module docstring).

    Args:
        store, notifier: where proposals live and who is told.
        implementor: the ``FixImplementor`` (anything with :class:`Reverting`'s method).
        lock: the checkout's apply lock (``Decisions._apply_lock``).
        proposal_id, actor: the fix; who asks (``Approved-by:``, ``mendbot`` when automatic).
        reason: why, for the commit message and the audit trail.
        automatic: ``MENDBOT_AUTO_REVERT`` asked for it (audited, said in the thread).

    Returns:
        The proposal as stored after it, and the implementor's outcome.

    Raises:
        DecisionRefused: see the module docstring.
    """
    check_revertible(store, implementor, proposal_id)
    with lock(None) as held:
        if not held:
            raise DecisionRefused(
                proposal_id, "busy", "another change is being applied; try again later"
            )
        proposal = check_revertible(store, implementor, proposal_id)
        outcome = run_revert(
            implementor,  # type: ignore[arg-type]  # check_revertible: it can revert
            proposal,
            store=store,
            notifier=notifier,
            actor=actor,
            reason=reason,
        )
        if outcome.status == "refused":
            raise DecisionRefused(proposal_id, "cannot_revert", outcome.reason or "refused")
        try:
            return record_revert(
                store, notifier, proposal, outcome, actor=actor, reason=reason, automatic=automatic
            )
        except InvalidTransition as lost:
            raise not_open(proposal_id, lost.current) from lost


def check_revertible(store: ProposalStore, implementor: object, proposal_id: str) -> FixProposal:
    """The proposal, if it may be reverted: applied, verified or regressed, with a pushed
    commit, and an implementor that can revert.

    Raises:
        DecisionRefused: ``not_found``, ``not_revertible`` or ``no_repository``.
    """
    try:
        proposal = store.get(proposal_id)
    except ProposalNotFound as missing:
        raise DecisionRefused(
            proposal_id, "not_found", f"there is no proposal {proposal_id}"
        ) from missing
    if proposal.status not in REVERTIBLE_STATUSES:
        state = proposal.status.value.replace("_", " ")
        raise DecisionRefused(
            proposal_id,
            "not_revertible",
            f"{proposal_id} is {state}: only an applied, verified or regressed fix can be reverted",
        )
    if not proposal.commit_sha:
        raise DecisionRefused(
            proposal_id, "not_revertible", f"{proposal_id} has no pushed commit to revert"
        )
    if not callable(getattr(implementor, "revert", None)):
        raise no_repository(proposal_id)
    return proposal


def run_revert(
    implementor: Reverting,
    proposal: FixProposal,
    *,
    store: ProposalStore,
    notifier: Notifier,
    actor: str,
    reason: str,
) -> RevertOutcome:
    """Run the implementor's revert, telling the thread each step (validation output is
    audited as for a fix). An unexpected error becomes a ``failed`` outcome."""

    def forward(event: ProposalEvent) -> None:
        if event.kind == "validation_failed":
            store.audit(
                actor=SYSTEM_ACTOR,
                action="validation_output",
                proposal_id=proposal.id,
                details={**event.details, "revert": True},
            )
        notifier.post_event(store.get(proposal.id), event)

    try:
        return implementor.revert(proposal, approved_by=actor, reason=reason, on_event=forward)
    except Exception as error:  # the transaction restores files itself; record why
        reason = scrub_secrets(f"internal error: {error}")
        return RevertOutcome(status="failed", fix_commit=proposal.commit_sha, reason=reason)


def record_revert(
    store: ProposalStore,
    notifier: Notifier,
    proposal: FixProposal,
    outcome: RevertOutcome,
    *,
    actor: str,
    reason: str,
    automatic: bool,
) -> RevertResult:
    """Store and tell what a revert did (see the module docstring).

    Raises:
        fixes.persistence.errors.InvalidTransition: ``reverted`` lost its compare-and-set.
    """
    facts = _facts(outcome, reason=reason, automatic=automatic)
    if outcome.status != "reverted":
        store.audit(actor=actor, action="revert_failed", proposal_id=proposal.id, details=facts)
        notifier.post_event(
            store.get(proposal.id), ProposalEvent(kind="revert_failed", actor=actor, details=facts)
        )
        return RevertResult(store.get(proposal.id), outcome)
    reverted = store.transition(
        proposal.id,
        ProposalStatus.REVERTED,
        actor=actor,
        expected=REVERTIBLE_STATUSES,
        details=facts,
    )
    notifier.post_event(reverted, ProposalEvent(kind="reverted", actor=actor, details=facts))
    return RevertResult(reverted, outcome)


def record_recovered_reverts(
    store: ProposalStore, notifier: Notifier, outcomes: Mapping[str, object]
) -> list[FixProposal]:
    """Record the reverts that start-up recovery finished (``reverted``: the remote had
    it) or undid (``interrupted``); returns the proposals whose status changed."""
    changed = []
    for proposal_id, outcome in outcomes.items():
        if not isinstance(outcome, RevertOutcome):
            continue
        proposal = store.get(proposal_id)
        if outcome.status == "interrupted":
            outcome = outcome.model_copy(update={"reason": INTERRUPTED})
        if outcome.status == "reverted" and proposal.status not in REVERTIBLE_STATUSES:
            continue
        result = record_revert(
            store, notifier, proposal, outcome, actor=SYSTEM_ACTOR, reason="", automatic=False
        )
        if result.reverted:
            changed.append(result.proposal)
    return changed


def _facts(outcome: RevertOutcome, *, reason: str, automatic: bool) -> dict[str, Any]:
    """The audit details and event details of a revert: the outcome's facts (``reason``:
    why it failed), ``outcome``, ``why`` (the requester's reason) and ``automatic``."""
    facts = {k: v for k, v in outcome.model_dump().items() if v not in (None, False)}
    facts.pop("status", None)
    return {**facts, "outcome": outcome.status, "why": reason, "automatic": automatic}
