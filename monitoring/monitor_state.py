"""Monitoring orchestration: the monitor's health as a small state machine (no scheduler).

:class:`MonitorHealth` decides, from the outcome of each cycle, what the monitor reports
and how long it waits before the next cycle. The interval (seconds) adapts:

- base: ``MONITOR_INTERVAL_SECONDS`` (default 300);
- while anomalies are active (the last cycle found one of MEDIUM severity or more):
  :func:`active_interval`, i.e. 60 s for the default, never shorter than a fifth of the
  base and never longer than the base; back to the base after
  :data:`QUIET_CYCLES_TO_RELAX` quiet cycles in a row;
- after :data:`FAILURE_THRESHOLD` failed cycles in a row: :func:`backoff_interval`;
  one alert when that starts and one when a cycle works again.

Thread-safe: the scheduler's thread and the bot's ``status`` calls share one instance.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from core.models import Severity

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
    """The interval after ``failures`` failed cycles in a row (>= the threshold):
    ``base * 2 ** (failures - 2)``, at most ``max(base, 3600)``."""
    return min(base_seconds * 2 ** max(failures - 2, 0), max(base_seconds, 3600.0))


@dataclass(frozen=True)
class Recovery:
    """A cycle worked after an alerted run of failures.

    Attributes:
        failures: failed cycles in a row before this one.
        down_seconds: from the first of them to now.
        source_failed: the failures were the log source's (else the cycle's own).
    """

    failures: int
    down_seconds: float
    source_failed: bool


@dataclass(frozen=True)
class Snapshot:
    """What the monitor reports (see ``monitoring.status.MonitorStatus``)."""

    cycles: int
    failures: int
    interval_seconds: float
    last_at: datetime | None
    last_summary: str
    source_healthy: bool
    source_detail: str


class MonitorHealth:
    """Failures, alerts, activity and the interval, updated once per cycle.

    Args:
        base_interval_seconds: ``MONITOR_INTERVAL_SECONDS``.
        source_detail: the note shown before the first cycle.
    """

    def __init__(self, *, base_interval_seconds: float, source_detail: str) -> None:
        self.base_interval = float(base_interval_seconds)
        self._lock = threading.Lock()
        self._interval = self.base_interval
        self._cycles = 0
        self._failures = 0
        self._first_failure_at: datetime | None = None
        self._alerted = False
        self._quiet = 0
        self._active = False
        self._last_at: datetime | None = None
        self._last_summary = ""
        self._source_healthy = True
        self._source_detail = source_detail

    def succeeded(self, *, summary: str, worst: Severity | None, now: datetime) -> Recovery | None:
        """Record a cycle that worked; returns the recovery to announce, if one is due.

        Args:
            summary: the cycle's one-line summary.
            worst: the most severe anomaly it found, None when none.
            now: aware UTC.
        """
        with self._lock:
            recovery = None
            if self._alerted:
                since = self._first_failure_at or now
                down = (now - since).total_seconds()
                recovery = Recovery(self._failures, down, not self._source_healthy)
            self._failures, self._alerted, self._first_failure_at = 0, False, None
            self._cycles += 1
            self._last_at, self._last_summary = now, summary
            self._source_healthy, self._source_detail = True, "last read succeeded"
            active = worst is not None and worst.rank >= ACTIVE_SEVERITY.rank
            self._quiet = 0 if active else self._quiet + 1
            self._active = active or (self._active and self._quiet < QUIET_CYCLES_TO_RELAX)
            return recovery

    def failed(self, *, text: str, source_failed: bool, now: datetime) -> bool:
        """Record a failed cycle; returns True when the "down" alert is due (once per run).

        Args:
            text: the failure, already scrubbed of secrets.
            source_failed: the log source failed (else the cycle itself).
            now: aware UTC.
        """
        with self._lock:
            self._failures += 1
            self._first_failure_at = self._first_failure_at or now
            if source_failed:
                self._source_healthy, self._source_detail = False, text
            due = self._failures >= FAILURE_THRESHOLD and not self._alerted
            self._alerted = self._alerted or due
            return due

    def retime(self) -> tuple[float, bool]:
        """Apply the interval rule; returns ``(interval_seconds, changed)``."""
        with self._lock:
            if self._failures >= FAILURE_THRESHOLD:
                wanted = backoff_interval(self.base_interval, self._failures)
            elif self._active:
                wanted = active_interval(self.base_interval)
            else:
                wanted = self.base_interval
            changed, self._interval = wanted != self._interval, wanted
            return wanted, changed

    @property
    def failing(self) -> bool:
        """True after :data:`FAILURE_THRESHOLD` failed cycles in a row."""
        with self._lock:
            return self._failures >= FAILURE_THRESHOLD

    def snapshot(self) -> Snapshot:
        """A consistent copy of what the monitor reports."""
        with self._lock:
            return Snapshot(
                cycles=self._cycles,
                failures=self._failures,
                interval_seconds=self._interval,
                last_at=self._last_at,
                last_summary=self._last_summary,
                source_healthy=self._source_healthy,
                source_detail=self._source_detail,
            )
