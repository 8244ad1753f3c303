"""Fixes apply: the implementor: apply an approved proposal to the service's checkout.

::

    lock ─▶ preflight ─▶ review again ─▶ backup + journal ─▶ write ─▶ validate ─▶ commit ─▶ push
               │              │                                          │                 │
               └─ failed ◀────┘          rolled_back (files restored) ◀──┘                 │
                         failed: fix commit kept on mendbot/<fix id>, checkout at the  ◀───┘
                         remote's head (push refused, or still refused after one
                         fetch-rebase-revalidate when the remote moved on)

What follows a validated commit is the :class:`~fixes.apply.delivery.Delivery`'s: push to
``GIT_BRANCH`` (the default), or push to ``mendbot/<fix id>`` and open a pull request.

This module holds the lock (one apply per checkout at a time: an ``flock`` the kernel
drops when its holder dies), runs the preflight and the whole proposal-time review again
(:func:`core.review.recheck_proposal`: paths, protection, the stored evidence against the
code as it is now, caps, rewrites, and risk reasons the stored proposal must not
understate), so a stale or tampered proposal is refused before any file changes, and
hands the rest
to :class:`~fixes.apply.transaction.ApplyTransaction` (backup and journal under
``.git/mendbot/`` before the first write, each step journaled before it starts, one
rollback path). :meth:`FixImplementor.recover_interrupted` undoes at start what a killed
process left (:mod:`fixes.apply.recovery`). :meth:`FixImplementor.revert` undoes a pushed
fix under the same lock (:mod:`fixes.apply.revert`). Every reason and output that leaves
here is token-scrubbed.

Errors: :meth:`FixImplementor.apply` returns an :class:`~fixes.apply.contract.ApplyOutcome`
for every expected failure and raises only what cannot be handled (``KeyboardInterrupt``,
``SystemExit``), after restoring the files. :class:`~fixes.apply.journal.JournalError` leaves
:meth:`FixImplementor.recover_interrupted` when a journal cannot be read: a person must look.
"""

from __future__ import annotations

import socket
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from core.edits import EditRejected, planned_contents
from core.policy import DEFAULT_POLICY, EditPolicy
from core.proposals import Edit, FixProposal, regression_test_path
from core.review import recheck_proposal
from fixes.apply.commit_message import commit_message
from fixes.apply.contract import ApplyOutcome, RevertOutcome
from fixes.apply.delivery import Delivery, PushDelivery
from fixes.apply.gitops import GitOps, GitOpsError, scrub
from fixes.apply.history import changed_lines
from fixes.apply.journal import Journal, JournalError
from fixes.apply.proof import RegressionPlan
from fixes.apply.recovery import recover
from fixes.apply.revert import revert_fix
from fixes.apply.transaction import ApplyTransaction, EventSink
from fixes.apply.validation import Validator


class FixImplementor:
    """Backs up, edits, validates, commits and pushes one approved proposal at a time.

    Args:
        repo_path: ``TARGET_REPO_PATH``, the root of the service's git checkout.
        remote: ``GIT_REMOTE``.
        branch: ``GIT_BRANCH``; the checkout must be on it.
        validate_command: ``VALIDATE_COMMAND`` (shell, cwd = repository), or None.
        validate_timeout_seconds: limit for the command, the import check and each run of
            a regression test.
        test_command: ``MENDBOT_TEST_COMMAND``: runs one test file (path appended) with
            the service's Python (see :mod:`fixes.apply.proof`).
        author_name, author_email: identity of fix commits.
        import_check: import the changed modules in a subprocess (see
            :mod:`fixes.apply.validation`).
        lock_wait_seconds: how long an apply waits for another one on the same checkout;
            default ``validate_timeout_seconds + 300``.
        network_timeout_seconds: limit for each fetch and push.
        service_environment: the environment the service's code is validated with;
            default :func:`settings.service_environment`.
        delivery: what follows a validated commit (``MENDBOT_DELIVERY``); default
            :class:`~fixes.apply.delivery.PushDelivery`.
        policy: the edit policy proposals were reviewed by (``MENDBOT_PROTECTED_PATHS``);
            the review runs again under it before anything is written.
    """

    def __init__(
        self,
        *,
        repo_path: Path,
        remote: str = "origin",
        branch: str = "main",
        validate_command: str | None = None,
        validate_timeout_seconds: float = 600.0,
        test_command: str = "python -m pytest -q -p no:cacheprovider",
        author_name: str = "mendbot",
        author_email: str = "mendbot@localhost",
        import_check: bool = True,
        lock_wait_seconds: float | None = None,
        network_timeout_seconds: float = 120.0,
        service_environment: Mapping[str, str] | None = None,
        delivery: Delivery | None = None,
        policy: EditPolicy = DEFAULT_POLICY,
    ) -> None:
        self.repo_path = Path(repo_path).expanduser().resolve()
        self.policy = policy
        self.remote = remote
        self.branch = branch
        self.author_name = author_name
        self.author_email = author_email
        self.network_timeout_seconds = network_timeout_seconds
        self.test_command = test_command
        self.lock_wait_seconds = (
            validate_timeout_seconds + 300.0 if lock_wait_seconds is None else lock_wait_seconds
        )
        self.validator = Validator(
            repo_root=self.repo_path,
            command=validate_command,
            timeout_seconds=validate_timeout_seconds,
            import_check=import_check,
            environment=service_environment,
        )
        self.delivery: Delivery = delivery if delivery is not None else PushDelivery()
        self._journal: Journal | None = None

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
            ``applied`` (pushed; ``commit_sha``, ``commit_url``), ``awaiting_merge``
            (pull-request delivery: pushed to ``branch``, ``pull_request`` open),
            ``rolled_back`` (files restored, nothing pushed) or ``failed`` (refused before
            writing, the push was refused: ``kept_branch`` holds the commit, or the pull
            request could not be opened).

        Raises:
            BaseException: only what is not an ``Exception`` (e.g. ``KeyboardInterrupt``),
                after the files are restored; or an error of the rollback itself.
        """
        with self.exclusive() as held:
            if not held:
                return _failed(
                    "another fix is being applied to this checkout; try again when it is done"
                )
            return self._apply_locked(proposal, approved_by, on_event)

    def _apply_locked(
        self, proposal: FixProposal, approved_by: str, on_event: EventSink
    ) -> ApplyOutcome:
        started = self._begin(proposal, on_event)
        if isinstance(started, ApplyOutcome):
            return started
        pushed = started.run(
            lambda proven: commit_message(proposal, approved_by=approved_by, proven=proven)
        )
        return self.delivery.deliver(proposal, pushed, approved_by=approved_by, base=self.branch)

    def _begin(self, proposal: FixProposal, on_event: EventSink) -> ApplyTransaction | ApplyOutcome:
        """Preflight, check the edits, back up and journal: the transaction, or why not
        (``failed``; nothing was written)."""
        if not proposal.edits:
            return _failed("refused: the proposal has no change to apply")
        edits, regression = self._edits_and_test(proposal)
        if isinstance(regression, str):
            return _failed(regression)
        try:
            gitops = self._open_git()
            journal = self._journal_for(gitops)
            if journal.read() is not None:
                return _failed(
                    "an interrupted fix is still recorded in the journal; "
                    "restart mendbot so it is rolled back first"
                )
            base = gitops.preflight()
            contents = recheck_proposal(gitops.root, proposal, self.policy).contents
            if regression is not None:  # the one new file a fix may create, checked alone
                contents.update(planned_contents(gitops.root, edits[-1:], self.policy))
        except GitOpsError as error:
            return _failed(f"refused: {error.reason}")
        except EditRejected as error:
            return _failed(scrub(f"refused before any change: {error}"))
        except JournalError as error:
            return _failed(scrub(f"refused: {error}"))
        test = regression.path if regression else None
        written = [p.relative_to(gitops.root).as_posix() for p in contents]
        baseline = self.validator.baseline([path for path in written if path != test])
        try:
            return ApplyTransaction.begin(
                gitops=gitops,
                journal=journal,
                proposal_id=proposal.id,
                base_sha=base,
                contents=contents,
                validator=self.validator,
                baseline=baseline,
                on_event=on_event,
                push_branch=self.delivery.push_branch(proposal.id),
                regression=regression,
            )
        except (JournalError, OSError) as error:
            return _failed(scrub(f"refused: cannot take the backup: {error}"))

    # --- after the push ------------------------------------------------------------------------
    def revert(
        self, proposal: FixProposal, *, approved_by: str, reason: str, on_event: EventSink
    ) -> RevertOutcome:
        """Undo ``proposal``'s pushed commit with ``git revert``, validate, commit, push.

        Args:
            proposal: an applied (verified, regressed) fix with its ``commit_sha``.
            approved_by: who asked (the ``Approved-by:`` trailer).
            reason: why, for the commit message.
            on_event: receives ``reverting`` and the validation events.

        Returns:
            See :func:`fixes.apply.revert.revert_fix`; ``failed`` when another change held
            the checkout for longer than ``lock_wait_seconds``.

        Raises:
            BaseException: as :meth:`apply`.
        """
        with self.exclusive() as held:
            if not held:
                return RevertOutcome(
                    status="failed",
                    fix_commit=proposal.commit_sha,
                    reason="another change is being applied to this checkout; try again later",
                )
            try:
                gitops = self._open_git()
            except GitOpsError as error:
                return RevertOutcome(status="refused", reason=f"refused: {error.reason}")
            return revert_fix(
                proposal,
                gitops=gitops,
                journal=self._journal_for(gitops),
                validator=self.validator,
                approved_by=approved_by,
                reason=reason,
                on_event=on_event,
            )

    def changed_lines(self, commit_sha: str) -> dict[str, list[tuple[int, int]]]:
        """The line ranges ``commit_sha`` changed, per repository path (see
        :func:`fixes.apply.history.changed_lines`); empty when git cannot tell."""
        try:
            return changed_lines(self._open_git(), commit_sha)
        except GitOpsError:
            return {}

    def _edits_and_test(
        self, proposal: FixProposal
    ) -> tuple[list[Edit], RegressionPlan | str | None]:
        """The edits to write (the regression test last, as a new file) and its plan; or
        why the proposal is refused (a string). Only the regression test, at
        ``tests/mendbot/test_<id>.py``, may be a new file."""
        expected = regression_test_path(proposal.id)
        if any(edit.old_text == "" for edit in proposal.edits):
            return [], "refused before any change: only the regression test may be a new file"
        test = proposal.regression_test
        if test is None:
            return list(proposal.edits), None
        if test.path != expected:
            return [], f"refused before any change: the regression test must be at {expected}"
        plan = RegressionPlan(path=test.path, fails_with=test.fails_with, command=self.test_command)
        return [*proposal.edits, Edit(path=test.path, old_text="", new_text=test.content)], plan

    # --- recovery ----------------------------------------------------------------------------
    def recover_interrupted(
        self, *, applying: Collection[str] = ()
    ) -> dict[str, ApplyOutcome | RevertOutcome]:
        """Finish what a killed process left: undo its journal, or confirm its push.

        Args:
            applying: ids the database shows as ``applying`` on this checkout; each gets
                an outcome even without a journal (``applied`` when a commit with its
                ``Fix-Id`` trailer is on the remote, else ``rolled_back``).

        Returns:
            Proposal id -> outcome (``rolled_back`` with reason "interrupted", or
            ``applied``; a :class:`~fixes.apply.contract.RevertOutcome` for a journaled
            revert); empty when another live process holds the apply lock.

        Raises:
            JournalError: the journal cannot be read or a backup does not match.
        """
        with self.exclusive(wait_seconds=0) as held:
            if not held or self._journal_or_none() is None:
                return {}
            gitops = self._open_git()
            return recover(
                gitops,
                self._journal_for(gitops),
                applying=applying,
                git_wait_seconds=self.network_timeout_seconds,
            )

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


def _failed(reason: str) -> ApplyOutcome:
    return ApplyOutcome(status="failed", reason=reason)
