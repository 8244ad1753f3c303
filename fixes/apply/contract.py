"""Fixes apply: what the decisions rely on: the ``Implementor`` protocol and its outcome.

:class:`~fixes.decisions.Decisions` drives any :class:`Implementor`;
:class:`~fixes.apply.implementor.FixImplementor` is the real one, on a git checkout.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from core.notifier import ProposalEvent
from core.proposals import FixProposal


class ApplyOutcome(BaseModel):
    """What the implementor did with an approved proposal.

    Attributes:
        status: ``applied`` (pushed), ``rolled_back`` (files restored, nothing pushed),
            ``failed`` (refused before writing, or the push was refused) or
            ``awaiting_merge`` (pushed to a branch of its own with a pull request open:
            :mod:`fixes.apply.delivery`).
        commit_sha: the fix commit, when one was made.
        commit_url: a web link to it, when the remote is a known forge.
        reason: why it did not apply (token-scrubbed), None when applied.
        validation_output: the tail of the validation output, token-scrubbed.
        kept_branch: a local branch holding an unpushed fix commit, if any.
        branch: the remote branch the fix commit was pushed to when it is not
            ``GIT_BRANCH`` (pull-request delivery: ``mendbot/<fix id>``).
        pull_request: the open pull request's facts
            (:meth:`fixes.apply.github.PullRequest.summary`), when ``awaiting_merge``.
        proven: when applied with a regression test: True when it failed before the fix
            with the logged exception and passed after; False when it did not reproduce
            the failure (not committed); None without a test.
        action_detail: for an operational action, what the platform was asked to do.
        watch_seconds: for an operational action, how long its signal may take to clear.
    """

    status: Literal["applied", "rolled_back", "failed", "awaiting_merge"]
    commit_sha: str | None = None
    commit_url: str | None = None
    reason: str | None = None
    validation_output: str | None = None
    kept_branch: str | None = None
    branch: str | None = None
    pull_request: dict[str, Any] | None = None
    proven: bool | None = None
    action_detail: str | None = None
    watch_seconds: float | None = None


class RevertOutcome(BaseModel):
    """What became of undoing a pushed fix (``git revert`` of its commit).

    Attributes:
        status: ``reverted`` (the revert commit is on the remote), ``refused`` (nothing
            was changed: not revertible, later commits touched the same lines, the
            checkout is not fit), ``rolled_back`` (validation failed or an error: every
            file restored, nothing pushed), ``failed`` (the push was refused: the revert
            commit is kept on ``kept_branch``), ``interrupted`` (a killed revert found at
            start and undone).
        revert_sha: the revert commit, when one was made (or found on the remote).
        commit_url: a web link to it, when the remote is a known forge.
        fix_commit: the commit being reverted.
        reason: why it did not revert (token-scrubbed), None when reverted.
        validation_output: the tail of the validation output, token-scrubbed.
        kept_branch: a local branch holding an unpushed revert commit, if any.
        already: True when the remote already had a revert of this fix (nothing new pushed).
    """

    status: Literal["reverted", "refused", "rolled_back", "failed", "interrupted"]
    revert_sha: str | None = None
    commit_url: str | None = None
    fix_commit: str | None = None
    reason: str | None = None
    validation_output: str | None = None
    kept_branch: str | None = None
    already: bool = False


class Implementor(Protocol):
    """Applies an approved proposal to the repository.

    Implemented by ``fixes.apply.implementor.FixImplementor``.
    """

    def apply(
        self,
        proposal: FixProposal,
        *,
        approved_by: str,
        on_event: Callable[[ProposalEvent], None],
    ) -> ApplyOutcome:
        """Back up, edit, validate, commit and push, or restore everything.

        Raises:
            BaseException: only what cannot be handled (e.g. ``KeyboardInterrupt``),
                after restoring the files; every expected failure is an outcome.
        """
        ...

    def recover_interrupted(
        self, *, applying: Collection[str] = ()
    ) -> dict[str, ApplyOutcome | RevertOutcome]:
        """Finish an apply (or a revert) that a killed process left half done, from its
        journal.

        Args:
            applying: ids the store shows as ``applying`` on this checkout.

        Returns:
            Proposal id -> outcome: ``rolled_back`` with reason "interrupted" after the
            files were restored, or ``applied`` when the fix had already been pushed; for
            a journaled revert, a :class:`RevertOutcome` (``reverted`` when its commit is
            on the remote, else ``interrupted``).

        Raises:
            fixes.apply.journal.JournalError: the journal cannot be read (a person must
                look).
        """
        ...

    # Optional (``FixImplementor`` has them; Decisions falls back when absent):
    # ``exclusive(*, wait_seconds) -> ContextManager[bool]``, the checkout's apply lock,
    # ``location: str``, ``"<host>:<repository path>"``, and
    # ``revert(proposal, *, approved_by, reason, on_event) -> RevertOutcome``.
