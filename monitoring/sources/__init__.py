"""Log sources: where the service's logs come from, chosen by settings (the registry).

``SOURCES`` lists every source that settings can choose (``MENDBOT_LOG_SOURCE``, or the
first one configured, see ``Settings.effective_log_source``); :func:`build_source` builds
the chosen one with its cursor kept in the database. :class:`StaticSource` is the
in-memory source for tests and dry runs.
"""

from __future__ import annotations

from typing import Protocol

from core.state import KeyValueStore
from monitoring.sources.base import (
    Batch,
    CursoredSource,
    LogSource,
    LogSourceAuthError,
    LogSourceError,
    LogSourceUnavailable,
    is_retryable,
)
from monitoring.sources.command import CommandSource
from monitoring.sources.file import FileSource
from monitoring.sources.loki import LokiSource
from monitoring.sources.railway import RailwaySource
from monitoring.sources.static import StaticSource
from settings import Settings


class SourceClass(Protocol):
    """What the registry holds: a log source class that builds itself from settings."""

    def from_settings(self, settings: Settings) -> LogSource:
        """The source configured by ``settings``; raises ``LogSourceError`` when a
        variable it needs is missing."""
        ...


SOURCES: dict[str, SourceClass] = {
    "railway": RailwaySource,
    "loki": LokiSource,
    "file": FileSource,
    "command": CommandSource,
}

__all__ = [
    "SOURCES",
    "Batch",
    "CommandSource",
    "CursoredSource",
    "FileSource",
    "LogSource",
    "LogSourceAuthError",
    "LogSourceError",
    "LogSourceUnavailable",
    "LokiSource",
    "RailwaySource",
    "StaticSource",
    "build_source",
    "is_retryable",
]


def build_source(settings: Settings, *, state: KeyValueStore) -> CursoredSource | None:
    """The configured log source with its cursor in ``state``, or None when none is set.

    Args:
        settings: the process settings; ``effective_log_source`` picks the source.
        state: where the cursor is kept (key per source and service/query/path/command).

    Returns:
        A :class:`CursoredSource` (``fetch()`` / ``commit(batch)`` / ``check()`` /
        ``close()``), or None for ``"none"``.

    Raises:
        LogSourceError: the chosen source lacks a setting (the message names it).
    """
    name = settings.effective_log_source
    if name == "none":
        return None
    return CursoredSource(SOURCES[name].from_settings(settings), state=state)
