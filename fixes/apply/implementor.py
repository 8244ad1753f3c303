"""Fixes implementor: apply an approved proposal to the service's checkout as one transaction.

::

    lock ─▶ preflight ─▶ check edits ─▶ backup + journal ─▶ write ─▶ validate ─▶ commit ─▶ push
               │              │                                          │                 │
               └─ failed ◀────┘          rolled_back (files restored) ◀──┘                 │
                         failed: fix commit kept on mendbot/<fix id>, checkout at the  ◀───┘
                         remote's head (push refused, or still refused after one
                         fetch-rebase-revalidate when the remote moved on)

Each step is written to the journal (:mod:`fixes.apply.journal`, under ``.git/mendbot/``) before
it starts, so :meth:`FixImplementor.recover_interrupted` can undo what a killed process
left. Only one apply runs per checkout at a time (an ``flock`` the kernel drops when its
holder dies). Every reason and output that leaves this module is token-scrubbed.

Errors: :meth:`FixImplementor.apply` returns an :class:`~fixes.decisions.ApplyOutcome` for
every expected failure and raises only what cannot be handled (``KeyboardInterrupt``,
``SystemExit``), after restoring the files. :class:`~fixes.apply.journal.JournalError` leaves
:meth:`FixImplementor.recover_interrupted` when a journal cannot be read: a person must look.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from core.edits import EditRejected, planned_contents
from core.notifier import ProposalEvent
from core.proposals import FixProposal
from fixes.apply.gitops import (
    GitCommandFailed,
    GitOps,
    GitOpsError,
    PushRejected,
    commit_message,
    scrub,
)
from fixes.apply.journal import Journal, JournalEntry, JournalError, Phase, atomic_write
from fixes.apply.validation import ImportBaseline, ValidationReport, Validator
from fixes.decisions import ApplyOutcome

if TYPE_CHECKING:
    from settings import Settings

EventSink = Callable[[ProposalEvent], None]
_RECOVERY_FETCH_SECONDS = 30.0


class FixImplementor:
    """Backs up, edits, validates, commits and pushes one approved proposal at a time.

    Args:
        repo_path: ``TARGET_REPO_PATH``, the root of the service's git checkout.
        remote: ``GIT_REMOTE``.
        branch: ``GIT_BRANCH``; the checkout must be on it.
        validate_command: ``VALIDATE_COMMAND`` (shell, cwd = repository), or None.
        validate_timeout_seconds: limit for the command and the import check.
        author_name, author_email: identity of fix commits.
        import_check: import the changed modules in a subprocess (see
            :mod:`fixes.apply.validation`).
        lock_wait_seconds: how long an apply waits for another one on the same checkout;
            default ``validate_timeout_seconds + 300``.
        network_timeout_seconds: limit for each fetch and push.
    """

    def __init__(
        self,
        *,
        repo_path: Path,
        remote: str = "origin",
        branch: str = "main",
        validate_command: str | None = None,
        validate_timeout_seconds: float = 600.0,
        author_name: str = "mendbot",
        author_email: str = "mendbot@localhost",
        import_check: bool = True,
        lock_wait_seconds: float | None = None,
        network_timeout_seconds: float = 120.0,
    ) -> None:
        self.repo_path = Path(repo_path).expanduser().resolve()
        self.remote = remote
        self.branch = branch
        self.author_name = author_name
        self.author_email = author_email
        self.network_timeout_seconds = network_timeout_seconds
        self.lock_wait_seconds = (
            validate_timeout_seconds + 300.0 if lock_wait_seconds is None else lock_wait_seconds
        )
        self.validator = Validator(
            repo_root=self.repo_path,
            command=validate_command,
            timeout_seconds=validate_timeout_seconds,
            import_check=import_check,
        )
        self._journal: Journal | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> FixImplementor | None:
        """The implementor for ``TARGET_REPO_PATH`` and friends; None when it is unset."""
        if settings.target_repo_path is None:
            return None
        return cls(
            repo_path=settings.target_repo_path,
            remote=settings.git_remote,
            branch=settings.git_branch,
            validate_command=settings.validate_command,
            validate_timeout_seconds=settings.validate_timeout_seconds,
            author_name=settings.git_author_name,
            author_email=settings.git_author_email,
        )

    @property
    def location(self) -> str:
        """``<host>:<repository path>``: which checkout this process applies fixes to."""
        return f"{socket.gethostname()}:{self.repo_path}"

    @contextmanager
    def exclusive(self, *, wait_seconds: float | None = None) -> Iterator[bool]:
        """Hold this checkout's apply lock (re-entrant in a thread); yields whether held.

        Args:
            wait_seconds: seconds to wait for another holder; None uses
                ``lock_wait_seconds``; 0 tries once.
        """
        journal = self._journal_or_none()
        if journal is None:  # no checkout there: nothing to protect, preflight will say why
            yield True
            return
        wait = self.lock_wait_seconds if wait_seconds is None else wait_seconds
        with journal.lock(wait_seconds=wait) as held:
            yield held

    # --- apply -------------------------------------------------------------------------------
    def apply(
        self,
        proposal: FixProposal,
        *,
        approved_by: str,
        on_event: EventSink,
    ) -> ApplyOutcome:
        """Apply ``proposal`` exactly, or leave the checkout as it was.

        Args:
            proposal: an approved proposal with edits.
            approved_by: the actor recorded in the ``Approved-by:`` trailer.
            on_event: receives ``applying``, ``validation_passed`` and
                ``validation_failed`` events as they happen.

        Returns:
            ``applied`` (pushed; ``commit_sha``, ``commit_url``), ``rolled_back`` (files
            restored, nothing pushed) or ``failed`` (refused before writing, or the push
            was refused: ``kept_branch`` holds the commit).
        """
        with self.exclusive() as held:
            if not held:
                return _failed(
                    "another fix is being applied to this checkout; try again when it is done"
                )
            return self._apply_locked(proposal, approved_by, on_event)

    def _apply_locked(
        self,
        proposal: FixProposal,
        approved_by: str,
        on_event: EventSink,
    ) -> ApplyOutcome:
        if not proposal.edits:
            return _failed("refused: the proposal has no change to apply")
        try:
            gitops = self._open_git()
            journal = self._journal_for(gitops)
            if journal.read() is not None:
                return _failed(
                    "an interrupted fix is still recorded in the journal; "
                    "restart mendbot so it is rolled back first"
                )
            base = gitops.preflight()
            contents = planned_contents(gitops.root, proposal.edits)
        except GitOpsError as error:
            return _failed(f"refused: {error.reason}")
        except EditRejected as error:
            return _failed(scrub(f"refused before any change: {error}"))
        except JournalError as error:
            return _failed(scrub(f"refused: {error}"))
        paths = [path.relative_to(gitops.root).as_posix() for path in contents]
        baseline = self.validator.baseline(paths)
        try:
            entry = journal.begin(
                proposal_id=proposal.id,
                branch=self.branch,
                remote=self.remote,
                base_sha=base,
                paths=list(contents),
            )
        except (JournalError, OSError) as error:
            return _failed(scrub(f"refused: cannot take the backup: {error}"))
        on_event(ProposalEvent(kind="applying", details={"files": paths, "base_sha": base}))
        try:
            return self._transact(
                gitops, journal, entry, proposal, approved_by, contents, baseline, on_event
            )
        except BaseException as error:
            kept = self._undo(gitops, journal, journal.read() or entry)
            if not isinstance(error, Exception):
                raise
            return ApplyOutcome(
                status="rolled_back",
                kept_branch=kept,
                reason=scrub(
                    f"internal error, every file was restored: {type(error).__name__}: {error}"
                ),
            )

    def _transact(
        self,
        gitops: GitOps,
        journal: Journal,
        entry: JournalEntry,
        proposal: FixProposal,
        approved_by: str,
        contents: dict[Path, bytes],
        baseline: ImportBaseline,
        on_event: EventSink,
    ) -> ApplyOutcome:
        for path, data in contents.items():
            atomic_write(path, data)
        entry = journal.update(entry, phase=Phase.WRITTEN)
        paths = [item.path for item in entry.files]
        report = self.validator.validate(paths, baseline)
        if not report.ok:
            _report_failure(on_event, report)
            self._undo(gitops, journal, entry)
            return ApplyOutcome(
                status="rolled_back",
                validation_output=report.output,
                reason=f"validation failed ({report.failed_check}); every file was restored",
            )
        on_event(ProposalEvent(kind="validation_passed", details={"checks": report.checks}))
        sha = gitops.commit(paths, commit_message(proposal, approved_by=approved_by))
        entry = journal.update(entry, phase=Phase.COMMITTED, commit_sha=sha)
        return self._publish(gitops, journal, entry, baseline, on_event)

    def _publish(
        self,
        gitops: GitOps,
        journal: Journal,
        entry: JournalEntry,
        baseline: ImportBaseline,
        on_event: EventSink,
    ) -> ApplyOutcome:
        try:
            gitops.push()
        except PushRejected as refused:
            if not refused.non_fast_forward:
                return self._abandon(gitops, journal, entry, refused.reason)
            outcome, entry = self._rebase_and_push(gitops, journal, entry, baseline, on_event)
            if outcome is not None:
                return outcome
        sha = gitops.head()
        entry = journal.update(entry, phase=Phase.PUSHED, commit_sha=sha)
        journal.clear(entry)
        return ApplyOutcome(status="applied", commit_sha=sha, commit_url=gitops.commit_url(sha))

    def _rebase_and_push(
        self,
        gitops: GitOps,
        journal: Journal,
        entry: JournalEntry,
        baseline: ImportBaseline,
        on_event: EventSink,
    ) -> tuple[ApplyOutcome | None, JournalEntry]:
        """The one retry after a non-fast-forward refusal: fetch, rebase, revalidate, push."""
        try:
            entry = journal.update(entry, reset_to=gitops.fetch())
            entry = journal.update(entry, commit_sha=gitops.rebase_onto_remote())
            report = self.validator.validate([f.path for f in entry.files], baseline)
            if not report.ok:
                _report_failure(on_event, report)
                reason = (
                    f"the remote moved on; after rebasing onto it, validation failed "
                    f"({report.failed_check})"
                )
                return self._abandon(gitops, journal, entry, reason, report.output), entry
            on_event(
                ProposalEvent(
                    kind="validation_passed",
                    details={"checks": report.checks, "after_rebase": True},
                )
            )
            gitops.push()
        except GitOpsError as error:
            return self._abandon(
                gitops, journal, entry, f"the remote moved on and the retry failed: {error.reason}"
            ), entry
        return None, entry

    def _abandon(
        self,
        gitops: GitOps,
        journal: Journal,
        entry: JournalEntry,
        reason: str,
        validation_output: str | None = None,
    ) -> ApplyOutcome:
        """Keep the unpushed fix commit on ``mendbot/<id>``; checkout back to the remote."""
        kept = gitops.keep_branch(_kept_branch(entry.proposal_id), gitops.head())
        gitops.reset_hard(gitops.remote_head())
        journal.clear(entry)
        return ApplyOutcome(
            status="failed",
            kept_branch=kept,
            validation_output=validation_output,
            reason=scrub(
                f"{reason}; nothing was pushed, the fix commit is kept on local "
                f"branch {kept} and the checkout is back at "
                f"{self.remote}/{self.branch}"
            ),
        )

    def _undo(self, gitops: GitOps, journal: Journal, entry: JournalEntry) -> str | None:
        """Return the checkout to where ``entry`` started; returns a kept branch, if any.

        Before a commit: unstage and restore the files byte for byte. After one: keep it
        on ``mendbot/<id>``, reset to ``entry.reset_to`` and, when that is still the
        base, restore the files byte for byte as well.
        """
        gitops.abort_rebase_if_any()
        head = gitops.head()
        kept = None
        paths = [item.path for item in entry.files]
        if head == entry.base_sha:
            gitops.run("reset", "--quiet", "--", *paths)
        else:
            ours = gitops.find_fix_commit(entry.proposal_id, "HEAD") == head
            commit = head if ours else entry.commit_sha
            if commit:
                kept = gitops.keep_branch(_kept_branch(entry.proposal_id), commit)
            gitops.reset_hard(entry.reset_to)
        if entry.reset_to == entry.base_sha:
            journal.restore_files(entry)
        journal.clear(entry)
        return kept

    # --- recovery ----------------------------------------------------------------------------
    def recover_interrupted(self, *, applying: Collection[str] = ()) -> dict[str, ApplyOutcome]:
        """Finish what a killed process left: undo its journal, or confirm its push.

        Args:
            applying: ids the database shows as ``applying`` on this checkout; each gets
                an outcome even without a journal (``applied`` when a commit with its
                ``Fix-Id`` trailer is on the remote, else ``rolled_back``).

        Returns:
            Proposal id -> outcome (``rolled_back`` with reason "interrupted", or
            ``applied``); empty when another live process holds the apply lock.

        Raises:
            JournalError: the journal cannot be read or a backup does not match.
        """
        with self.exclusive(wait_seconds=0) as held:
            if not held or self._journal_or_none() is None:
                return {}
            gitops = self._open_git()
            journal = self._journal_for(gitops)
            entry = journal.read()
            if entry is None and not applying:
                return {}
            if entry is not None and entry.phase in (Phase.COMMITTED, Phase.PUSHED):
                gitops.wait_for_other_git(timeout_seconds=self.network_timeout_seconds)
            self._fetch_quietly(gitops)
            outcomes: dict[str, ApplyOutcome] = {}
            if entry is not None:
                outcomes[entry.proposal_id] = self._recover_entry(gitops, journal, entry)
            for proposal_id in applying:
                if proposal_id not in outcomes:
                    outcomes[proposal_id] = self._pushed_or_interrupted(gitops, proposal_id)
            return outcomes

    def _recover_entry(self, gitops: GitOps, journal: Journal, entry: JournalEntry) -> ApplyOutcome:
        pushed = gitops.find_fix_commit(entry.proposal_id)
        if pushed is not None:
            gitops.abort_rebase_if_any()
            if gitops.head() != pushed and gitops.is_ancestor(gitops.head(), pushed):
                gitops.run("merge", "--ff-only", "--quiet", pushed)
            journal.clear(entry)
            return ApplyOutcome(
                status="applied", commit_sha=pushed, commit_url=gitops.commit_url(pushed)
            )
        kept = self._undo(gitops, journal, entry)
        return ApplyOutcome(status="rolled_back", reason="interrupted", kept_branch=kept)

    def _pushed_or_interrupted(self, gitops: GitOps, proposal_id: str) -> ApplyOutcome:
        pushed = gitops.find_fix_commit(proposal_id)
        if pushed is not None:
            return ApplyOutcome(
                status="applied", commit_sha=pushed, commit_url=gitops.commit_url(pushed)
            )
        return ApplyOutcome(status="rolled_back", reason="interrupted")

    def _fetch_quietly(self, gitops: GitOps) -> None:
        saved = gitops.network_timeout_seconds
        gitops.network_timeout_seconds = min(saved, _RECOVERY_FETCH_SECONDS)
        try:
            gitops.fetch()
        except GitCommandFailed:
            pass  # offline: the remote-tracking ref as of the last push has to do
        finally:
            gitops.network_timeout_seconds = saved

    # --- plumbing ----------------------------------------------------------------------------
    def _open_git(self) -> GitOps:
        return GitOps.open(
            self.repo_path,
            remote=self.remote,
            branch=self.branch,
            author_name=self.author_name,
            author_email=self.author_email,
            network_timeout_seconds=self.network_timeout_seconds,
        )

    def _journal_for(self, gitops: GitOps) -> Journal:
        if self._journal is None:
            self._journal = Journal(git_dir=gitops.git_dir, repo_root=gitops.root)
        return self._journal

    def _journal_or_none(self) -> Journal | None:
        if self._journal is None:
            try:
                self._journal_for(self._open_git())
            except GitOpsError:
                return None
        return self._journal


def _kept_branch(proposal_id: str) -> str:
    return f"mendbot/{proposal_id}"


def _failed(reason: str) -> ApplyOutcome:
    return ApplyOutcome(status="failed", reason=reason)


def _report_failure(on_event: EventSink, report: ValidationReport) -> None:
    on_event(
        ProposalEvent(
            kind="validation_failed",
            details={"check": report.failed_check, "output": report.output},
        )
    )
