"""Fixes actions: the runner: one attempt at an action, the breaker, and verification.

:meth:`ActionRunner.attempt` runs a proposal's action once through the executor for its
kind, after two checks: mendbot never acts on itself (the executor's
:meth:`~fixes.actions.executors.Executor.refusal`), and an automatic action waits while its
target's breaker is open. The outcome goes to :class:`~fixes.actions.runs.ActionRuns`:

- done: the row *watches* its signal for ``verify_seconds``; :meth:`cleared` (an alert
  resolved, a health check passing) ends it ``cleared``, :meth:`overdue` ends it
  ``not_cleared`` (escalated to people, a strike);
- the platform's API is down: the row is *queued* and :meth:`due` offers it again after
  ``retry_base_seconds``, doubling up to ``retry_max_seconds``, until
  ``give_up_seconds`` have passed (then ``failed``);
- refused or failed: done at once (``failed`` is a strike).

Three strikes: ``breaker_failures`` failed or not-cleared actions on one target within
``breaker_window_seconds`` open its breaker: automatic actions there stop until a person
says ``@mendbot resume <target>`` (:meth:`resume`) or the window has passed the strikes by.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from core.actions import Action
from core.clock import utcnow
from core.proposals import FixProposal
from core.redact import scrub_secrets
from core.state import KeyValueStore
from fixes.actions.errors import ActionError, ActionRefused, ActionUnavailable
from fixes.actions.executors import Executor
from fixes.actions.runs import ActionRuns

_RESUMED_KEY = "actions:breaker:resumed:"


@dataclass(frozen=True)
class Attempt:
    """What one attempt came to.

    Attributes:
        status: ``done`` (the platform accepted it), ``queued`` (retry later),
            ``refused`` or ``failed``.
        detail: what was done, or why not (a sentence, scrubbed).
        first_queued: True the first time this action is queued (tell people once).
        retry_in_seconds: when queued, the wait before the next try.
        breaker_opened: this failure opened the target's breaker.
    """

    status: Literal["done", "queued", "refused", "failed"]
    detail: str
    first_queued: bool = False
    retry_in_seconds: float = 0.0
    breaker_opened: bool = False


class ActionRunner:
    """Runs actions and follows them until their signal clears.

    Args:
        executors: action kind -> the executor that carries it out.
        runs: the ``action_runs`` table.
        state: where a person's ``resume <target>`` is kept.
        verify_seconds: how long an action's signal may take to clear.
        breaker_failures: strikes that open a target's breaker.
        breaker_window_seconds: the strikes counted are this recent (the cooldown).
        retry_base_seconds, retry_max_seconds: backoff of a queued action.
        give_up_seconds: a queued action older than this fails.
        clock: the current aware UTC time.
    """

    def __init__(
        self,
        *,
        executors: Mapping[str, Executor],
        runs: ActionRuns,
        state: KeyValueStore,
        verify_seconds: float = 300.0,
        breaker_failures: int = 3,
        breaker_window_seconds: float = 3600.0,
        retry_base_seconds: float = 5.0,
        retry_max_seconds: float = 300.0,
        give_up_seconds: float = 3600.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.executors = dict(executors)
        self.runs = runs
        self.state = state
        self.verify = timedelta(seconds=verify_seconds)
        self.breaker_failures = breaker_failures
        self.breaker_window = timedelta(seconds=breaker_window_seconds)
        self.retry_base = retry_base_seconds
        self.retry_max = retry_max_seconds
        self.give_up = timedelta(seconds=give_up_seconds)
        self.clock = clock

    # --- before acting ------------------------------------------------------------------------
    def refusal(self, action: Action) -> str | None:
        """Why ``action`` can never run (no executor, mendbot itself), or None. A platform
        that cannot be asked now is not a refusal (the run checks again)."""
        executor = self.executors.get(action.kind)
        if executor is None:
            return f"nothing is configured to {action.kind.replace('_', ' ')} (see the README)"
        try:
            return executor.refusal(action)
        except ActionUnavailable:
            return None
        except ActionError as error:
            return str(error)

    def breaker_open(self, target: str) -> bool:
        """True while ``target`` has ``breaker_failures`` strikes since the window began or
        a person resumed it, whichever is later."""
        return self.runs.failures(target, since=self._strikes_since(target)) >= (
            self.breaker_failures
        )

    def knows(self, target: str) -> bool:
        """True when an action ever ran on ``target`` (so it may have a breaker)."""
        return self.runs.knows(target)

    def resume(self, target: str) -> bool:
        """A person closes ``target``'s breaker; False when it was not open."""
        was_open = self.breaker_open(target)
        self.state.set(_RESUMED_KEY + target, self.clock().isoformat())
        return was_open

    # --- acting -------------------------------------------------------------------------------
    def attempt(self, proposal: FixProposal, *, automatic: bool) -> Attempt:
        """Run the proposal's action once and record how it went.

        Raises:
            ValueError: the proposal carries no action.
        """
        if proposal.action is None:
            raise ValueError(f"{proposal.id} carries no action")
        now = self.clock()
        row = self.runs.start(proposal, automatic=automatic, now=now)
        action = proposal.action
        executor = self.executors.get(action.kind)
        try:
            if executor is None:
                raise ActionRefused(self.refusal(action) or "no executor")
            detail = executor.run(action)
        except ActionUnavailable as error:
            return self._queue(proposal.id, row.started_at, row.attempts, error)
        except ActionRefused as error:
            return self._end(proposal.id, action.target, "refused", str(error))
        except ActionError as error:
            return self._end(proposal.id, action.target, "failed", str(error))
        except Exception as error:  # an executor bug must not lose the proposal
            return self._end(proposal.id, action.target, "failed", f"internal error: {error}")
        self.runs.update(
            proposal.id,
            phase="watching",
            acted_at=now,
            due_at=now + self.verify,
            detail=scrub_secrets(detail)[:1000],
        )
        return Attempt("done", scrub_secrets(detail))

    def due(self) -> list[str]:
        """Proposal ids whose queued action should be tried again now."""
        return [row.proposal_id for row in self.runs.in_phase("queued", due_by=self.clock())]

    def interrupted(self) -> list[str]:
        """At start: ids whose action was running when the process stopped (marked failed:
        whether it reached the platform is unknown)."""
        ids = []
        for row in self.runs.in_phase("running"):
            self._end(row.proposal_id, row.target, "failed", "interrupted while running")
            ids.append(row.proposal_id)
        return ids

    # --- after acting -------------------------------------------------------------------------
    def cleared(self, fingerprint: str) -> list[tuple[str, float]]:
        """The signal of ``fingerprint`` cleared: ``(proposal id, seconds since the
        action)`` for each action that was waiting for it (now done, ``cleared``)."""
        now = self.clock()
        done = []
        for row in self.runs.watching(fingerprint):
            seconds = (now - (row.acted_at or row.started_at)).total_seconds()
            if self.runs.move(
                row.proposal_id,
                from_phase="watching",
                phase="done",
                result="cleared",
                finished_at=now,
                seconds_to_clear=round(seconds, 3),
            ):
                done.append((row.proposal_id, seconds))
        return done

    def overdue(self) -> list[tuple[str, float, bool]]:
        """Actions whose signal did not clear in time: ``(proposal id, seconds waited,
        breaker opened)`` each, now done ``not_cleared`` (a strike)."""
        now = self.clock()
        late = []
        for row in self.runs.in_phase("watching", due_by=now):
            waited = (now - (row.acted_at or row.started_at)).total_seconds()
            was_open = self.breaker_open(row.target)
            if not self.runs.move(
                row.proposal_id,
                from_phase="watching",
                phase="done",
                result="not_cleared",
                finished_at=now,
                detail="the signal did not clear in time",
            ):
                continue  # it cleared meanwhile
            opened = not was_open and self.breaker_open(row.target)
            late.append((row.proposal_id, waited, opened))
        return late

    # --- internals ----------------------------------------------------------------------------
    def _queue(
        self, proposal_id: str, started: datetime, attempts: int, error: ActionUnavailable
    ) -> Attempt:
        now = self.clock()
        reason = scrub_secrets(str(error))
        if now - started > self.give_up:
            return self._end(proposal_id, "", "failed", f"gave up after {attempts} tries: {reason}")
        delay = min(self.retry_base * 2 ** (attempts - 1), self.retry_max)
        if error.retry_after_seconds is not None:
            delay = min(max(delay, error.retry_after_seconds), self.retry_max)
        row = self.runs.get(proposal_id)
        first = row is not None and not row.told_queued
        self.runs.update(
            proposal_id,
            phase="queued",
            due_at=now + timedelta(seconds=delay),
            told_queued=True,
            detail=reason[:1000],
        )
        return Attempt("queued", reason, first_queued=first, retry_in_seconds=delay)

    def _end(self, proposal_id: str, target: str, result: str, detail: str) -> Attempt:
        row = self.runs.get(proposal_id)
        target = target or (row.target if row else "")
        was_open = self.breaker_open(target) if target else True
        self.runs.update(
            proposal_id,
            phase="done",
            result=result,
            finished_at=self.clock(),
            detail=scrub_secrets(detail)[:1000],
        )
        opened = bool(target) and not was_open and self.breaker_open(target)
        status: Literal["refused", "failed"] = "refused" if result == "refused" else "failed"
        return Attempt(status, scrub_secrets(detail), breaker_opened=opened)

    def _strikes_since(self, target: str) -> datetime:
        since = self.clock() - self.breaker_window
        resumed = self.state.get(_RESUMED_KEY + target)
        if resumed:
            since = max(since, datetime.fromisoformat(str(resumed)))
        return since
