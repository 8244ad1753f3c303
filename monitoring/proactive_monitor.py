"""Monitoring orchestration: ``start_monitoring()``, the proactive monitor from a REPL.

``from monitoring.proactive_monitor import start_monitoring`` then
``await start_monitoring(60)`` in IPython (or ``asyncio.run(start_monitoring())`` in a
script) runs the configured monitor until cancelled. The monitor itself lives in
:mod:`monitoring.monitor`, its interval rules in :mod:`monitoring.monitor_state`; both are
re-exported here for those who import them from their old home.
"""

from __future__ import annotations

import asyncio

from core.notifier import LogNotifier, Notifier
from monitoring.monitor import JOB_ID, ProactiveMonitor
from monitoring.monitor_state import (
    ACTIVE_SEVERITY,
    FAILURE_THRESHOLD,
    QUIET_CYCLES_TO_RELAX,
    active_interval,
    backoff_interval,
)
from monitoring.runtime import build_monitor, build_runtime
from monitoring.sources.base import LogSourceError
from settings import Settings, get_settings

__all__ = [
    "ACTIVE_SEVERITY",
    "FAILURE_THRESHOLD",
    "JOB_ID",
    "QUIET_CYCLES_TO_RELAX",
    "ProactiveMonitor",
    "active_interval",
    "backoff_interval",
    "start_monitoring",
]


async def start_monitoring(
    interval_seconds: float = 300,
    *,
    settings: Settings | None = None,
    notifier: Notifier | None = None,
) -> None:
    """Run the proactive monitor until cancelled (Ctrl-C in a REPL, task.cancel()).

    Reads the settings (``get_settings()`` unless given), opens the database, builds the
    configured source, analyzer and diagnoser, and runs a cycle every
    ``interval_seconds``. Proposals go to ``notifier`` (default: the process log, see
    :class:`~core.notifier.LogNotifier`; for Slack pass
    ``bot.slack.notifier.configured_notifier(settings)``). Decisions are taken in Slack or
    with ``mendbot fixes``. Like every entry point it first recovers a fix that a killed
    process left half applied on ``TARGET_REPO_PATH``.

    Raises:
        LogSourceError: the configured source lacks a setting, or no log source is
            configured at all.
    """
    settings = (settings or get_settings()).model_copy(
        update={"monitor_interval_seconds": float(interval_seconds)}
    )
    runtime = build_runtime(settings, notifier=notifier or LogNotifier())
    try:
        monitor = build_monitor(runtime)
    except BaseException:
        runtime.close()
        raise
    if monitor.source is None:
        runtime.close()
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
        runtime.close()
