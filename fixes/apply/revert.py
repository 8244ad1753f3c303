"""Fixes apply: undoing a pushed fix with ``git revert``, validated and pushed like a fix.

::

    preflight ─▶ fix commit on the branch? ─▶ already reverted? ─▶ revert_contents (3-way)
        │                 │                        │                   │
        └── refused ◀─────┴────────────────────────┼───── refused ◀────┘ (later commits
                                                   │                      touched the lines)
                                 reverted (nothing new) ◀┘
    ─▶ ApplyTransaction(kind=revert): backup + journal ─▶ write ─▶ validate ─▶ commit ─▶ push

The revert commit reads ``Revert "Auto-fix: <summary>"`` with ``Reverts-Fix-Id:`` and
``Approved-by:`` trailers (:func:`~fixes.apply.commit_message.revert_message`). Never a
force push: a remote that moved on gets the transaction's one fetch-rebase-revalidate.
Everything before the backup only reads; a refusal leaves the checkout byte for byte as
it was. Call :func:`revert_fix` holding the checkout's apply lock
(:meth:`FixImplementor.revert` does). Errors: every expected failure is a
:class:`~fixes.apply.contract.RevertOutcome`; what escapes is as for
:meth:`ApplyTransaction.run`.
"""

from __future__ import annotations

import re
from pathlib import Path

from core.notifier import ProposalEvent
from core.proposals import FixProposal
from fixes.apply.commit_message import REVERTS_FIX_ID_TRAILER, revert_message
from fixes.apply.contract import ApplyOutcome, RevertOutcome
from fixes.apply.gitops import GitOps, GitOpsError, scrub
from fixes.apply.history import RevertConflict, revert_contents
from fixes.apply.journal import Journal, JournalError
from fixes.apply.transaction import ApplyTransaction, EventSink
from fixes.apply.validation import Validator

_SHA = re.compile(r"[0-9a-f]{7,64}")


def revert_fix(
    proposal: FixProposal,
    *,
    gitops: GitOps,
    journal: Journal,
    validator: Validator,
    approved_by: str,
    reason: str,
    on_event: EventSink,
) -> RevertOutcome:
    """Revert ``proposal``'s pushed commit on the checkout and push the revert.

    Args:
        proposal: a fix whose ``commit_sha`` is on the remote branch.
        gitops, journal, validator: the checkout, its journal and the checks.
        approved_by: the ``Approved-by:`` trailer (a person, or ``mendbot``).
        reason: why, for the commit message.
        on_event: receives ``reverting``, ``validation_passed`` and ``validation_failed``.

    Returns:
        ``reverted`` (pushed, or found already on the remote with ``already``),
        ``refused`` (nothing changed), ``rolled_back`` or ``failed`` (see
        :class:`~fixes.apply.contract.RevertOutcome`).
    """
    planned = _plan(proposal, gitops, journal)
    if isinstance(planned, RevertOutcome):
        return planned
    base, contents = planned
    fix = str(proposal.commit_sha)
    paths = [p.relative_to(gitops.root).as_posix() for p in contents]
    forward = _as_reverting(on_event, fix_commit=fix, files=paths, actor=approved_by)
    try:
        transaction = ApplyTransaction.begin(
            gitops=gitops,
            journal=journal,
            proposal_id=proposal.id,
            base_sha=base,
            contents=contents,
            validator=validator,
            baseline=validator.baseline(paths),
            on_event=forward,
            kind="revert",
        )
    except (JournalError, OSError) as error:
        return _refused(f"refused: cannot take the backup: {error}", fix)
    message = revert_message(proposal, fix_commit=fix, approved_by=approved_by, reason=reason)
    return _as_revert(transaction.run(message), fix)


def _as_reverting(
    on_event: EventSink, *, fix_commit: str, files: list[str], actor: str
) -> EventSink:
    """``on_event``, with the transaction's ``applying`` event told as ``reverting``."""

    def forward(event: ProposalEvent) -> None:
        if event.kind == "applying":
            details = {"fix_commit": fix_commit, "files": files}
            event = ProposalEvent(kind="reverting", actor=actor, details=details)
        on_event(event)

    return forward


def _plan(
    proposal: FixProposal, gitops: GitOps, journal: Journal
) -> tuple[str, dict[Path, bytes | None]] | RevertOutcome:
    """Only reads: ``(HEAD after the preflight, the reverted contents)``, or the outcome
    when there is nothing to do (already reverted on the remote) or it is refused."""
    fix = proposal.commit_sha
    if not fix:
        return _refused(f"{proposal.id} has no pushed commit to revert", fix)
    if not _SHA.fullmatch(fix):  # a stored value is never passed to git as an option
        return _refused(f"{proposal.id}'s stored commit is not a commit sha", None)
    try:
        if journal.read() is not None:
            return _refused("an interrupted change is still journaled; restart mendbot", fix)
        base = gitops.preflight()
        found = gitops.find_trailer(REVERTS_FIX_ID_TRAILER, proposal.id)
        if found is not None:
            url = gitops.commit_url(found)
            return RevertOutcome(
                status="reverted", revert_sha=found, commit_url=url, fix_commit=fix, already=True
            )
        if not gitops.is_ancestor(fix, "HEAD"):
            where = f"{gitops.remote}/{gitops.branch}"
            return _refused(f"the fix commit {fix[:12]} is not on {where}", fix)
        contents = revert_contents(gitops, fix)
    except RevertConflict as conflict:
        return _refused(f"refused, nothing was changed: {conflict.reason}", fix)
    except (GitOpsError, JournalError) as error:
        return _refused(f"refused: {getattr(error, 'reason', error)}", fix)
    if not contents:
        return _refused(f"{gitops.branch} no longer holds any change of {fix[:12]}", fix)
    return base, contents


def _as_revert(outcome: ApplyOutcome, fix: str) -> RevertOutcome:
    if outcome.status == "applied":
        return RevertOutcome(
            status="reverted",
            revert_sha=outcome.commit_sha,
            commit_url=outcome.commit_url,
            fix_commit=fix,
        )
    return RevertOutcome(
        status=outcome.status,
        fix_commit=fix,
        reason=outcome.reason,
        validation_output=outcome.validation_output,
        kept_branch=outcome.kept_branch,
    )


def _refused(reason: str, fix: str | None) -> RevertOutcome:
    return RevertOutcome(status="refused", reason=scrub(reason), fix_commit=fix)
