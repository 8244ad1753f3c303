"""Monitoring orchestration: what the running monitor reports and what the bot may ask of it."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel


class MonitorStatus(BaseModel):
    """What the proactive monitor is doing, for ``/health`` and Slack's ``status``.

    Attributes:
        enabled: a log source is configured and the schedule runs.
        paused: a person paused monitoring (cycles are skipped until resumed).
        source: the log source's name (``railway``, ``loki``, ``file``, ``command``, ``none``).
        source_healthy: the last fetch (or health check) succeeded.
        source_detail: a short human note on the source (error text when unhealthy).
        interval_seconds: the current interval (shorter while anomalies are active).
        cycles: cycles run since start.
        last_cycle_at: when the last cycle finished (aware UTC), None before the first.
        last_cycle_summary: e.g. ``"812 records, 2 anomalies, 1 new proposal"``.
        next_cycle_at: when the next cycle is due (aware UTC), if scheduled.
    """

    enabled: bool
    paused: bool = False
    source: str = "none"
    source_healthy: bool = True
    source_detail: str = ""
    interval_seconds: float = 300.0
    cycles: int = 0
    last_cycle_at: datetime | None = None
    last_cycle_summary: str = ""
    next_cycle_at: datetime | None = None


class MonitorControl(Protocol):
    """What the bot may ask of the running monitor (``ProactiveMonitor`` implements it)."""

    def status(self) -> MonitorStatus:
        """A snapshot of the monitor's state."""
        ...

    def pause(self) -> bool:
        """Skip cycles until :meth:`resume`; False if it was already paused."""
        ...

    def resume(self) -> bool:
        """Run cycles again; False if it was not paused."""
        ...
