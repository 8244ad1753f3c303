"""Monitoring orchestration: the proactive monitor, one pipeline cycle every few minutes.

:class:`ProactiveMonitor` runs :meth:`CyclePipeline.run_once` on an APScheduler
``BackgroundScheduler`` job (one job, ``max_instances=1``: cycles never overlap;
``coalesce=True``: runs missed while one was slow collapse into one). A cycle expires
stale proposals, follows open pull requests (pull-request delivery), fetches what is new
since the stored cursor, analyzes, diagnoses, stores and posts, then moves the cursor.
How often, and when to alert, is decided by
:class:`~monitoring.monitor_state.MonitorHealth`; a failing source never stops the bot.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from core.clock import utcnow
from core.metrics import Metrics
from core.notifier import Notifier
from core.redact import scrub_secrets
from monitoring.monitor_state import MonitorHealth, Recovery
from monitoring.pipeline import CyclePipeline, CycleResult
from monitoring.sources import messages as msg
from monitoring.sources.base import CursoredSource, LogSourceError
from monitoring.status import MonitorStatus

log = logging.getLogger("mendbot.monitor")

JOB_ID = "mendbot-monitor-cycle"


class Expirer(Protocol):
    """``fixes.decisions.Decisions``' one method the monitor calls every cycle."""

    def expire_stale(self) -> Any:
        """Expire proposals older than their time to live."""
        ...


class Follower(Protocol):
    """``fixes.pull_requests.PullRequestFollower``'s one method the monitor calls."""

    def follow(self) -> Any:
        """Look once at every open pull request of a fix; never raises for one of them."""
        ...


class Pingable(Protocol):
    """``fixes.persistence.db.Database``' one method ``/health`` calls."""

    def ping(self) -> bool:
        """True when the database answers."""
        ...


class ProactiveMonitor:
    """Runs monitoring cycles on a schedule and reports its state (``MonitorControl``).

    Args:
        pipeline: one cycle's core.
        source: the log source with its stored cursor; None = monitoring off (status and
            health still answer).
        notifier: where source-down / recovered alerts go.
        decisions: expires stale proposals each cycle (None: skipped).
        db: pinged by :meth:`health` (None: not reported).
        pull_requests: follows fixes' pull requests each cycle (None: no pull-request
            delivery).
        interval_seconds: the base interval.
        clock: the current aware UTC time.
        metrics: counts cycles, their duration, records and anomalies (``/metrics``).
    """

    def __init__(
        self,
        *,
        pipeline: CyclePipeline,
        source: CursoredSource | None,
        notifier: Notifier,
        decisions: Expirer | None = None,
        db: Pingable | None = None,
        pull_requests: Follower | None = None,
        interval_seconds: float = 300.0,
        clock: Callable[[], datetime] = utcnow,
        metrics: Metrics | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.metrics = metrics
        self.source = source
        self.notifier = notifier
        self.decisions = decisions
        self.db = db
        self.pull_requests = pull_requests
        self.clock = clock
        self.health_state = MonitorHealth(
            base_interval_seconds=interval_seconds,
            source_detail="not read yet" if source else "no log source configured",
        )
        self._cycle_lock = threading.Lock()  # one cycle at a time, scheduled or manual
        self._scheduler: BackgroundScheduler | None = None
        self._pause_lock = threading.Lock()
        self._paused = False

    @property
    def base_interval(self) -> float:
        """``MONITOR_INTERVAL_SECONDS``."""
        return self.health_state.base_interval

    # --- scheduling ---------------------------------------------------------------------------
    def start(self, *, run_now: bool = True) -> None:
        """Start the scheduler thread; the first cycle runs at once unless ``run_now`` is
        False. Does nothing when there is no source or it already runs."""
        if self.source is None or self._scheduler is not None:
            return
        scheduler = BackgroundScheduler(timezone="UTC")
        scheduler.add_job(
            self.run_cycle,
            IntervalTrigger(seconds=self.interval_seconds),
            id=JOB_ID,
            name="mendbot monitoring cycle",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            next_run_time=self.clock() if run_now else None,
        )
        scheduler.start()
        self._scheduler = scheduler
        log.info("monitoring %s every %g s", self.source.name, self.interval_seconds)

    def stop(self, *, wait: bool = True) -> None:
        """Stop the scheduler (with ``wait``, let a running cycle finish) and close the
        source."""
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=wait)
        if self.source is not None:
            self.source.close()

    @property
    def running(self) -> bool:
        """True while the scheduler runs."""
        return self._scheduler is not None and bool(self._scheduler.running)

    @property
    def interval_seconds(self) -> float:
        """The current interval (shorter while anomalies are active, longer after
        failures)."""
        return self.health_state.snapshot().interval_seconds

    # --- one cycle ---------------------------------------------------------------------------
    def run_cycle(self) -> CycleResult | None:
        """Run one cycle now (the scheduler's job; also callable directly).

        Never raises: a failure is logged, counted, and alerted once after
        ``FAILURE_THRESHOLD`` in a row.

        Returns:
            The cycle's result, or None when paused, off, or failed.
        """
        if self.source is None or self._paused:
            return None
        with self._cycle_lock:
            started = time.monotonic()
            try:
                if self.decisions is not None:
                    self.decisions.expire_stale()
                self._follow_pull_requests()
                result = self.pipeline.run_once(self.source)
            except LogSourceError as error:
                self._measure(started, None)
                self._on_failure(error, source_failed=True)
                return None
            except Exception as error:  # the bot keeps running whatever a cycle hits
                log.exception("monitoring cycle failed")
                self._measure(started, None)
                self._on_failure(error, source_failed=False)
                return None
            self._measure(started, result)
            self._on_success(result)
            return result

    def _follow_pull_requests(self) -> None:
        """Follow open pull requests; a failure here is logged and never fails the cycle."""
        if self.pull_requests is None:
            return
        try:
            self.pull_requests.follow()
        except Exception:
            log.exception("following pull requests failed")

    def _measure(self, started: float, result: CycleResult | None) -> None:
        if self.metrics is None:
            return
        self.metrics.cycle(
            seconds=time.monotonic() - started,
            ok=result is not None,
            records=result.records if result else 0,
            kinds=[a.kind for a in result.anomalies] if result else [],
        )

    def _on_success(self, result: CycleResult) -> None:
        worst = max((a.severity for a in result.anomalies), key=lambda s: s.rank, default=None)
        recovery = self.health_state.succeeded(
            summary=result.summary(), worst=worst, now=self.clock()
        )
        cycles = self.health_state.snapshot().cycles
        log.info("cycle %d: %s", cycles, result.summary())
        for note in result.notes:
            log.warning("cycle %d: %s", cycles, note)
        if recovery is not None:
            self._alert(self._recovered_text(recovery))
        self._retime()

    def _recovered_text(self, recovery: Recovery) -> str:
        if recovery.source_failed:
            name = self.source.name if self.source else ""
            return msg.source_recovered(name, recovery.failures, recovery.down_seconds)
        return msg.cycle_recovered(recovery.failures)

    def _on_failure(self, error: BaseException, *, source_failed: bool) -> None:
        text = scrub_secrets(str(error) or error.__class__.__name__)[:300]
        due = self.health_state.failed(text=text, source_failed=source_failed, now=self.clock())
        log.warning("cycle failed (%d in a row): %s", self.health_state.snapshot().failures, text)
        self._retime()
        if due:
            snapshot = self.health_state.snapshot()
            name = self.source.name if self.source else "log"
            self._alert(
                msg.source_down(name, snapshot.failures, text, snapshot.interval_seconds)
                if source_failed
                else msg.cycle_failed(snapshot.failures, text, snapshot.interval_seconds)
            )

    def _retime(self) -> None:
        """Reschedule when the health state asks for another interval."""
        wanted, changed = self.health_state.retime()
        if changed and self._scheduler is not None:
            self._scheduler.reschedule_job(JOB_ID, trigger=IntervalTrigger(seconds=wanted))
            log.info("monitoring interval is now %g s", wanted)

    def _alert(self, text: str) -> None:
        try:
            self.notifier.post_alert(text)
        except Exception:  # Slack down too: the log has it
            log.exception("could not post the alert: %s", text)

    # --- MonitorControl ----------------------------------------------------------------------
    def status(self) -> MonitorStatus:
        """A snapshot for ``/health`` and Slack's ``status``."""
        job = self._scheduler.get_job(JOB_ID) if self._scheduler is not None else None
        snapshot = self.health_state.snapshot()
        return MonitorStatus(
            enabled=self.source is not None and self.running,
            paused=self._paused,
            source=self.source.name if self.source else "none",
            source_healthy=snapshot.source_healthy,
            source_detail=snapshot.source_detail,
            interval_seconds=snapshot.interval_seconds,
            cycles=snapshot.cycles,
            last_cycle_at=snapshot.last_at,
            last_cycle_summary=snapshot.last_summary,
            next_cycle_at=job.next_run_time if job is not None else None,
        )

    def pause(self) -> bool:
        """Skip cycles until :meth:`resume`; False if already paused."""
        with self._pause_lock:
            was, self._paused = self._paused, True
        return not was

    def resume(self) -> bool:
        """Run cycles again; False if it was not paused."""
        with self._pause_lock:
            was, self._paused = self._paused, False
        return was

    def health(self) -> dict[str, Any]:
        """The ``/health`` JSON: ``ok`` plus database, scheduler, last cycle and source.

        ``ok`` is False when the database does not answer, when monitoring is configured
        but the scheduler is not running, or when cycles have failed
        ``FAILURE_THRESHOLD`` times in a row (a single failure is not unhealthy).
        """
        status = self.status()
        database = "ok" if self.db is None or self.db.ping() else "unreachable"
        scheduler = "off" if self.source is None else "running" if self.running else "stopped"
        ok = database == "ok" and scheduler != "stopped" and not self.health_state.failing
        return {
            "ok": ok,
            "database": database,
            "scheduler": scheduler,
            "monitor": status.model_dump(mode="json"),
            "last_cycle": {
                "at": status.last_cycle_at.isoformat() if status.last_cycle_at else None,
                "summary": status.last_cycle_summary,
            },
            "source": {
                "name": status.source,
                "healthy": status.source_healthy,
                "detail": status.source_detail,
            },
        }
