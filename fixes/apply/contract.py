"""Fixes apply: what the decisions rely on: the ``Implementor`` protocol and its outcome.

:class:`~fixes.decisions.Decisions` drives any :class:`Implementor`;
:class:`~fixes.apply.implementor.FixImplementor` is the real one, on a git checkout.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Literal, Protocol

from pydantic import BaseModel

from core.notifier import ProposalEvent
from core.proposals import FixProposal


class ApplyOutcome(BaseModel):
    """What the implementor did with an approved proposal.

    Attributes:
        status: ``applied`` (pushed), ``rolled_back`` (files restored, nothing pushed)
            or ``failed`` (refused before writing, or the push was refused).
        commit_sha: the fix commit, when one was made.
        commit_url: a web link to it, when the remote is a known forge.
        reason: why it did not apply (token-scrubbed), None when applied.
        validation_output: the tail of the validation output, token-scrubbed.
        kept_branch: a local branch holding an unpushed fix commit, if any.
        action_detail: for an operational action, what the platform was asked to do.
        watch_seconds: for an operational action, how long its signal may take to clear.
    """

    status: Literal["applied", "rolled_back", "failed"]
    commit_sha: str | None = None
    commit_url: str | None = None
    reason: str | None = None
    validation_output: str | None = None
    kept_branch: str | None = None
    action_detail: str | None = None
    watch_seconds: float | None = None


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

    def recover_interrupted(self, *, applying: Collection[str] = ()) -> dict[str, ApplyOutcome]:
        """Finish an apply that a killed process left half done, from its journal.

        Args:
            applying: ids the store shows as ``applying`` on this checkout.

        Returns:
            Proposal id -> outcome: ``rolled_back`` with reason "interrupted" after the
            files were restored, or ``applied`` when the fix had already been pushed.

        Raises:
            fixes.apply.journal.JournalError: the journal cannot be read (a person must
                look).
        """
        ...

    # Optional (``FixImplementor`` has them; Decisions falls back when absent):
    # ``exclusive(*, wait_seconds) -> ContextManager[bool]``, the checkout's apply lock,
    # and ``location: str``, ``"<host>:<repository path>"``.
