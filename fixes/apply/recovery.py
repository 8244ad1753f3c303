"""Fixes apply: at start, finish what a killed process left on the checkout.

A process killed mid-apply leaves its journal (:mod:`fixes.apply.journal`). If the fix
commit (found by its ``Fix-Id:`` trailer) is on the remote, the push went through and only
clean-up was left: the checkout is fast-forwarded and the proposal is ``applied``.
Otherwise the apply is undone by :func:`~fixes.apply.transaction.roll_back`, the same
way back a live transaction takes, and the proposal is ``rolled_back`` ("interrupted").
A journaled revert (``kind: revert``) is treated the same way with its
``Reverts-Fix-Id:`` trailer: ``reverted`` when the remote has it, else undone
(``interrupted``).
A ``git push`` may outlive its killed parent, so after a kill in phase ``committed`` or
``pushed`` recovery first waits for other git processes in the checkout to end.

Errors: :class:`~fixes.apply.journal.JournalError` when the journal or a backup cannot
be read (a person must look); git errors as :class:`~fixes.apply.gitops.GitOpsError`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection
from pathlib import Path

from fixes.apply.contract import ApplyOutcome, RevertOutcome
from fixes.apply.gitops import GitCommandFailed, GitOps
from fixes.apply.journal import Journal, JournalEntry, Phase
from fixes.apply.rollback import own_commit, roll_back

#: Seconds the fetch before recovery may take (offline, the last known remote head does).
RECOVERY_FETCH_SECONDS = 30.0


def recover(
    gitops: GitOps,
    journal: Journal,
    *,
    applying: Collection[str],
    git_wait_seconds: float,
) -> dict[str, ApplyOutcome | RevertOutcome]:
    """Undo or confirm the journaled apply, and say what became of ``applying`` ids.

    Call it holding the checkout's apply lock.

    Args:
        gitops, journal: the checkout and its journal.
        applying: ids the database shows as ``applying`` on this checkout; each gets an
            outcome even without a journal (``applied`` when a commit with its ``Fix-Id``
            trailer is on the remote, else ``rolled_back``).
        git_wait_seconds: how long to wait for a git process that outlived its parent.

    Returns:
        Proposal id -> outcome (``rolled_back`` with reason "interrupted", or ``applied``;
        for a journaled revert ``interrupted`` or ``reverted``).

    Raises:
        fixes.apply.journal.JournalError: the journal cannot be read or a backup does
            not match.
        fixes.apply.gitops.GitOpsError: git failed while undoing.
    """
    entry = journal.read()
    if entry is None and not applying:
        return {}
    if entry is not None and entry.phase in (Phase.COMMITTED, Phase.PUSHED):
        wait_for_other_git(gitops.root, timeout_seconds=git_wait_seconds)
    _fetch_quietly(gitops)
    outcomes: dict[str, ApplyOutcome | RevertOutcome] = {}
    if entry is not None and entry.kind == "revert":
        outcomes[entry.proposal_id] = _recover_revert(gitops, journal, entry)
    elif entry is not None:
        outcomes[entry.proposal_id] = _recover_entry(gitops, journal, entry)
    for proposal_id in applying:
        if proposal_id not in outcomes:
            outcomes[proposal_id] = _pushed_or_interrupted(gitops, proposal_id)
    return outcomes


def _recover_entry(gitops: GitOps, journal: Journal, entry: JournalEntry) -> ApplyOutcome:
    pushed = _finish_pushed(gitops, journal, entry)
    if pushed is None:
        kept = roll_back(gitops, journal, entry)
        return ApplyOutcome(status="rolled_back", reason="interrupted", kept_branch=kept)
    return ApplyOutcome(status="applied", commit_sha=pushed, commit_url=gitops.commit_url(pushed))


def _recover_revert(gitops: GitOps, journal: Journal, entry: JournalEntry) -> RevertOutcome:
    pushed = _finish_pushed(gitops, journal, entry)
    if pushed is None:
        kept = roll_back(gitops, journal, entry)
        return RevertOutcome(status="interrupted", reason="interrupted", kept_branch=kept)
    return RevertOutcome(status="reverted", revert_sha=pushed, commit_url=gitops.commit_url(pushed))


def _finish_pushed(gitops: GitOps, journal: Journal, entry: JournalEntry) -> str | None:
    """When the remote has the journaled commit: fast-forward to it, clear the journal and
    return its sha; else None (nothing done)."""
    pushed = own_commit(gitops, entry)
    if pushed is None:
        return None
    gitops.abort_rebase_if_any()
    if gitops.head() != pushed and gitops.is_ancestor(gitops.head(), pushed):
        gitops.run("merge", "--ff-only", "--quiet", pushed)
    journal.clear(entry)
    return pushed


def _pushed_or_interrupted(gitops: GitOps, proposal_id: str) -> ApplyOutcome:
    pushed = gitops.find_fix_commit(proposal_id)
    if pushed is not None:
        return ApplyOutcome(
            status="applied", commit_sha=pushed, commit_url=gitops.commit_url(pushed)
        )
    return ApplyOutcome(status="rolled_back", reason="interrupted")


def _fetch_quietly(gitops: GitOps) -> None:
    saved = gitops.network_timeout_seconds
    gitops.network_timeout_seconds = min(saved, RECOVERY_FETCH_SECONDS)
    try:
        gitops.fetch()
    except GitCommandFailed:
        pass  # offline: the remote-tracking ref as of the last push has to do
    finally:
        gitops.network_timeout_seconds = saved


def wait_for_other_git(root: Path, *, timeout_seconds: float) -> bool:
    """Wait until no other git process works in the checkout at ``root`` (e.g. a
    ``git push`` that outlived its killed parent); False if some still run at the timeout.

    Linux only (reads ``/proc``); elsewhere it returns True at once.
    """
    deadline = time.monotonic() + timeout_seconds
    while _other_git_processes(root):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def _other_git_processes(root: Path) -> list[int]:
    proc = Path("/proc")
    found = []
    for entry in proc.iterdir() if proc.is_dir() else []:
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if (entry / "comm").read_text().strip() != "git":
                continue
            if Path(os.readlink(entry / "cwd")).resolve() != root:
                continue
        except OSError:
            continue
        found.append(int(entry.name))
    return found
