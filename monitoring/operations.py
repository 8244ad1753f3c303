"""Monitoring orchestration: operational signals in, actions out (the operations half).

:class:`Operations` takes signals from Alertmanager's webhook (:meth:`receive_alerts`,
behind ``POST /webhook/alerts``) and from its own health checks (:meth:`check_health`,
an APScheduler job), and for each:

- *firing*: the first delivery of an episode (claimed once in the database, so an HA
  pair's two deliveries and Alertmanager's repeats give one proposal) goes through the
  cycle's :meth:`~monitoring.pipeline.CyclePipeline.take_in` with the
  :class:`~monitoring.signal_proposals.SignalProposer`: stored, posted, and, when its
  action is trusted ``auto``, approved as ``mendbot:auto`` and run on the worker thread.
  Later deliveries of the episode are counted on its proposal;
- *clearing*: an action waiting for it is verified (``resolved`` in its thread); a
  proposal still waiting for a decision is closed as ``resolved``.

A second job (every :data:`TICK_SECONDS`) retries queued actions and escalates those whose
signal did not clear (:meth:`~fixes.actions.flow.ActionFlow.tick`). One synchronous,
thread-based model: the HTTP server's threads, the scheduler's, one worker for actions.
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import httpx
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from core.clock import utcnow
from core.notifier import Notifier, ProposalEvent
from core.proposals import ProposalStatus
from fixes.actions.flow import AUTO_ACTOR
from fixes.decisions import DecisionRefused, Decisions
from fixes.persistence.state import StateStore
from fixes.persistence.store import SYSTEM_ACTOR, InvalidTransition, ProposalStore
from monitoring.pipeline import CyclePipeline, CycleResult
from monitoring.signal_proposals import SignalProposer
from monitoring.signals.alerts import AlertPayloadError, alert_signal, read_payload
from monitoring.signals.base import Signal
from monitoring.signals.health import HealthWatch, check

log = logging.getLogger("mendbot.operations")

HEALTH_JOB = "mendbot-health-checks"
TICK_JOB = "mendbot-action-queue"
#: Seconds between retries of queued actions and checks of overdue verifications.
TICK_SECONDS = 5.0


class Operations:
    """The operations half: signals to proposals, proposals to actions.

    Args:
        pipeline: the cycle's core (dedupe, store, post), shared with the log cycles.
        proposer: drafts the proposal a signal gets.
        decisions: approves and runs actions (``mendbot:auto`` for trusted ones).
        store, state: the proposals; once-only keys and health state.
        notifier: where repeats and resolutions are told (the runtime's).
        alert_token: ``MENDBOT_ALERT_TOKEN``; None = the webhook is off (404).
        health: the health checks' state machine; None = no health checks.
        health_urls: ``MENDBOT_HEALTH_URLS``.
        health_client: the HTTP client of the checks (its timeout applies).
        health_interval_seconds, health_failing_interval_seconds: how often to check.
        clock: the current aware UTC time.
        on_signal: told of every signal taken (metrics).
        retry_unposted: post again, each tick, proposals whose posting failed (when no
            log cycle does it: monitoring is off).
    """

    def __init__(
        self,
        *,
        pipeline: CyclePipeline,
        proposer: SignalProposer,
        decisions: Decisions,
        store: ProposalStore,
        state: StateStore,
        notifier: Callable[[], Notifier],
        alert_token: str | None = None,
        health: HealthWatch | None = None,
        health_urls: list[str] | None = None,
        health_client: httpx.Client | None = None,
        health_interval_seconds: float = 30.0,
        health_failing_interval_seconds: float = 10.0,
        clock: Callable[[], datetime] = utcnow,
        on_signal: Callable[[Signal], None] | None = None,
        retry_unposted: bool = False,
    ) -> None:
        self.pipeline = pipeline
        self.proposer = proposer
        self.decisions = decisions
        self.store = store
        self.state = state
        self.notifier = notifier
        self.alert_token = alert_token
        self.health = health
        self.health_urls = list(health_urls or [])
        self.health_client = health_client
        self.intervals = (health_interval_seconds, health_failing_interval_seconds)
        self.clock = clock
        self.on_signal = on_signal
        self.retry_unposted = retry_unposted
        self._lock = threading.Lock()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mendbot-action")
        self._scheduler: BackgroundScheduler | None = None
        self._health_interval = health_interval_seconds

    # --- the webhook ------------------------------------------------------------------------
    @property
    def webhook_enabled(self) -> bool:
        """True when ``MENDBOT_ALERT_TOKEN`` is set."""
        return bool(self.alert_token)

    def authorized(self, authorization: str | None) -> bool:
        """True when ``Authorization`` is ``Bearer <MENDBOT_ALERT_TOKEN>`` (constant time)."""
        if not self.alert_token or not authorization:
            return False
        scheme, _, credentials = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(credentials.strip().encode(), self.alert_token.encode())

    def receive_alerts(self, body: bytes) -> tuple[int, dict[str, Any]]:
        """Take one Alertmanager delivery (the token already checked).

        Returns:
            ``(HTTP status, JSON answer)``: 200 with ``accepted``, ``repeats``,
            ``resolved``, ``new_proposals`` and the ``refused`` alerts (index and
            reason); 400 when the body is not a version 4 payload.
        """
        try:
            payload, alerts, refused = read_payload(body)
        except AlertPayloadError as error:
            log.warning("refused an alert delivery: %s", error)
            return 400, {"ok": False, "error": str(error)}
        if refused:
            self.store.audit(
                actor="alertmanager",
                action="alerts_refused",
                details={"group_key": payload.groupKey[:500], "refused": refused[:20]},
            )
        now = self.clock()
        outcome = self.take([alert_signal(alert, now=now) for alert in alerts])
        return 200, {"ok": True, "accepted": len(alerts), "refused": refused, **outcome}

    # --- signals ------------------------------------------------------------------------------
    def take(self, signals: list[Signal]) -> dict[str, Any]:
        """Take firing and clearing signals (see the module docstring).

        Returns:
            ``{"new_proposals": [ids], "repeats": n, "resolved": [ids]}``.
        """
        new, repeats, resolved = [], 0, []
        for signal in signals:
            if self.on_signal is not None:
                self.on_signal(signal)
            if signal.state == "clearing":
                resolved += self._clear(signal)
                continue
            ids = self._fire(signal)
            if ids is None:
                repeats += 1
            new += ids or []
        return {"new_proposals": new, "repeats": repeats, "resolved": resolved}

    def _fire(self, signal: Signal) -> list[str] | None:
        anomaly = signal.anomaly
        with self._lock:
            if not self.state.claim_once(signal.once_key):
                self._repeat(signal)
                return None
            result = CycleResult(records=0, anomalies=[anomaly])
            self.pipeline.take_in([anomaly], result, propose=self.proposer.propose)
        for proposal in result.new_proposals:
            if proposal.action is not None and proposal.action.trust == "auto":
                self._worker.submit(self._act, proposal.id)
        return [p.id for p in result.new_proposals]

    def _repeat(self, signal: Signal) -> None:
        latest = self.store.latest_for_fingerprint(signal.anomaly.fingerprint)
        if latest is None:
            return
        total = self.store.add_seen_again(latest.id, 1)
        if signal.source == "alert":  # health checks repeat every few seconds: count only
            event = ProposalEvent(kind="seen_again", details={"count": 1, "total": total})
            self._tell(latest.model_copy(update={"seen_again": total}), event)

    def _act(self, proposal_id: str) -> None:
        """Approve as ``mendbot:auto`` and run (the worker thread); never raises."""
        try:
            self.decisions.approve(proposal_id, actor=AUTO_ACTOR)
        except DecisionRefused as refusal:
            self.store.audit(
                actor=AUTO_ACTOR,
                action="refused",
                proposal_id=proposal_id,
                details={"reason": refusal.code, "detail": refusal.reason},
            )
            event = ProposalEvent(kind="action_refused", details={"reason": refusal.reason})
            self._tell(self.store.get(proposal_id), event)
            return
        try:
            self.decisions.execute(proposal_id)
        except Exception:
            log.exception("automatic action of %s failed", proposal_id)

    def _clear(self, signal: Signal) -> list[str]:
        with self._lock:  # an HA pair resolves together: one verification, one close
            return self._clear_locked(signal)

    def _clear_locked(self, signal: Signal) -> list[str]:
        fingerprint = signal.anomaly.fingerprint
        flow = self.decisions.action_flow
        verified = flow.signal_cleared(fingerprint, source=signal.source) if flow else []
        latest = self.store.latest_for_fingerprint(fingerprint, {ProposalStatus.PROPOSED})
        if latest is None:
            return verified
        try:
            closed = self.store.transition(
                latest.id,
                ProposalStatus.RESOLVED,
                actor=SYSTEM_ACTOR,
                expected={ProposalStatus.PROPOSED},
                details={"source": signal.source},
            )
        except InvalidTransition:
            return verified
        self._tell(closed, ProposalEvent(kind="resolved", details={"source": signal.source}))
        return [*verified, closed.id]

    def _tell(self, proposal: Any, event: ProposalEvent) -> None:
        try:
            self.notifier().post_event(proposal, event)
        except Exception:  # a notifier failure must not lose the signal
            log.exception("could not tell %s's thread", proposal.id)

    # --- health checks and the action queue -------------------------------------------------
    def check_health(self) -> list[Signal]:
        """Check every URL once and take the signals (the health job); never raises."""
        if self.health is None or self.health_client is None:
            return []
        signals: list[Signal] = []
        for url in self.health_urls:
            try:
                reading = check(self.health_client, url)
                signals += self.health.observe(reading, now=self.clock())
            except Exception:
                log.exception("health check of %s failed", url)
        try:
            self.take(signals)
        except Exception:
            log.exception("could not take the health signals")
        self._retime()
        return signals

    def tick(self) -> None:
        """Retry due actions, escalate overdue ones, and (``retry_unposted``) post what
        Slack refused earlier (the queue job); never raises."""
        flow = self.decisions.action_flow
        try:
            if flow is not None:
                flow.tick()
            if self.retry_unposted:
                with self._lock:
                    self.pipeline.retry_unposted()
        except Exception:
            log.exception("the action queue failed")

    def start(self) -> None:
        """Start the health job (when URLs are set) and the action queue job."""
        if self._scheduler is not None:
            return
        scheduler = BackgroundScheduler(timezone="UTC")
        if self.health is not None and self.health_urls:
            scheduler.add_job(
                self.check_health,
                IntervalTrigger(seconds=self._health_interval),
                id=HEALTH_JOB,
                max_instances=1,
                coalesce=True,
                next_run_time=self.clock(),
            )
        if self.decisions.action_flow is not None or self.retry_unposted:
            scheduler.add_job(
                self.tick,
                IntervalTrigger(seconds=TICK_SECONDS),
                id=TICK_JOB,
                max_instances=1,
                coalesce=True,
            )
        scheduler.start()
        self._scheduler = scheduler

    def stop(self) -> None:
        """Stop the jobs and let a running action finish."""
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=True)
        self._worker.shutdown(wait=True)
        if self.health_client is not None:
            self.health_client.close()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until the automatic actions submitted so far have run (tests)."""
        try:
            self._worker.submit(lambda: None).result(timeout=timeout)
        except TimeoutError:
            return False
        return True

    def _retime(self) -> None:
        if self.health is None:
            return
        failing = self.health.failing(self.health_urls)
        wanted = self.intervals[1] if failing else self.intervals[0]
        if wanted != self._health_interval:
            self._health_interval = wanted
            if self._scheduler is not None and self._scheduler.get_job(HEALTH_JOB):
                self._scheduler.reschedule_job(HEALTH_JOB, trigger=IntervalTrigger(seconds=wanted))
