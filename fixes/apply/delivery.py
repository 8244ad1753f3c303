"""Fixes apply: how a validated fix commit reaches the deploy branch (``MENDBOT_DELIVERY``).

::

    push           commit ─▶ push to GIT_BRANCH                    ─▶ applied
    pull_request   commit ─▶ push to mendbot/<fix id> ─▶ open PR   ─▶ awaiting_merge
                                    (GIT_BRANCH untouched)            │ (followed by
                                                                      │ fixes.pull_requests)
                                                   merged ─▶ applied ─┤
                                                   closed ─▶ rejected ┘

A :class:`Delivery` answers two questions for the implementor: which branch of the remote
the validated commit is pushed to (:meth:`Delivery.push_branch`), and what follows once
it is there (:meth:`Delivery.deliver`). :class:`PushDelivery` is the default and changes
nothing; :class:`PullRequestDelivery` opens the pull request through
:class:`~fixes.apply.github.GitHubClient`, with the title and body of
:mod:`fixes.apply.pull_request_text`.

Errors: none leave :meth:`Delivery.deliver`; a pull request that cannot be opened is a
``failed`` outcome whose reason names the branch holding the fix and GitHub's reason.
"""

from __future__ import annotations

from typing import Protocol

from core.proposals import FixProposal
from fixes.apply.contract import ApplyOutcome
from fixes.apply.github import GitHubClient, GitHubError
from fixes.apply.pull_request_text import pull_request_body, pull_request_title
from fixes.apply.rollback import kept_branch_name


def fix_branch_name(proposal_id: str) -> str:
    """The branch of a fix of its own: ``mendbot/<proposal id>``, the pull request's head;
    the same name as the local branch that keeps a fix commit the remote refused."""
    return kept_branch_name(proposal_id)


class Delivery(Protocol):
    """What the implementor does with a validated fix commit (``MENDBOT_DELIVERY``)."""

    name: str

    def push_branch(self, proposal_id: str) -> str | None:
        """The branch of the remote the fix commit is pushed to; None for ``GIT_BRANCH``."""
        ...

    def deliver(
        self, proposal: FixProposal, pushed: ApplyOutcome, *, approved_by: str, base: str
    ) -> ApplyOutcome:
        """What follows the push.

        Args:
            proposal: the proposal being applied.
            pushed: the transaction's outcome (only ``applied`` means the remote has the
                commit on :meth:`push_branch`); any other is returned as it is.
            approved_by: who approved it.
            base: ``GIT_BRANCH``, the branch the platform deploys.

        Returns:
            The outcome to record: ``applied``, ``awaiting_merge``, or ``failed``.
        """
        ...


class PushDelivery:
    """``MENDBOT_DELIVERY=push``: the fix commit is pushed to ``GIT_BRANCH``; done."""

    name = "push"

    def push_branch(self, proposal_id: str) -> str | None:
        return None

    def deliver(
        self, proposal: FixProposal, pushed: ApplyOutcome, *, approved_by: str, base: str
    ) -> ApplyOutcome:
        return pushed


class PullRequestDelivery:
    """``MENDBOT_DELIVERY=pull_request``: push to ``mendbot/<fix id>`` and open a pull
    request into ``GIT_BRANCH`` (for teams whose deploy branch is protected).

    Args:
        github: the client for ``GITHUB_REPOSITORY``.
    """

    name = "pull_request"

    def __init__(self, *, github: GitHubClient) -> None:
        self.github = github

    def push_branch(self, proposal_id: str) -> str | None:
        return fix_branch_name(proposal_id)

    def deliver(
        self, proposal: FixProposal, pushed: ApplyOutcome, *, approved_by: str, base: str
    ) -> ApplyOutcome:
        """Open the pull request for the pushed branch (or reuse the one already open).

        Returns:
            ``awaiting_merge`` with ``pull_request`` set; ``failed`` (the branch stays
            on the remote, the reason says where and why) when GitHub refused or could
            not be reached; ``pushed`` itself when it is not ``applied``.
        """
        if pushed.status != "applied" or not pushed.commit_sha:
            return pushed
        branch = pushed.branch or fix_branch_name(proposal.id)
        try:
            pull = self.github.create_pull_request(
                head=branch,
                base=base,
                title=pull_request_title(proposal, approved_by=approved_by),
                body=pull_request_body(
                    proposal, approved_by=approved_by, commit_sha=pushed.commit_sha
                ),
            )
        except GitHubError as error:
            reason = (
                f"the validated fix commit {pushed.commit_sha[:12]} is on branch {branch} of "
                f"the remote, but the pull request could not be opened: {error.reason}. "
                f"Open one from {branch} into {base} by hand, or fix the setting; "
                f"{base} was not changed"
            )
            return pushed.model_copy(update={"status": "failed", "reason": reason})
        return pushed.model_copy(
            update={"status": "awaiting_merge", "branch": branch, "pull_request": pull.summary()}
        )
