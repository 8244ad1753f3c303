"""Fixes apply: one apply as a transaction, with a single way back (:mod:`~fixes.apply.rollback`).

::

    ApplyTransaction.begin    back up the files, journal them (phase backed_up)
    ApplyTransaction.run      [regression test alone: must fail] ─▶ write (written) ─▶
                              validate [─▶ regression test: must pass] ─▶ commit (committed)
                              ─▶ push (pushed)
                              └─ on any failure, on leaving the block: roll_back ─┘

With a ``push_branch`` (pull-request delivery) the fix commit is pushed to that branch of
the remote instead of ``GIT_BRANCH``, and the checkout then returns to the deploy branch's
head: the deploy branch itself is never pushed to.

Shaped like pre-commit's ``staged_files_only``: back up, do the work, restore in
``finally``. The journal is rewritten before each step starts, so a process killed
anywhere leaves a journal that :func:`roll_back` (called by recovery at the next start)
undoes the same way. Until the push is confirmed, leaving the block by any path (a
refused validation or push, an exception, ``KeyboardInterrupt``) rolls back; once the
remote has the commit nothing is undone. Never force-pushes: when the remote moved on,
the one retry is fetch, rebase, revalidate, push. Every reason is token-scrubbed. A
regression test proves the fix or is left out (:mod:`fixes.apply.proof`).

Errors: :meth:`ApplyTransaction.begin` raises :class:`~fixes.apply.journal.JournalError`
or ``OSError`` when the backup cannot be taken (nothing was written).
:meth:`ApplyTransaction.run` returns an outcome for every failure it rolled back, and
raises only what is not an ``Exception`` (after rolling back), an error of the rollback
itself (the checkout may be half restored: a person must look; the journal stays for
recovery), or an error after the remote took the push (nothing is undone then).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from core.notifier import ProposalEvent
from fixes.apply.contract import ApplyOutcome
from fixes.apply.gitops import GitOps, GitOpsError, PushRejected, scrub
from fixes.apply.journal import Journal, JournalEntry, Phase, atomic_write
from fixes.apply.proof import RegressionPlan, run_test
from fixes.apply.rollback import roll_back
from fixes.apply.validation import ImportBaseline, ValidationReport, Validator

EventSink = Callable[[ProposalEvent], None]
#: The commit message for a fix, given whether it was proven (None: no regression test).
MessageFor = Callable[[bool | None], str]


class _GiveUp(Exception):
    """A step refused to go on: validation failed, or the push was refused for good."""

    def __init__(
        self,
        status: Literal["rolled_back", "failed"],
        reason: str,
        validation_output: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.validation_output = validation_output


class ApplyTransaction:
    """One proposal's edits on one checkout, from backup to push; use :meth:`begin`.

    Args:
        gitops: the checkout.
        journal: its journal, holding ``entry``.
        entry: the journal entry as last written (kept current by every step).
        contents: absolute path -> the bytes the fix writes there, in edit order (None:
            the file is deleted, as a revert of a fix that created it does).
        validator, baseline: the checks, and the import failures the unchanged code had.
        on_event: receives ``applying``, ``validation_passed`` and ``validation_failed``.
        push_branch: push the fix commit to this branch of the remote (never forced, no
            rebase retry) and return the checkout to ``entry.reset_to``; None pushes to
            ``GIT_BRANCH``.
        regression: the regression test among ``contents``, or None.

    Attributes:
        proven: True once the regression test failed before the fix and passed after;
            False when it did not reproduce the failure; None without a test.
        pushed: the remote has the fix commit (nothing is rolled back any more).
        rolled_back: :func:`roll_back` ran to its end.
        kept_branch: the local branch holding an unpushed fix commit after a rollback.
    """

    def __init__(
        self,
        *,
        gitops: GitOps,
        journal: Journal,
        entry: JournalEntry,
        contents: Mapping[Path, bytes | None],
        validator: Validator,
        baseline: ImportBaseline,
        on_event: EventSink,
        push_branch: str | None = None,
        regression: RegressionPlan | None = None,
    ) -> None:
        self.gitops = gitops
        self.journal = journal
        self.entry = entry
        self.contents = contents
        self.validator = validator
        self.baseline = baseline
        self.on_event = on_event
        self.push_branch = push_branch
        self.regression = regression
        self.proven: bool | None = None
        self.pushed = False
        self.rolled_back = False
        self.kept_branch: str | None = None

    @classmethod
    def begin(
        cls,
        *,
        gitops: GitOps,
        journal: Journal,
        proposal_id: str,
        base_sha: str,
        contents: Mapping[Path, bytes | None],
        validator: Validator,
        baseline: ImportBaseline,
        on_event: EventSink,
        push_branch: str | None = None,
        kind: Literal["fix", "revert"] = "fix",
        regression: RegressionPlan | None = None,
    ) -> ApplyTransaction:
        """Back up every file the fix writes and journal them (phase ``backed_up``),
        before anything is written.

        Args:
            gitops, journal: the checkout (preflight passed) and its journal.
            proposal_id, base_sha: the fix being applied; HEAD after the preflight.
            contents: absolute path -> new bytes (None: delete it), in edit order.
            validator, baseline: the checks, and :meth:`Validator.baseline` of the paths
                taken before any write.
            on_event: receives the transaction's events.
            push_branch: see the class; None pushes to ``GIT_BRANCH``.
            kind: ``fix``, or ``revert`` when the commit undoes a pushed fix (journaled,
                so that recovery and :func:`roll_back` look for the right commit).
            regression: the regression test among ``contents`` (created, run first).

        Raises:
            fixes.apply.journal.JournalError: a journal exists, or it or a backup cannot
                be written.
            OSError: a file to back up cannot be read.
        """
        entry = journal.begin(
            proposal_id=proposal_id, branch=gitops.branch, remote=gitops.remote,
            base_sha=base_sha, paths=list(contents), kind=kind,
        )  # fmt: skip
        return cls(
            gitops=gitops,
            journal=journal,
            entry=entry,
            contents=contents,
            validator=validator,
            baseline=baseline,
            on_event=on_event,
            push_branch=push_branch,
            regression=regression,
        )

    @property
    def paths(self) -> list[str]:
        """The repository-relative paths the fix writes, in edit order (a regression test
        that did not reproduce the failure is left out)."""
        left_out = self.regression.path if self.regression and self.proven is False else None
        return [item.path for item in self.entry.files if item.path != left_out]

    @property
    def code_paths(self) -> list[str]:
        """:attr:`paths` without the regression test (what the compile and import checks
        read; the test runs under pytest, in the service's environment)."""
        test = self.regression.path if self.regression else None
        return [path for path in self.paths if path != test]

    def run(self, message: str | MessageFor) -> ApplyOutcome:
        """Write, validate, commit with ``message`` and push; roll back on any failure.

        Returns:
            ``applied`` (pushed; with a ``push_branch``, to that branch, named in
            ``branch``), ``rolled_back`` (validation failed, or an error: every file
            restored) or ``failed`` (the push was refused: the fix commit is kept on
            ``mendbot/<id>``, the checkout is back at the remote's head).

        Raises:
            BaseException: what is not an ``Exception`` (e.g. ``KeyboardInterrupt``),
                after rolling back; an error of the rollback itself; an error after the
                remote took the push (nothing to undo then).
        """
        message_for = message if callable(message) else (lambda _proven: message)
        try:
            with self._rolled_back_unless_pushed():
                sha = self._forward(message_for)
        except _GiveUp as stop:
            return self._given_up(stop)
        except Exception as error:
            if not self.rolled_back:
                raise  # the rollback itself failed: do not claim the files are restored
            reason = f"internal error, every file was restored: {type(error).__name__}: {error}"
            return ApplyOutcome(
                status="rolled_back", kept_branch=self.kept_branch, reason=scrub(reason)
            )
        url = self.gitops.commit_url(sha)
        return ApplyOutcome(
            status="applied",
            commit_sha=sha,
            commit_url=url,
            branch=self.push_branch,
            proven=self.proven,
        )

    @contextmanager
    def _rolled_back_unless_pushed(self) -> Iterator[None]:
        try:
            yield
        finally:
            if not self.pushed:
                self.kept_branch = roll_back(self.gitops, self.journal, self.entry)
                self.rolled_back = True

    def _forward(self, message_for: MessageFor) -> str:
        """Every step, each journaled before the next starts; returns the pushed sha."""
        details = {"files": self.paths, "base_sha": self.entry.base_sha}
        self.on_event(ProposalEvent(kind="applying", details=details))
        written = self._reproduce()
        for path, data in self.contents.items():
            if path in written:
                continue
            if data is None:
                path.unlink(missing_ok=True)
            else:
                atomic_write(path, data)
        self._record(phase=Phase.WRITTEN)
        report = self._validate()
        if not report.ok:
            reason = f"validation failed ({report.failed_check})"
            raise _GiveUp("rolled_back", reason, report.output)
        self._confirm()
        sha = self.gitops.commit(self.paths, message_for(self.proven))
        self._record(phase=Phase.COMMITTED, commit_sha=sha)
        if self.push_branch is not None:
            self._push_to_own_branch(self.push_branch)
        else:
            self._push()
            sha = self.gitops.head()
        self._record(phase=Phase.PUSHED, commit_sha=sha)
        if self.push_branch is not None:  # the deploy branch never had the fix: go back
            self.gitops.reset_hard(self.entry.reset_to)
        self.journal.clear(self.entry)
        return sha

    def _push_to_own_branch(self, branch: str) -> None:
        """Push the fix commit to ``branch`` of the remote (pull-request delivery).

        Raises:
            _GiveUp: the remote refused (e.g. the branch exists with other commits).
        """
        try:
            self.gitops.push(to_branch=branch)
        except PushRejected as refused:
            raise _GiveUp("failed", refused.reason) from refused
        self.pushed = True

    def _reproduce(self) -> set[Path]:
        """Write the regression test alone and run it on the unfixed tree; keep it when it
        fails as the log did, remove it otherwise (no proof). Returns the paths written."""
        if self.regression is None:
            return set()
        test = next(p for p in self.contents if self._relative(p) == self.regression.path)
        content = self.contents[test]
        if content is None:  # a regression test is created, never deleted
            raise _GiveUp("failed", f"refused: no content for {self.regression.path}")
        atomic_write(test, content)
        before = run_test(self.validator, self.regression)
        self.proven = False if before.verdict != "reproduced" else None
        if self.proven is False:  # no proof: take the test and the folders made for it away
            with contextlib.suppress(FileNotFoundError):
                test.unlink()
            for directory in reversed(self.entry.created_dirs):
                with contextlib.suppress(OSError):  # not empty: something else is there
                    (self.gitops.root / directory).rmdir()
        return {test}

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.gitops.root).as_posix()

    def _confirm(self) -> None:
        """After the fix: a reproducing regression test must pass now.

        Raises:
            _GiveUp: it still fails (the fix does not fix what the log showed).
        """
        if self.regression is None or self.proven is False:
            return
        after = run_test(self.validator, self.regression)
        if after.verdict != "passed":
            reason = (
                f"the regression test {self.regression.path} failed before the fix and "
                "still fails after it"
            )
            raise _GiveUp("rolled_back", reason, after.output)
        self.proven = True

    def _push(self) -> None:
        """Push; after a non-fast-forward refusal, retry once (:meth:`_rebase_and_push`).

        Raises:
            _GiveUp: refused for another reason, or the retry failed.
        """
        try:
            self.gitops.push()
        except PushRejected as refused:
            if not refused.non_fast_forward:
                raise _GiveUp("failed", refused.reason) from refused
            self._rebase_and_push()
        self.pushed = True

    def _rebase_and_push(self) -> None:
        """The remote moved on: fetch, rebase the fix onto it, revalidate, push (never
        forced); each new remote head and fix commit journaled first.

        Raises:
            _GiveUp: a git step failed or the rebased fix does not validate.
        """
        try:
            self._record(reset_to=self.gitops.fetch())
            self._record(commit_sha=self.gitops.rebase_onto_remote())
            report = self._validate(after_rebase=True)
            if not report.ok:
                reason = "the remote moved on; after rebasing onto it, validation failed"
                raise _GiveUp("failed", f"{reason} ({report.failed_check})", report.output)
            self.gitops.push()
        except GitOpsError as error:
            reason = f"the remote moved on and the retry failed: {error.reason}"
            raise _GiveUp("failed", reason) from error

    def _validate(self, *, after_rebase: bool = False) -> ValidationReport:
        """Run the checks on the written files and tell ``on_event`` how they went."""
        root = self.gitops.root
        present = [path for path in self.code_paths if (root / path).is_file()]
        report = self.validator.validate(present, self.baseline)
        if not report.ok:
            details = {"check": report.failed_check, "output": report.output}
            self.on_event(ProposalEvent(kind="validation_failed", details=details))
            return report
        passed: dict[str, object] = {"checks": report.checks}
        if after_rebase:
            passed["after_rebase"] = True
        self.on_event(ProposalEvent(kind="validation_passed", details=passed))
        return report

    def _record(self, **changes: object) -> None:
        """Rewrite the journal with ``changes`` before the next step starts."""
        self.entry = self.journal.update(self.entry, **changes)

    def _given_up(self, stop: _GiveUp) -> ApplyOutcome:
        if stop.status == "rolled_back":
            return ApplyOutcome(
                status="rolled_back",
                validation_output=stop.validation_output,
                reason=scrub(f"{stop.reason}; every file was restored"),
            )
        where = f"{self.gitops.remote}/{self.gitops.branch}"
        return ApplyOutcome(
            status="failed",
            kept_branch=self.kept_branch,
            validation_output=stop.validation_output,
            reason=scrub(
                f"{stop.reason}; nothing was pushed, the {self.entry.kind} commit is kept on "
                f"local branch {self.kept_branch} and the checkout is back at {where}"
            ),
        )
