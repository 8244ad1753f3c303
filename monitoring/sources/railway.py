"""Log sources: a Railway service's deployment logs through Railway's public GraphQL API.

Each fetch asks ``serviceInstance(environmentId, serviceId) { latestDeployment
activeDeployments }`` which deployments are current, then reads
``deploymentLogs(deploymentId, startDate, endDate, limit)`` for every deployment it
follows, in overlapping windows (see :mod:`monitoring.sources.window`). On a redeploy the
old deployment keeps being read while it is active (the new one building, or failed) and
until a window after it stopped brings nothing more, so its last lines are not lost; a
new deployment is read from its creation.

A window that comes back full (``limit`` entries; Railway sometimes sends ``limit + 1``)
is continued on both sides of the span it returned, so the result does not depend on
which end of a full window Railway chose to keep.

Authentication, retries and errors are :class:`~monitoring.sources.railway_api.RailwayAPI`'s
(an account/team token as Bearer, or a project token; a refused token becomes
:class:`~monitoring.sources.base.LogSourceAuthError` naming the variable). Every record
carries the deployment it came from in ``attributes["railway.deployment"]``.

Cursor shape::

    {"deployments": {"<id>": {"until": ..., "edge": [...], "retired": false}},
     "drained": ["<id of a stopped deployment read to its end>", ...]}
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx

from core.models import LogRecord
from monitoring.sources.base import (
    Batch,
    LogSourceError,
    RetryPolicy,
    iso,
    level_from_word,
    occurrence_keys,
    parse_iso_timestamp,
)
from monitoring.sources.railway_api import RailwayAPI
from monitoring.sources.window import EdgeWindow, Entry, unfinished_traceback

LATEST_DEPLOYMENT_QUERY = """
query MendbotLatestDeployment($environmentId: String!, $serviceId: String!) {
  serviceInstance(environmentId: $environmentId, serviceId: $serviceId) {
    serviceName
    latestDeployment { id status createdAt }
    activeDeployments { id status createdAt }
  }
}
"""

DEPLOYMENT_LOGS_QUERY = """
query MendbotDeploymentLogs(
  $deploymentId: String!, $startDate: DateTime, $endDate: DateTime, $limit: Int
) {
  deploymentLogs(
    deploymentId: $deploymentId, startDate: $startDate, endDate: $endDate, limit: $limit
  ) {
    timestamp
    message
    severity
    attributes { key value }
  }
}
"""

#: Drained deployment ids remembered (so a failed latest one is not read again).
_DRAINED_KEPT = 50
#: Statuses of a deployment that logs nothing new (a FAILED one is read until drained).
_STOPPED = frozenset({"FAILED", "REMOVED", "REMOVING", "SKIPPED"})
_LEVEL_KEYS = frozenset({"level", "severity", "levelname", "lvl"})


class RailwaySource:
    """Deployment logs of one Railway service in one environment.

    Args:
        client: an ``httpx.Client`` (its timeout applies to every request).
        api_url: the GraphQL endpoint, ``settings.railway_api_url``.
        environment_id, service_id: which service instance to follow.
        api_token: an account/team token (``RAILWAY_API_TOKEN``), sent as Bearer.
        project_token: a project token (``RAILWAY_TOKEN``), sent as
            ``Project-Access-Token``; used only when ``api_token`` is None.
        page_limit: ``limit`` per ``deploymentLogs`` query (lines).
        overlap_seconds: how far each window reaches back for late lines.
        lookback_seconds: how far back the very first window goes.
        attempts: calls per request at most (429/5xx/network errors are retried).
        backoff_seconds: first retry wait (doubles; ``Retry-After`` wins when sent).
        max_backoff_seconds: longest single retry wait.
        parser_factory: builds a record parser for ``service`` (default
            :class:`monitoring.parsing.parser.RecordParser`).
    """

    name = "railway"

    def __init__(
        self,
        *,
        client: httpx.Client,
        api_url: str,
        environment_id: str,
        service_id: str,
        api_token: str | None = None,
        project_token: str | None = None,
        page_limit: int = 1000,
        overlap_seconds: float = 30.0,
        lookback_seconds: float = 3600.0,
        attempts: int = 4,
        backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 30.0,
        parser_factory: Any = None,
    ) -> None:
        self.api = RailwayAPI(
            client=client,
            api_url=api_url,
            api_token=api_token,
            project_token=project_token,
            retry=RetryPolicy(attempts, backoff_seconds, max_backoff_seconds),
        )
        self.client = client
        self.api_url = api_url
        self.environment_id = environment_id
        self.service_id = service_id
        self.page_limit = page_limit
        self.window = EdgeWindow(overlap_seconds=overlap_seconds, lookback_seconds=lookback_seconds)
        self._parser_factory = parser_factory or _default_parser
        self.cursor_key = f"source:railway:{environment_id}:{service_id}"
        #: The watched service's name, known after the first request.
        self.service_name: str | None = None

    def fetch(self, cursor: Mapping[str, Any] | None, *, now: datetime) -> Batch:
        """New log records of the followed deployments since ``cursor``, oldest first.

        Raises:
            LogSourceAuthError: the token was refused (names the variable).
            LogSourceUnavailable: Railway unreachable, 429 or 5xx after the retries.
            LogSourceError: the service instance has no deployment, or a bad answer.
        """
        instance = self._service_instance()
        followed = self._followed(cursor, _current(instance), now)
        if not followed:
            raise LogSourceError(f"Railway service {self.service_id} has no deployment yet")
        records: list[LogRecord] = []
        notes: list[str] = []
        new_cursor: dict[str, Any] = {}
        drained: list[str] = list((cursor or {}).get("drained") or [])
        for deployment_id, state in followed.items():
            entries, truncated = self._window_entries(
                deployment_id, self.window.start(state, now), now
            )
            fresh, window_cursor = self.window.select(
                state, entries, end=now, hold=unfinished_traceback
            )
            records.extend(self._parse(fresh, instance.get("serviceName"), deployment_id))
            if truncated:
                notes.append(
                    f"deployment {deployment_id}: more than {self.page_limit} lines "
                    "at one instant; some were skipped"
                )
            if state["retired"] and not fresh:  # a stopped one is kept until drained
                drained.append(deployment_id)
            else:
                new_cursor[deployment_id] = {**window_cursor, "retired": state["retired"]}
        records.sort(key=lambda r: r.timestamp)
        return Batch(
            records=records,
            notes=notes,
            cursor={"deployments": new_cursor, "drained": drained[-_DRAINED_KEPT:]},
        )

    def check(self) -> str:
        """Ask for the latest deployment: proves the token and ids are right.

        Raises:
            LogSourceError: as :meth:`fetch`.
        """
        instance = self._service_instance()
        latest = instance.get("latestDeployment") or {}
        return (
            f"Railway service {instance.get('serviceName') or self.service_id}, "
            f"deployment {latest.get('id', 'none')} ({latest.get('status', 'unknown')})"
        )

    def close(self) -> None:
        """Close the HTTP client."""
        self.api.close()

    # --- internals ----------------------------------------------------------------------------
    def _followed(
        self, cursor: Mapping[str, Any] | None, live: list[Mapping[str, Any]], now: datetime
    ) -> dict[str, dict[str, Any]]:
        """Deployments to read this time: those in the cursor plus the current ones, each
        marked ``retired`` when it is no longer running (read until drained).

        A live deployment seen for the first time after the first fetch is read from its
        creation (bounded by the look-back), so a redeploy's first lines are not missed.
        """
        followed = {k: dict(v) for k, v in ((cursor or {}).get("deployments") or {}).items()}
        drained = set((cursor or {}).get("drained") or ())
        first_fetch = not followed
        for deployment in live:
            if deployment["id"] in followed or deployment["id"] in drained:
                continue
            start = now - self.window.lookback
            if not first_fetch and deployment.get("createdAt"):
                start = max(
                    start, parse_iso_timestamp(deployment["createdAt"]) - self.window.overlap
                )
            followed[deployment["id"]] = {"until": iso(start + self.window.overlap), "edge": []}
        running = {d["id"] for d in live if d.get("status") not in _STOPPED}
        for deployment_id, state in followed.items():
            state["retired"] = deployment_id not in running
        return followed

    def _service_instance(self) -> dict[str, Any]:
        data = self._graphql(
            LATEST_DEPLOYMENT_QUERY,
            {"environmentId": self.environment_id, "serviceId": self.service_id},
        )
        instance = data.get("serviceInstance")
        if not isinstance(instance, dict):
            raise LogSourceError(
                "Railway returned no serviceInstance; check "
                "RAILWAY_ENVIRONMENT_ID and RAILWAY_SERVICE_ID"
            )
        self.service_name = instance.get("serviceName") or self.service_name
        return instance

    def _window_entries(
        self, deployment_id: str, start: datetime, end: datetime
    ) -> tuple[list[Entry], bool]:
        """Entries with ``start <= timestamp < end``, however many pages that takes.

        Returns:
            The entries, oldest first, and whether some page was full within one instant
            (then entries at that instant beyond the page limit were not read).
        """
        parts: list[list[Entry]] = []
        truncated = self._collect(deployment_id, start, end, parts)
        merged = _union(parts)
        return [e for e in merged if start <= e.timestamp < end], truncated

    def _collect(
        self, deployment_id: str, start: datetime, end: datetime, parts: list[list[Entry]]
    ) -> bool:
        """Query ``[start, end]``; a full page spanning ``[lo, hi]`` means the rest lies in
        ``[start, lo]`` or ``[hi, end]`` (Railway keeps one end of a full window), so both
        are queried, recursively. Returns True when a full page sat on one instant."""
        logs = (
            self._graphql(
                DEPLOYMENT_LOGS_QUERY,
                {
                    "deploymentId": deployment_id,
                    "startDate": iso(start),
                    "endDate": iso(end),
                    "limit": self.page_limit,
                },
            ).get("deploymentLogs")
            or []
        )
        page = [_entry(log) for log in logs]
        parts.append(page)
        if len(logs) < self.page_limit or not page:
            return False
        lo = min(e.timestamp for e in page)
        hi = max(e.timestamp for e in page)
        if lo == hi:
            return True
        truncated = False
        if start < lo:
            truncated |= self._collect(deployment_id, start, lo, parts)
        if hi < end:
            truncated |= self._collect(deployment_id, hi, end, parts)
        return truncated

    def _graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        return self.api.query(query, variables)

    def _parse(
        self, entries: list[Entry], service: str | None, deployment_id: str
    ) -> list[LogRecord]:
        parser = self._parser_factory(service)
        records: list[LogRecord] = []
        for entry in entries:
            severity, attributes = entry.extra
            structured = bool(_LEVEL_KEYS & {k.lower() for k in attributes})
            level = level_from_word(severity) if structured else None
            records.extend(
                parser.feed(
                    entry.text,
                    timestamp=entry.timestamp,
                    level=level,
                    attributes={
                        **attributes,
                        "railway.severity": severity or "",
                        "railway.deployment": deployment_id,
                    },
                )
            )
        records.extend(parser.flush())
        return records


def _entry(log: Mapping[str, Any]) -> Entry:
    """An :class:`Entry` from a GraphQL ``Log`` object (severity and attributes kept)."""
    try:
        stamp = str(log["timestamp"])
        attributes = {str(a["key"]): str(a["value"]) for a in log.get("attributes") or []}
        return Entry(
            timestamp=parse_iso_timestamp(stamp),
            stamp=stamp,
            text=str(log.get("message") or ""),
            extra=(log.get("severity"), attributes),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise LogSourceError(
            f"Railway sent a log entry without a usable timestamp: {str(log)[:200]}"
        ) from error


def _union(parts: list[list[Entry]]) -> list[Entry]:
    """Entries of overlapping pages, each once, oldest first.

    Pages overlap at their boundary instants; an entry is identified by its timestamp,
    text and repeat number within its page, so two identical lines at one instant stay
    two entries while the same line seen on two pages counts once.
    """
    merged: dict[str, Entry] = {}
    for page in parts:
        ordered = sorted(page, key=lambda e: e.timestamp)
        for key, entry in zip(
            occurrence_keys((e.stamp, e.text) for e in ordered), ordered, strict=True
        ):
            merged.setdefault(key, entry)
    return sorted(merged.values(), key=lambda e: e.timestamp)


def _current(instance: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The latest deployment and the active ones (those serving), each once, latest
    first. A latest one that failed is still read once: its logs say why it failed."""
    candidates = [instance.get("latestDeployment"), *(instance.get("activeDeployments") or [])]
    live: dict[str, Mapping[str, Any]] = {}
    for deployment in candidates:
        if isinstance(deployment, dict) and deployment.get("id"):
            live.setdefault(str(deployment["id"]), deployment)
    return list(live.values())


def _default_parser(service: str | None) -> Any:
    from monitoring.parsing.parser import RecordParser

    return RecordParser(service=service)
