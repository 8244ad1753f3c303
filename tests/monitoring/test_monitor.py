"""The proactive monitor: cycles, failures and alerts, adaptive interval, scheduler, health."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.notifier import InMemoryNotifier
from core.proposals import ProposalStatus
from fixes.decisions import Decisions
from fixes.persistence.db import Database
from fixes.persistence.state import StateStore
from fixes.persistence.store import ProposalStore
from monitoring.analysis.analyzer import LogAnalyzer
from monitoring.parsing.parser import parse_lines
from monitoring.pipeline import CyclePipeline
from monitoring.proactive_monitor import (
    ProactiveMonitor,
    active_interval,
    backoff_interval,
    start_monitoring,
)
from monitoring.runtime import build_diagnoser
from monitoring.sources import CursoredSource, LogSourceUnavailable, StaticSource
from tests.monitoring.test_pipeline import KEY_ERROR_BLOCK, incident


class Rig:
    """A monitor over a static source, with real stores and the offline diagnoser."""

    def __init__(self, tmp_path: Path, make_settings, interval: float = 300.0) -> None:
        self.settings = make_settings()
        self.db = Database(self.settings.database_url)
        self.store, self.state = ProposalStore(self.db), StateStore(self.db)
        self.notifier = InMemoryNotifier()
        self.static = StaticSource()
        self.decisions = Decisions(
            store=self.store, notifier=self.notifier, implementor=None, proposal_ttl_seconds=3600
        )
        self.pipeline = CyclePipeline(
            analyzer=LogAnalyzer(state=self.state),
            diagnoser=build_diagnoser(self.settings, state=self.state),
            store=self.store,
            notifier=self.notifier,
            cooldown_seconds=3600,
        )
        self.monitor = ProactiveMonitor(
            pipeline=self.pipeline,
            source=CursoredSource(self.static, state=self.state),
            notifier=self.notifier,
            decisions=self.decisions,
            db=self.db,
            interval_seconds=interval,
        )


@pytest.fixture
def rig(tmp_path, make_settings) -> Rig:
    return Rig(tmp_path, make_settings)


def test_interval_rules() -> None:
    assert active_interval(300) == 60
    assert active_interval(3600) == 720
    assert active_interval(2) == 2
    assert [backoff_interval(300, n) for n in (3, 4, 5, 9)] == [600, 1200, 2400, 3600]
    assert backoff_interval(7200, 10) == 7200


def test_a_cycle_stores_posts_and_reports(rig) -> None:
    rig.static.append(incident(datetime.now(UTC) - timedelta(minutes=1)))
    result = rig.monitor.run_cycle()
    assert result is not None and len(result.new_proposals) == 1
    status = rig.monitor.status()
    assert (status.cycles, status.source, status.source_healthy) == (1, "static", True)
    assert status.last_cycle_summary == result.summary()
    assert rig.monitor.run_cycle().records == 0  # nothing is read twice


def test_each_cycle_expires_stale_proposals(rig) -> None:
    rig.static.append(incident(datetime.now(UTC) - timedelta(minutes=1)))
    [proposal] = rig.monitor.run_cycle().new_proposals
    rig.decisions.ttl = timedelta(seconds=0)
    rig.monitor.run_cycle()
    assert rig.store.get(proposal.id).status is ProposalStatus.EXPIRED
    assert rig.notifier.event_kinds(proposal.id) == ["expired"]


def test_three_failures_back_off_and_alert_once_then_recovery_is_told(rig) -> None:
    rig.static.fail_next(LogSourceUnavailable("Railway answered HTTP 503"), times=4)
    rig.monitor.start(run_now=False)  # scheduled (5 min away): cycles here are run by hand
    for _ in range(2):
        assert rig.monitor.run_cycle() is None
    assert rig.notifier.alerts == [] and rig.monitor.interval_seconds == 300
    assert rig.monitor.health()["ok"] is True  # one or two failures are not unhealthy
    rig.monitor.run_cycle()
    [alert] = rig.notifier.alerts
    assert "cannot read the static logs (3 failures in a row)" in alert
    assert "HTTP 503" in alert and rig.monitor.interval_seconds == 600
    rig.monitor.run_cycle()
    assert len(rig.notifier.alerts) == 1 and rig.monitor.interval_seconds == 1200
    status = rig.monitor.status()
    assert status.source_healthy is False and "HTTP 503" in status.source_detail
    health = rig.monitor.health()
    assert health["ok"] is False and health["source"]["healthy"] is False
    assert rig.monitor.run_cycle() is not None
    assert len(rig.notifier.alerts) == 2 and "reads the static logs again" in rig.notifier.alerts[1]
    assert rig.monitor.interval_seconds == 300 and rig.monitor.health()["ok"] is True
    rig.monitor.stop()
    assert rig.monitor.health()["scheduler"] == "stopped"


def test_non_source_failures_are_counted_and_alerted_too(rig) -> None:
    def broken(records):
        raise RuntimeError("database is locked")

    rig.pipeline.analyzer.analyze = broken  # type: ignore[method-assign]
    for _ in range(3):
        assert rig.monitor.run_cycle() is None
    assert "cycle failed 3 times in a row: database is locked" in rig.notifier.alerts[0]
    assert rig.monitor.status().source_healthy is True


def test_active_anomalies_shorten_the_interval_until_three_quiet_cycles(rig) -> None:
    rig.static.append(incident(datetime.now(UTC) - timedelta(minutes=1)))
    rig.monitor.run_cycle()
    assert rig.monitor.interval_seconds == 60
    for expected in (60, 60, 300):
        rig.monitor.run_cycle()
        assert rig.monitor.interval_seconds == expected


def test_paused_cycles_read_nothing(rig) -> None:
    assert rig.monitor.pause() is True and rig.monitor.pause() is False
    assert rig.monitor.run_cycle() is None and rig.static.fetches == 0
    assert rig.monitor.status().paused is True
    assert rig.monitor.resume() is True and rig.monitor.resume() is False
    rig.monitor.run_cycle()
    assert rig.static.fetches == 1


def test_the_scheduler_runs_cycles_one_at_a_time_and_stops_cleanly(tmp_path, make_settings) -> None:
    rig = Rig(tmp_path, make_settings, interval=0.1)
    running, overlaps, done = [0], [0], []
    original = rig.pipeline.process

    def slow_process(records):
        running[0] += 1
        overlaps[0] = max(overlaps[0], running[0])
        time.sleep(0.3)  # longer than the interval: runs would pile up without coalescing
        running[0] -= 1
        done.append(1)
        return original(records)

    rig.pipeline.process = slow_process  # type: ignore[method-assign]
    rig.monitor.start()
    deadline = time.monotonic() + 5
    while len(done) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    status = rig.monitor.status()
    assert status.enabled and status.next_cycle_at is not None
    assert rig.monitor.health()["scheduler"] == "running"
    rig.monitor.stop()
    assert len(done) >= 3 and overlaps[0] == 1
    settled = len(done)
    time.sleep(0.3)
    assert len(done) == settled and not rig.monitor.running


def test_health_reports_an_unreachable_database(rig, tmp_path) -> None:
    assert rig.monitor.health()["database"] == "ok"
    rig.db.dispose()
    db_file = Path(rig.settings.database_url.removeprefix("sqlite:///"))
    for path in tmp_path.glob(db_file.name + "*"):
        path.unlink()
    db_file.mkdir()  # the file is gone and cannot be created again
    health = rig.monitor.health()
    assert health["ok"] is False and health["database"] == "unreachable"


def test_no_source_means_monitoring_off_but_health_answers(rig) -> None:
    monitor = ProactiveMonitor(pipeline=rig.pipeline, source=None, notifier=rig.notifier, db=rig.db)
    monitor.start()
    assert monitor.run_cycle() is None
    health = monitor.health()
    assert health["ok"] is True and health["scheduler"] == "off"
    assert health["monitor"]["enabled"] is False


def test_start_monitoring_runs_until_cancelled(tmp_path, make_settings) -> None:
    log = tmp_path / "service.log"
    log.write_text("\n".join(KEY_ERROR_BLOCK * 4) + "\n")
    settings = make_settings(log_file=log)
    notifier = InMemoryNotifier()

    async def scenario() -> None:
        task = asyncio.create_task(start_monitoring(0.2, settings=settings, notifier=notifier))
        for _ in range(100):
            await asyncio.sleep(0.05)
            if notifier.proposals:
                break
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    [proposal] = notifier.proposals
    stored = ProposalStore(Database(settings.database_url)).get(proposal.id)
    assert stored.anomaly.exception_type == "KeyError"
    assert not [t for t in threading.enumerate() if t.name.startswith("APScheduler")]


def test_parsed_lines_from_the_static_source(rig) -> None:
    rig.static.append_lines(KEY_ERROR_BLOCK * 3)
    assert rig.monitor.run_cycle().records == len(list(parse_lines(KEY_ERROR_BLOCK * 3)))
