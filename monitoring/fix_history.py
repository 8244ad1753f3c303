"""Orchestration: what earlier fixes teach the cycle: calibrated confidence, the fix breaker.

Outcomes are derived from the proposals and their audit trail
(:mod:`fixes.persistence.outcomes`); this module adds the two things the cycle does with
them:

- **Calibration.** Each new code fix gets its kind's track record ("fixes of this kind:
  7 of 9 verified", kind = diagnosis source and anomaly kind) and a confidence moved
  toward it (:func:`core.proposals.calibrated_confidence`), stored with the proposal.
- **The fix breaker.** ``failures`` failed attempts (rolled back, regressed, reverted) for
  one fingerprint since its breaker last closed open it: the cycle proposes no more fixes
  for that fingerprint (its events still count in the totals), says so once in the
  channel, and waits for a person (``@mendbot resume fix proposals for <fingerprint>``,
  approvers only) or ``cooldown_seconds`` after it opened (0: only a person).

Restart-safe: the state is in the database. When a breaker last closed is a
:class:`~core.state.KeyValueStore` value (``fixes:breaker:closed:<fingerprint>``, ISO 8601
UTC); the notice is a once-key per opening (``fixes:breaker:told:<fingerprint>:<opened
at>``), so two processes or a restart tell it once. Opening, closing and resuming are
audited (``fix_breaker_opened``, ``fix_breaker_closed``). Operational actions have their
own breaker per target (:mod:`fixes.actions.runner`); signals' anomalies never hold here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

from core.clock import utcnow
from core.models import SIGNAL_KINDS, Anomaly
from core.notifier import Notifier
from core.proposals import FixProposal
from core.text import one_line
from fixes.persistence.outcomes import FixOutcome, FixOutcomes
from fixes.persistence.store import SYSTEM_ACTOR, ProposalStore

#: What a fingerprint looks like (:func:`monitoring.analysis.anomalies.fingerprint`: 16 hex
#: digits; up to 64 are accepted, the column's width).
FINGERPRINT = re.compile(r"[0-9a-f]{8,64}")
_CLOSED_KEY = "fixes:breaker:closed:"
_TOLD_KEY = "fixes:breaker:told:"
#: Longest anomaly template quoted in the notice, in characters.
NOTICE_TEMPLATE_CHARS = 160

ResumeResult = Literal["resumed", "not_open", "unknown"]


class BreakerStateStore(Protocol):
    """What the breaker keeps in the database (``fixes.persistence.state.StateStore``)."""

    def get(self, key: str, default: object = None) -> object:
        """The value under ``key``, or ``default``."""
        ...

    def set(self, key: str, value: object) -> None:
        """Store ``value`` under ``key``."""
        ...

    def claim_once(self, key: str) -> bool:
        """True the first time ``key`` is claimed, in any process; False after."""
        ...


@dataclass(frozen=True)
class BreakerState:
    """One fingerprint's fix breaker.

    Attributes:
        fingerprint: the anomaly fingerprint.
        failures: its failed attempts since the breaker last closed, oldest first.
        opened_at: when it opened (the time of the failure that made ``failures`` enough),
            aware UTC; None while closed.
        closes_at: when the cooldown closes it; None while closed or when only a person can.
    """

    fingerprint: str
    failures: tuple[FixOutcome, ...]
    opened_at: datetime | None = None
    closes_at: datetime | None = None

    @property
    def open(self) -> bool:
        """True while no more fixes are proposed for the fingerprint."""
        return self.opened_at is not None


class FixHistory:
    """Calibration and the fix breaker over the stored outcomes.

    Args:
        store: proposals and the audit trail.
        state: where the breaker's closings and notices are kept.
        failures: failed attempts that open a fingerprint's breaker
            (``MENDBOT_FIX_BREAKER_FAILURES``, default 3).
        cooldown_seconds: an open breaker closes by itself this long after it opened
            (``MENDBOT_FIX_BREAKER_COOLDOWN_SECONDS``); 0 = only a person closes it.
        clock: the current aware UTC time.
    """

    def __init__(
        self,
        *,
        store: ProposalStore,
        state: BreakerStateStore,
        failures: int = 3,
        cooldown_seconds: float = 86400.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.outcomes = FixOutcomes(store.db)
        self.state = state
        self.failures = max(1, failures)
        self.cooldown = timedelta(seconds=cooldown_seconds) if cooldown_seconds > 0 else None
        self.clock = clock

    def calibrate(self, proposals: Sequence[FixProposal]) -> list[FixProposal]:
        """``proposals`` with each code fix's track record set (see the module docstring)."""
        return self.outcomes.calibrate(proposals)

    def breaker(self, fingerprint: str) -> BreakerState:
        """The fingerprint's breaker now; one whose cooldown has passed is closed first
        (stored and audited), and the failures after that are counted afresh.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the database failed.
        """
        every = self.outcomes.failed_attempts(fingerprint)  # one query; most have none
        if len(every) < self.failures:
            return BreakerState(fingerprint, tuple(every))
        closed = self._closed_at(fingerprint)
        while True:
            failures = [f for f in every if closed is None or f.at > closed]
            if len(failures) < self.failures:
                return BreakerState(fingerprint, tuple(failures))
            opened = failures[self.failures - 1].at
            closes = opened + self.cooldown if self.cooldown is not None else None
            if closes is None or self.clock() < closes:
                return BreakerState(fingerprint, tuple(failures), opened, closes)
            closed = self._close(fingerprint, at=closes, actor=SYSTEM_ACTOR, why="cooldown")

    def holds(self, anomaly: Anomaly, notifier: Notifier) -> bool:
        """True when no fix may be proposed for ``anomaly`` (its breaker is open); the
        first time for an opening, tells the channel through ``notifier`` and audits
        ``fix_breaker_opened``. Signals' anomalies (alerts, health) are never held here.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the database failed.
        """
        if anomaly.kind in SIGNAL_KINDS:
            return False
        breaker = self.breaker(anomaly.fingerprint)
        if not breaker.open:
            return False
        assert breaker.opened_at is not None
        told = f"{_TOLD_KEY}{anomaly.fingerprint}:{breaker.opened_at.isoformat()}"
        if self.state.claim_once(told):
            self.store.audit(
                actor=SYSTEM_ACTOR,
                action="fix_breaker_opened",
                details={
                    "fingerprint": anomaly.fingerprint,
                    "failures": [f.proposal_id for f in breaker.failures],
                    "opened_at": breaker.opened_at,
                },
            )
            notifier.post_alert(breaker_notice(anomaly, breaker))
        return True

    def resume(self, fingerprint: str, *, actor: str) -> ResumeResult:
        """A person closes the fingerprint's breaker (audited ``fix_breaker_closed``).

        Args:
            fingerprint: checked against :data:`FINGERPRINT` by the caller.
            actor: the person (Slack user id, ``cli:<user>``).

        Returns:
            ``resumed``; ``not_open`` (nothing changed); ``unknown`` when mendbot never saw
            the fingerprint (nothing changed).
        """
        breaker = self.breaker(fingerprint)
        if breaker.open:
            self._close(fingerprint, at=self.clock(), actor=actor, why="resumed")
            return "resumed"
        known = self.store.anomaly_totals(fingerprint) is not None
        known = known or self.store.latest_for_fingerprint(fingerprint) is not None
        return "not_open" if known else "unknown"

    def open_breakers(self) -> list[BreakerState]:
        """Every fingerprint whose breaker is open, oldest opening first."""
        fingerprints = {o.fingerprint for o in self.outcomes.outcomes() if o.failed_attempt}
        found = [self.breaker(fp) for fp in sorted(fingerprints)]
        return sorted((b for b in found if b.open), key=lambda b: b.opened_at or self.clock())

    def _closed_at(self, fingerprint: str) -> datetime | None:
        value = self.state.get(_CLOSED_KEY + fingerprint)
        try:
            return datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            return None

    def _close(self, fingerprint: str, *, at: datetime, actor: str, why: str) -> datetime:
        self.state.set(_CLOSED_KEY + fingerprint, at.isoformat())
        self.store.audit(
            actor=actor,
            action="fix_breaker_closed",
            details={"fingerprint": fingerprint, "why": why, "at": at},
        )
        return at


def breaker_notice(anomaly: Anomaly, breaker: BreakerState) -> str:
    """The channel notice when a fingerprint's breaker opens (plain text; the notifier
    masks and escapes it, and the template is one line, cut)."""
    what = one_line(anomaly.template, NOTICE_TEMPLATE_CHARS)
    tries = ", ".join(
        f"{f.proposal_id} {f.status.value.replace('_', ' ')}" for f in breaker.failures
    )
    when = (
        f"otherwise they resume at {breaker.closes_at:%Y-%m-%d %H:%M} UTC"
        if breaker.closes_at is not None
        else "until then none is proposed"
    )
    return (
        f"No more fix proposals for `{anomaly.fingerprint}` ({anomaly.kind}: {what}): "
        f"{len(breaker.failures)} fixes failed ({tries}). A person should look. An approver "
        f"can say `@mendbot resume fix proposals for {anomaly.fingerprint}`; {when}."
    )
