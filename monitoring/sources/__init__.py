"""Log sources: where the service's logs come from, behind one small protocol.

    base.py      LogSource protocol, Batch, CursoredSource (cursor kept in a KeyValueStore),
                 the LogSourceError tree, RetryPolicy
    window.py    time windows with overlap, and tracebacks held back at a window's edge
    railway.py   RailwaySource: Railway GraphQL ``deploymentLogs``
    railway_api.py      RailwayAPI: Railway's GraphQL client (token, retries, errors)
    railway_deploys.py  RailwayDeploys: the deployment of a commit (``deployments``)
    loki.py      LokiSource: Loki ``/loki/api/v1/query_range``
    file.py      FileSource: a growing file, rotation-safe
    command.py   CommandSource: stdout of a shell command
    static.py    StaticSource: records in memory (tests, dry runs)
    messages.py  the alerts a person reads when a source fails or recovers

Which source runs is chosen from the settings by the composition root
(:func:`monitoring.runtime.build_source`), not here: every source takes its own
keyword arguments.
"""

from __future__ import annotations

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

__all__ = [
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
    "is_retryable",
]
