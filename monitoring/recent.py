"""Orchestration: the last log records read, for the logs around an alert's start."""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime, timedelta

from core.models import Level, LogRecord


class RecentRecords:
    """The last records read (thread-safe), for the logs around an alert's start.

    Args:
        max_records: how many are kept (the oldest go first).
    """

    def __init__(self, max_records: int = 2000) -> None:
        self._records: deque[LogRecord] = deque(maxlen=max_records)
        self._lock = threading.Lock()

    def add(self, record: LogRecord) -> None:
        """Keep ``record`` (evicting the oldest when full)."""
        with self._lock:
            self._records.append(record)

    def around(
        self, moment: datetime, *, seconds: float = 120.0, limit: int = 5
    ) -> list[LogRecord]:
        """Up to ``limit`` records within ``seconds`` of ``moment`` (aware UTC), warnings
        and errors first, then the nearest in time; returned oldest first."""
        span = timedelta(seconds=seconds)
        with self._lock:
            near = [r for r in self._records if abs(r.timestamp - moment) <= span]
        near.sort(key=lambda r: (-(r.level.rank >= Level.WARNING.rank), abs(r.timestamp - moment)))
        return sorted(near[:limit], key=lambda r: r.timestamp)
