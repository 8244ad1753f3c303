"""Monitoring: the proactive monitor, one pipeline cycle every few minutes on a scheduler.

:class:`ProactiveMonitor` runs :meth:`CyclePipeline.run_once` on an APScheduler
``BackgroundScheduler`` job (one job, ``max_instances=1``: cycles never overlap;
``coalesce=True``: runs missed while one was slow collapse into one). A cycle expires
stale proposals, fetches what is new since the stored cursor, analyzes, diagnoses,
stores and posts, then moves the cursor.

The interval (seconds) adapts:

- base: ``MONITOR_INTERVAL_SECONDS`` (default 300);
- while anomalies are active (the last cycle found one of MEDIUM severity or more):
  ``max(min(base, 60), base / 5)``, i.e. 60 s for the default, never shorter than a
  fifth of the base and never longer than the base; back to the base after 3 quiet
  cycles in a row;
- after 3 failed cycles in a row: ``base * 2 ** (failures - 2)``, at most
  ``max(base, 3600)``; one alert is posted when that starts and one when a cycle works
  again. A failing source never stops the bot.

``start_monitoring(interval_seconds=300)`` runs a monitor from a REPL or a script
(``await start_monitoring(60)`` in IPython, ``asyncio.run(start_monitoring())``) until
cancelled.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from core.clock import utcnow
from core.models import Severity
from core.notifier import Notifier, ProposalEvent
from core.proposals import FixProposal
from core.redact import scrub_secrets
from fixes.decisions import Decisions
from fixes.persistence.db import Database
from fixes.persistence.state import StateStore
from fixes.persistence.store import ProposalStore
from monitoring.pipeline import CyclePipeline, CycleResult, build_pipeline
from monitoring.sources import messages as msg
from monitoring.sources.base import CursoredSource, LogSourceError
from monitoring.status import MonitorStatus
from settings import Settings, get_settings

log = logging.getLogger("mendbot.monitor")

JOB_ID = "mendbot-monitor-cycle"
#: Failed cycles in a row before backing off and alerting.
FAILURE_THRESHOLD = 3
#: Quiet cycles in a row before the interval returns to the base.
QUIET_CYCLES_TO_RELAX = 3
#: Severity from which an anomaly makes the monitor look more often.
ACTIVE_SEVERITY = Severity.MEDIUM


def active_interval(base_seconds: float) -> float:
    """The interval while anomalies are active: ``max(min(base, 60), base / 5)``."""
    return max(min(base_seconds, 60.0), base_seconds / 5)


def backoff_interval(base_seconds: float, failures: int) -> float:
    """The interval after ``failures`` failed cycles in a row (>= the threshold)."""
    return min(base_seconds * 2 ** max(failures - 2, 0), max(base_seconds, 3600.0))


class ProactiveMonitor:
    """Runs monitoring cycles on a schedule and reports its state (``MonitorControl``).

    Args:
        pipeline: one cycle's core.
        source: the log source with its stored cursor; None = monitoring off (status and
            health still answer).
        notifier: where source-down / recovered alerts go.
        decisions: used to expire stale proposals each cycle (None: skipped).
        db: pinged by :meth:`health` (None: not reported).
        interval_seconds: the base interval.
        clock: the current aware UTC time.
    """

    def __init__(
        self,
        *,
        pipeline: CyclePipeline,
        source: CursoredSource | None,
        notifier: Notifier,
        decisions: Decisions | None = None,
        db: Database | None = None,
        interval_seconds: float = 300.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.pipeline = pipeline
        self.source = source
        self.notifier = notifier
        self.decisions = decisions
        self.db = db
        self.base_interval = float(interval_seconds)
        self.clock = clock
        self._lock = threading.Lock()  # guards the fields below
        self._cycle_lock = threading.Lock()  # one cycle at a time, scheduled or manual
        self._scheduler: BackgroundScheduler | None = None
        self._interval = self.base_interval
        self._paused = False
        self._cycles = 0
        self._failures = 0
        self._first_failure_at: datetime | None = None
        self._alerted = False
        self._quiet = 0
        self._active = False
        self._last_at: datetime | None = None
        self._last_summary = ""
        self._source_healthy = True
        self._source_detail = "not read yet" if source else "no log source configured"

    # --- scheduling ---------------------------------------------------------------------------
    def start(self, *, run_now: bool = True) -> None:
        """Start the scheduler thread; the first cycle runs at once unless ``run_now`` is
        False. Does nothing when there is no source or it already runs."""
        if self.source is None or self._scheduler is not None:
            return
        scheduler = BackgroundScheduler(timezone="UTC")
        scheduler.add_job(
            self.run_cycle,
            IntervalTrigger(seconds=self._interval),
            id=JOB_ID,
            name="mendbot monitoring cycle",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            next_run_time=self.clock() if run_now else None,
        )
        scheduler.start()
        self._scheduler = scheduler
        log.info("monitoring %s every %g s", self.source.name, self._interval)

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
        return self._interval

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
            try:
                if self.decisions is not None:
                    self.decisions.expire_stale()
                result = self.pipeline.run_once(self.source)
            except LogSourceError as error:
                self._on_failure(error, source_failed=True)
                return None
            except Exception as error:  # the bot keeps running whatever a cycle hits
                log.exception("monitoring cycle failed")
                self._on_failure(error, source_failed=False)
                return None
            self._on_success(result)
            return result

    def _on_success(self, result: CycleResult) -> None:
        with self._lock:
            failures, alerted = self._failures, self._alerted
            was_source = not self._source_healthy
            down_for = (
                (self.clock() - self._first_failure_at).total_seconds()
                if self._first_failure_at
                else 0.0
            )
            self._failures, self._alerted, self._first_failure_at = 0, False, None
            self._cycles += 1
            self._last_at = self.clock()
            self._last_summary = result.summary()
            self._source_healthy = True
            self._source_detail = "last read succeeded"
            active = any(a.severity.rank >= ACTIVE_SEVERITY.rank for a in result.anomalies)
            self._quiet = 0 if active else self._quiet + 1
            self._active = active or (self._active and self._quiet < QUIET_CYCLES_TO_RELAX)
        log.info("cycle %d: %s", self._cycles, result.summary())
        for note in result.notes:
            log.warning("cycle %d: %s", self._cycles, note)
        if alerted:
            self._alert(
                msg.source_recovered(self.source.name if self.source else "", failures, down_for)
                if was_source
                else msg.cycle_recovered(failures)
            )
        self._retime()

    def _on_failure(self, error: BaseException, *, source_failed: bool) -> None:
        text = scrub_secrets(str(error) or error.__class__.__name__)[:300]
        with self._lock:
            self._failures += 1
            self._first_failure_at = self._first_failure_at or self.clock()
            failures = self._failures
            if source_failed:
                self._source_healthy, self._source_detail = False, text
            should_alert = failures >= FAILURE_THRESHOLD and not self._alerted
            self._alerted = self._alerted or should_alert
        log.warning("cycle failed (%d in a row): %s", failures, text)
        self._retime()
        if should_alert:
            name = self.source.name if self.source else "log"
            self._alert(
                msg.source_down(name, failures, text, self._interval)
                if source_failed
                else msg.cycle_failed(failures, text, self._interval)
            )

    def _retime(self) -> None:
        """Apply the interval rule (module docstring) and reschedule when it changed."""
        with self._lock:
            if self._failures >= FAILURE_THRESHOLD:
                wanted = backoff_interval(self.base_interval, self._failures)
            elif self._active:
                wanted = active_interval(self.base_interval)
            else:
                wanted = self.base_interval
            changed, self._interval = wanted != self._interval, wanted
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
        with self._lock:
            return MonitorStatus(
                enabled=self.source is not None and self.running,
                paused=self._paused,
                source=self.source.name if self.source else "none",
                source_healthy=self._source_healthy,
                source_detail=self._source_detail,
                interval_seconds=self._interval,
                cycles=self._cycles,
                last_cycle_at=self._last_at,
                last_cycle_summary=self._last_summary,
                next_cycle_at=job.next_run_time if job is not None else None,
            )

    def pause(self) -> bool:
        """Skip cycles until :meth:`resume`; False if already paused."""
        with self._lock:
            was, self._paused = self._paused, True
        return not was

    def resume(self) -> bool:
        """Run cycles again; False if it was not paused."""
        with self._lock:
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
        with self._lock:
            failing = self._failures >= FAILURE_THRESHOLD
        ok = database == "ok" and scheduler != "stopped" and not failing
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


# --- building from settings -------------------------------------------------------------------
def build_monitor(
    settings: Settings,
    *,
    db: Database,
    store: ProposalStore,
    state: StateStore,
    notifier: Notifier,
    decisions: Decisions | None,
) -> ProactiveMonitor:
    """A monitor wired from settings: the configured source (None when ``none``), the
    analyzer and diagnoser over the shared stores.

    Raises:
        monitoring.sources.LogSourceError: the chosen source lacks a setting.
    """
    from monitoring.sources import build_source

    pipeline = build_pipeline(settings, store=store, state=state, notifier=notifier)
    return ProactiveMonitor(
        pipeline=pipeline,
        source=build_source(settings, state=state),
        notifier=notifier,
        decisions=decisions,
        db=db,
        interval_seconds=settings.monitor_interval_seconds,
    )


class LogNotifier:
    """Tells the process log about proposals and alerts (``start_monitoring``'s default,
    where Slack's notifier, which lives in ``bot/``, is not at hand)."""

    def post_proposal(self, proposal: FixProposal) -> str | None:
        log.warning(
            "new proposal %s: %s (%s)", proposal.id, proposal.title, proposal.diagnosis.root_cause
        )
        return None

    def post_event(self, proposal: FixProposal, event: ProposalEvent) -> None:
        log.info("%s: %s %s", proposal.id, event.kind, event.details)

    def post_alert(self, text: str) -> None:
        log.warning("%s", text)


async def start_monitoring(
    interval_seconds: float = 300,
    *,
    settings: Settings | None = None,
    notifier: Notifier | None = None,
) -> None:
    """Run the proactive monitor until cancelled (Ctrl-C in a REPL, task.cancel()).

    Reads the settings (``get_settings()`` unless given), opens the database, builds the
    configured source, analyzer and diagnoser, and runs a cycle every
    ``interval_seconds``. Proposals go to ``notifier`` (pass
    ``bot.slack.notifier.SlackNotifier.from_settings(settings)`` for Slack; default: the
    log). Decisions are taken in Slack or with ``mendbot fixes``.

    Raises:
        monitoring.sources.LogSourceError: the configured source lacks a setting, or
            no log source is configured at all.
    """
    settings = (settings or get_settings()).model_copy(
        update={"monitor_interval_seconds": float(interval_seconds)}
    )
    db = Database(settings.database_url)
    store, state = ProposalStore(db), StateStore(db)
    notifier = notifier or LogNotifier()
    decisions = Decisions(
        store=store,
        notifier=notifier,
        implementor=None,
        proposal_ttl_seconds=settings.proposal_ttl_seconds,
    )
    monitor = build_monitor(
        settings, db=db, store=store, state=state, notifier=notifier, decisions=decisions
    )
    if monitor.source is None:
        db.dispose()
        raise LogSourceError(
            "no log source is configured (set RAILWAY_*, LOKI_URL, "
            "MENDBOT_LOG_FILE or MENDBOT_LOG_COMMAND)"
        )
    monitor.start()
    try:
        while True:
            await asyncio.sleep(3600)
    finally:
        await asyncio.to_thread(monitor.stop)
        db.dispose()
