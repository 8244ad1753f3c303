"""Shared contracts: the small key/value state that stages keep between cycles.

Stages (source cursors, the analyzer's template baseline, the diagnosis cache) depend on
:class:`KeyValueStore` only; the process hands them the database-backed
``fixes.persistence.state.StateStore``, tests and dry runs :class:`InMemoryState`.
Values are JSON-serialisable (dicts, lists, strings, numbers, booleans, None).
"""

from __future__ import annotations

import copy
import threading
from typing import Any, Protocol


class KeyValueStore(Protocol):
    """Named JSON values that survive a restart when the store is persistent."""

    def get(self, key: str, default: Any = None) -> Any:
        """The value stored under ``key``, or ``default``."""
        ...

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key``, replacing any older value."""
        ...


class InMemoryState:
    """A :class:`KeyValueStore` in a dict (thread-safe; values are deep-copied in and out,
    as a database round trip would)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            return copy.deepcopy(self._values[key]) if key in self._values else default

    def set(self, key: str, value: Any) -> None:
        with self._lock:
            self._values[key] = copy.deepcopy(value)
