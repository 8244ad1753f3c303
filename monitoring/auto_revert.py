"""Monitoring orchestration: ``MENDBOT_AUTO_REVERT``: reverting a failed or regressed fix, once.

:class:`AutoReverter` is what the :class:`~monitoring.verification.Verifier` calls when a
fix's deploy failed or the fix regressed. By policy it reverts through
:meth:`fixes.decisions.Decisions.revert` as ``mendbot`` (audited ``automatic``, said in the
fix's thread): ``deploy_failed`` only after a failed or crashed deploy, ``regressed`` after
that or a regression, ``off`` never. A once-key in the database (``auto-revert:<fix id>``,
claimed before trying) keeps it to one attempt per fix across cycles, processes and
restarts; a revert that cannot be done is audited ``revert_failed`` and told to the thread,
and a person decides from there. Errors: none escape for a refused revert; database errors
propagate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, Protocol

from core.notifier import Notifier, ProposalEvent
from core.proposals import FixProposal
from fixes.decisions import DecisionRefused
from fixes.persistence.store import SYSTEM_ACTOR, ProposalStore
from settings import AutoRevert

#: Once-key prefix that keeps an automatic revert to one per fix.
AUTO_REVERT_KEY = "auto-revert:"
Cause = Literal["deploy_failed", "regressed"]


class Reverter(Protocol):
    """``fixes.decisions.Decisions``' revert, as used here."""

    def revert(
        self, proposal_id: str, *, actor: str, reason: str = "", automatic: bool = False
    ) -> Any:
        """Undo a pushed fix; raises ``DecisionRefused`` when it cannot."""
        ...


class AutoReverter:
    """Reverts a failed or regressed fix when the policy says so, at most once per fix.

    Args:
        policy: ``MENDBOT_AUTO_REVERT``.
        reverter: ``Decisions``.
        claim_once: claims a key once ever (``StateStore.claim_once``).
        store, notifier: where a refusal is audited and told.
    """

    def __init__(
        self,
        *,
        policy: AutoRevert,
        reverter: Reverter,
        claim_once: Callable[[str], bool],
        store: ProposalStore,
        notifier: Notifier,
    ) -> None:
        self.policy = policy
        self.reverter = reverter
        self.claim_once = claim_once
        self.store = store
        self.notifier = notifier

    def wants(self, cause: Cause) -> bool:
        """True when the policy reverts after ``cause``."""
        return self.policy == "regressed" or (
            self.policy == "deploy_failed" and cause == "deploy_failed"
        )

    def after(self, proposal: FixProposal, *, cause: Cause, reason: str) -> None:
        """Revert ``proposal`` if the policy wants it after ``cause`` and it was never tried.

        Args:
            proposal: the fix, just marked regressed.
            cause: what happened.
            reason: what happened, in words (goes into the revert commit and the thread).
        """
        if not self.wants(cause) or not self.claim_once(AUTO_REVERT_KEY + proposal.id):
            return
        why = f"MENDBOT_AUTO_REVERT={self.policy}: {reason}"
        try:
            self.reverter.revert(proposal.id, actor=SYSTEM_ACTOR, reason=why, automatic=True)
        except DecisionRefused as refused:
            facts = {"reason": refused.reason, "why": why, "automatic": True}
            self.store.audit(
                actor=SYSTEM_ACTOR, action="revert_failed", proposal_id=proposal.id, details=facts
            )
            event = ProposalEvent(kind="revert_failed", actor=SYSTEM_ACTOR, details=facts)
            self.notifier.post_event(self.store.get(proposal.id), event)
