"""Log sources: an in-memory source for tests and dry runs.

Records appended to a :class:`StaticSource` are returned once, in order; its cursor is
the count already committed, so it behaves like the real sources across cycles (and, with
the same ``name`` and state store, across restarts). ``fail_next`` makes the next fetches
raise, to exercise the monitor's failure handling.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from core.models import LogRecord
from monitoring.sources.base import Batch, LogSourceError


class StaticSource:
    """Returns the records given to it, each once.

    Args:
        records: initial records, oldest first.
        label: distinguishes the cursors of several static sources in one database.
    """

    name = "static"

    def __init__(self, *, records: Iterable[LogRecord] = (), label: str = "default") -> None:
        self._lock = threading.Lock()
        self._records: list[LogRecord] = list(records)
        self._failures: list[LogSourceError] = []
        self.cursor_key = f"source:static:{label}"
        self.fetches = 0

    def append(self, records: Iterable[LogRecord]) -> None:
        """Add records (oldest first) for the next fetch."""
        with self._lock:
            self._records.extend(records)

    def append_lines(self, lines: Iterable[str], **parser_options: Any) -> None:
        """Parse ``lines`` (``monitoring.parsing.parser.parse_lines``) and add the records."""
        from monitoring.parsing.parser import parse_lines

        self.append(parse_lines(list(lines), **parser_options))

    def fail_next(self, error: LogSourceError, times: int = 1) -> None:
        """Make the next ``times`` fetches raise ``error``."""
        with self._lock:
            self._failures.extend([error] * times)

    def fetch(self, cursor: Mapping[str, Any] | None, *, now: datetime) -> Batch:
        """The records after the cursor's offset.

        Raises:
            LogSourceError: when :meth:`fail_next` asked for it.
        """
        with self._lock:
            self.fetches += 1
            if self._failures:
                raise self._failures.pop(0)
            offset = int((cursor or {}).get("offset", 0))
            return Batch(
                records=list(self._records[offset:]), cursor={"offset": len(self._records)}
            )

    def check(self) -> str:
        """Always healthy unless failures are queued."""
        with self._lock:
            if self._failures:
                raise self._failures[0]
            return f"static source ({len(self._records)} records)"

    def close(self) -> None:
        """Nothing to release."""
