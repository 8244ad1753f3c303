"""Fixes apply: the one way back to where a journaled transaction started.

Used by :class:`~fixes.apply.transaction.ApplyTransaction` when it does not reach its push,
and by recovery at start for a transaction a killed process left (:mod:`fixes.apply.recovery`).
"""

from __future__ import annotations

from typing import Literal

from fixes.apply.commit_message import FIX_ID_TRAILER, REVERTS_FIX_ID_TRAILER
from fixes.apply.gitops import GitOps
from fixes.apply.journal import Journal, JournalEntry


def kept_branch_name(proposal_id: str, kind: Literal["fix", "revert"] = "fix") -> str:
    """The local branch that keeps an unpushed fix commit, ``mendbot/<proposal id>``, or
    an unpushed revert, ``mendbot/revert-<proposal id>``."""
    return f"mendbot/{proposal_id}" if kind == "fix" else f"mendbot/revert-{proposal_id}"


def own_commit(gitops: GitOps, entry: JournalEntry, ref: str | None = None) -> str | None:
    """The newest commit on ``ref`` (default: the remote-tracking branch) that the
    journaled transaction made: the fix (``Fix-Id:``) or its revert (``Reverts-Fix-Id:``)."""
    trailer = FIX_ID_TRAILER if entry.kind == "fix" else REVERTS_FIX_ID_TRAILER
    return gitops.find_trailer(trailer, entry.proposal_id, ref)


def roll_back(gitops: GitOps, journal: Journal, entry: JournalEntry) -> str | None:
    """Return the checkout to where ``entry`` started and clear the journal.

    The one way back, for a transaction that did not reach its push and for one that a
    killed process left (recovery). Before a commit: unstage, and restore every file
    byte for byte (files the fix created are removed). After one: keep the fix commit on
    ``mendbot/<id>``, reset to ``entry.reset_to`` (the remote head it was last based on)
    and, when that is still the base, restore the files byte for byte as well.

    Returns:
        The branch that keeps the fix commit, or None when there was none.

    Raises:
        fixes.apply.journal.JournalError: a backup is missing or does not match.
        fixes.apply.gitops.GitCommandFailed: git failed.
    """
    gitops.abort_rebase_if_any()
    head = gitops.head()
    kept = None
    if head == entry.base_sha:
        gitops.run("reset", "--quiet", "--", *[item.path for item in entry.files])
    else:
        ours = own_commit(gitops, entry, "HEAD") == head
        commit = head if ours else entry.commit_sha
        if commit:
            kept = gitops.keep_branch(kept_branch_name(entry.proposal_id, entry.kind), commit)
        gitops.reset_hard(entry.reset_to)
    if entry.reset_to == entry.base_sha:
        journal.restore_files(entry)
    journal.clear(entry)
    return kept
