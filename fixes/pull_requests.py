"""Fixes workflow: follow each fix's pull request until it is merged or closed.

With ``MENDBOT_DELIVERY=pull_request`` an approved fix waits in ``awaiting_merge`` while
people review its pull request. Once per monitoring cycle :meth:`PullRequestFollower.follow`
reads each one (``GET /repos/{owner}/{repo}/pulls/{number}``, the number recorded in the
proposal's audit trail when it was opened)::

    open                  nothing changes
    merged                -> applied: ``commit_sha`` = the merge commit, audited with the
                             pull request; ``pull_request_merged`` in the thread; then
                             ``on_delivered(proposal, merge_sha)``: deploy tracking
                             starts there, as it does for a pushed fix
    closed, not merged    -> rejected, reason "pull request closed" (decided by
                             ``github``, so the cooldown counts from now); the branch
                             is left as it is; ``pull_request_closed`` in the thread

Transitions are compare-and-set from ``awaiting_merge``, so two processes following the
same pull request record its end once and call the hook once.

Errors: :meth:`PullRequestFollower.follow` never raises for one pull request's trouble
(GitHub unreachable or refusing, an answer that does not fit, a failing hook): it logs it,
returns it in :attr:`FollowResult.notes`, and the next cycle asks again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from core.clock import utcnow
from core.notifier import Notifier, ProposalEvent
from core.proposals import FixProposal, ProposalStatus
from fixes.apply.delivery import fix_branch_name
from fixes.apply.github import GitHubError, PullRequest
from fixes.persistence.store import SYSTEM_ACTOR, InvalidTransition, ProposalStore

log = logging.getLogger("mendbot.pull_requests")

#: The reason a proposal whose pull request was closed without merging is rejected with.
CLOSED_REASON = "pull request closed"
#: Who rejects it: the pull request was closed on GitHub (``decided_by``).
GITHUB_ACTOR = "github"

DeliveredHook = Callable[[FixProposal, str], None]
"""``on_delivered(proposal, commit_sha)``: a fix reached the deploy branch as
``commit_sha`` (here: the merge commit of its pull request); ``proposal`` is ``applied``."""


class PullRequestReader(Protocol):
    """:class:`~fixes.apply.github.GitHubClient`'s one method the follower calls."""

    def get_pull_request(self, number: int) -> PullRequest:
        """The pull request as it is now.

        Raises:
            fixes.apply.github.GitHubError: GitHub refused or could not be reached.
        """
        ...


@dataclass
class FollowResult:
    """What one :meth:`PullRequestFollower.follow` did.

    Attributes:
        changed: proposals that became ``applied`` or ``rejected``, as stored after.
        notes: short remarks for the operator (a pull request that could not be read).
    """

    changed: list[FixProposal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class PullRequestFollower:
    """Moves ``awaiting_merge`` proposals on when their pull requests are merged or closed.

    Args:
        store: where proposals and their audit trail live.
        notifier: told ``pull_request_merged`` / ``pull_request_closed``.
        github: reads pull requests (``GITHUB_REPOSITORY``).
        on_delivered: called after a merge is recorded (see :data:`DeliveredHook`); None
            does nothing.
        clock: the current aware UTC time.
        limit: proposals looked at per call, newest first.
    """

    def __init__(
        self,
        *,
        store: ProposalStore,
        notifier: Notifier,
        github: PullRequestReader,
        on_delivered: DeliveredHook | None = None,
        clock: Callable[[], datetime] = utcnow,
        limit: int = 200,
    ) -> None:
        self.store = store
        self.notifier = notifier
        self.github = github
        self.on_delivered = on_delivered
        self.clock = clock
        self.limit = limit

    def follow(self) -> FollowResult:
        """Look once at the pull request of every proposal ``awaiting_merge``.

        Returns:
            The proposals that changed, and notes on those that could not be read.
        """
        result = FollowResult()
        waiting = self.store.list(statuses={ProposalStatus.AWAITING_MERGE}, limit=self.limit)
        for proposal in waiting:
            try:
                changed = self._follow_one(proposal, result)
            except GitHubError as error:
                result.notes.append(f"{proposal.id}: could not read its pull request: {error}")
                continue
            if changed is not None:
                result.changed.append(changed)
        for note in result.notes:
            log.warning("%s", note)
        return result

    def _follow_one(self, proposal: FixProposal, result: FollowResult) -> FixProposal | None:
        recorded = self._recorded(proposal.id)
        if recorded is None:
            result.notes.append(f"{proposal.id}: no pull request is recorded for it")
            return None
        pull = self.github.get_pull_request(int(recorded["number"]))
        branch = str(recorded.get("branch") or fix_branch_name(proposal.id))
        if pull.head_ref != branch:
            result.notes.append(
                f"{proposal.id}: pull request #{pull.number} is from {pull.head_ref}, not "
                f"{branch}; was GITHUB_REPOSITORY changed? Left as it is"
            )
            return None
        if pull.merged:
            return self._merged(proposal, pull, result)
        if pull.state == "closed":
            return self._closed(proposal, pull)
        return None

    def _recorded(self, proposal_id: str) -> dict[str, Any] | None:
        """The pull request facts last recorded in the audit trail (``number``, ``url``,
        ``branch``), or None."""
        for event in reversed(self.store.audit_trail(proposal_id)):
            facts = event.details.get("pull_request")
            if isinstance(facts, dict) and isinstance(facts.get("number"), int):
                return facts
        return None

    def _merged(
        self, proposal: FixProposal, pull: PullRequest, result: FollowResult
    ) -> FixProposal | None:
        sha = pull.merge_commit_sha
        if sha is None:
            result.notes.append(f"{proposal.id}: #{pull.number} is merged but has no merge commit")
            return None
        facts = {"pull_request": pull.summary()}
        applied = self._transition(
            proposal.id, ProposalStatus.APPLIED, details=facts, commit_sha=sha
        )
        if applied is None:
            return None
        self._tell(applied, ProposalEvent(kind="pull_request_merged", details=facts))
        if self.on_delivered is not None:
            try:
                self.on_delivered(applied, sha)
            except Exception as error:  # the merge is recorded; say the hook failed
                log.exception("on_delivered failed for %s", proposal.id)
                result.notes.append(f"{proposal.id}: deploy tracking did not start: {error}")
        return applied

    def _closed(self, proposal: FixProposal, pull: PullRequest) -> FixProposal | None:
        facts = {"reason": CLOSED_REASON, "pull_request": pull.summary()}
        rejected = self._transition(
            proposal.id,
            ProposalStatus.REJECTED,
            details=facts,
            decided_by=GITHUB_ACTOR,
            decided_at=self.clock(),
        )
        if rejected is not None:
            self._tell(rejected, ProposalEvent(kind="pull_request_closed", details=facts))
        return rejected

    def _transition(
        self, proposal_id: str, to: ProposalStatus, **changes: Any
    ) -> FixProposal | None:
        """Compare-and-set from ``awaiting_merge``; None when another process was first."""
        try:
            return self.store.transition(
                proposal_id,
                to,
                actor=SYSTEM_ACTOR,
                expected={ProposalStatus.AWAITING_MERGE},
                **changes,
            )
        except InvalidTransition:
            return None

    def _tell(self, proposal: FixProposal, event: ProposalEvent) -> None:
        try:
            self.notifier.post_event(proposal, event)
        except Exception:  # recorded already; a notifier outage must not stop the others
            log.exception("could not tell %s's thread about %s", proposal.id, event.kind)
