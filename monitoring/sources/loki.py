"""Log sources: Grafana Loki through its HTTP API (``/loki/api/v1/query_range``).

Each fetch reads ``[start, now)`` with ``direction=forward`` and nanosecond ``start`` /
``end``, in overlapping windows (see :mod:`monitoring.sources.window`). A page that
returns ``limit`` entries is continued from its last timestamp; entries at that boundary
timestamp that were already on the page are dropped. Stream labels become record
attributes; ``service_name`` / ``service`` / ``app`` / ``job`` / ``container`` names the
service; a ``level`` (or ``detected_level``) label sets the level.

An optional ``LOKI_TOKEN`` is sent as ``Authorization: Bearer`` (Grafana Cloud and most
reverse proxies); Loki itself does no authentication.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from core.models import LogRecord
from monitoring.sources.base import (
    Batch,
    LogSourceError,
    RetryPolicy,
    call_with_retries,
    check_http_status,
    level_from_word,
    occurrence_keys,
    translate_http_error,
)
from monitoring.sources.window import EdgeWindow, Entry, unfinished_traceback

QUERY_RANGE_PATH = "/loki/api/v1/query_range"
_SERVICE_LABELS = ("service_name", "service", "app", "job", "container")
_LEVEL_LABELS = ("level", "detected_level", "severity")
#: Safety net: at most this many pages per window (limit x pages lines).
_MAX_PAGES = 1000


def to_ns(moment: datetime) -> int:
    """Nanoseconds since the Unix epoch for an aware datetime (Loki's time format)."""
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def from_ns(value: int) -> datetime:
    """An aware UTC datetime (microseconds) from Unix nanoseconds."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=value // 1000)


class LokiSource:
    """The lines a LogQL query selects.

    Args:
        client: an ``httpx.Client``.
        base_url: Loki's base URL (``LOKI_URL``), e.g. ``http://loki:3100``.
        query: a LogQL log query (``LOKI_QUERY``), e.g. ``{service_name="api"}``.
        token: optional bearer token (``LOKI_TOKEN``).
        page_limit: ``limit`` per request (lines).
        overlap_seconds: how far each window reaches back for late lines.
        lookback_seconds: how far back the very first window goes.
        attempts, backoff_seconds, max_backoff_seconds: retries on 429/5xx/network errors.
        parser_factory: builds a record parser for a service name (default
            :class:`monitoring.parsing.parser.RecordParser`).
    """

    name = "loki"

    def __init__(
        self,
        *,
        client: httpx.Client,
        base_url: str,
        query: str,
        token: str | None = None,
        page_limit: int = 1000,
        overlap_seconds: float = 30.0,
        lookback_seconds: float = 3600.0,
        attempts: int = 4,
        backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 30.0,
        parser_factory: Any = None,
    ) -> None:
        if not query.strip():
            raise LogSourceError(
                'LOKI_QUERY is empty; set a LogQL selector such as {service_name="api"}'
            )
        self.client = client
        self.url = base_url.rstrip("/") + QUERY_RANGE_PATH
        self.query = query
        self.page_limit = page_limit
        self.window = EdgeWindow(overlap_seconds=overlap_seconds, lookback_seconds=lookback_seconds)
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._retry = RetryPolicy(attempts, backoff_seconds, max_backoff_seconds)
        self._parser_factory = parser_factory or _default_parser
        identity = hashlib.blake2b(f"{self.url}\0{query}".encode(), digest_size=6).hexdigest()
        self.cursor_key = f"source:loki:{identity}"

    def fetch(self, cursor: Mapping[str, Any] | None, *, now: datetime) -> Batch:
        """New lines since ``cursor``, oldest first.

        Raises:
            LogSourceAuthError: 401/403 (check ``LOKI_TOKEN``).
            LogSourceUnavailable: unreachable, 429 or 5xx after the retries.
            LogSourceError: a bad query (HTTP 400, Loki's message included) or answer.
        """
        entries, notes = self._read(to_ns(self.window.start(cursor, now)), to_ns(now))
        fresh, new_cursor = self.window.select(
            cursor, entries, end=now, hold=_unfinished_per_stream
        )
        return Batch(records=self._parse(fresh), cursor=new_cursor, notes=notes)

    def check(self) -> str:
        """Run the query over the last minute with ``limit=1``.

        Raises:
            LogSourceError: as :meth:`fetch`.
        """
        end = to_ns(datetime.now(UTC))
        self._page(end - 60 * 1_000_000_000, end, limit=1)
        return f"Loki at {self.url.removesuffix(QUERY_RANGE_PATH)}, query {self.query}"

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()

    # --- internals ----------------------------------------------------------------------------
    def _read(self, start_ns: int, end_ns: int) -> tuple[list[Entry], list[str]]:
        """Every entry in ``[start_ns, end_ns)``, following pages."""
        entries: list[Entry] = []
        for _ in range(_MAX_PAGES):
            page = self._page(start_ns, end_ns, limit=self.page_limit)
            entries.extend(_drop_boundary_repeats(entries, page, start_ns))
            if len(page) < self.page_limit:
                return entries, []
            last_ns = int(page[-1].stamp)
            if last_ns == start_ns:  # a whole page inside one nanosecond: skip past it
                return entries, [
                    f"more than {self.page_limit} Loki lines at one instant "
                    f"({last_ns} ns); some were skipped"
                ]
            start_ns = last_ns
        return entries, [f"Loki window cut after {_MAX_PAGES} pages"]

    def _page(self, start_ns: int, end_ns: int, *, limit: int) -> list[Entry]:
        params = {
            "query": self.query,
            "start": str(start_ns),
            "end": str(end_ns),
            "limit": str(limit),
            "direction": "forward",
        }
        body = call_with_retries(lambda: self._get(params), self._retry)
        if body.get("status") != "success":
            raise LogSourceError(f"Loki answered status {body.get('status')!r}")
        data = body.get("data") or {}
        if data.get("resultType") != "streams":
            raise LogSourceError(
                "LOKI_QUERY must be a log query (it returned "
                f"{data.get('resultType')!r}, not streams)"
            )
        entries = [
            _entry(stream.get("stream") or {}, value)
            for stream in data.get("result") or []
            for value in stream.get("values") or []
        ]
        return sorted(
            (e for e in entries if start_ns <= int(e.stamp) < end_ns), key=lambda e: int(e.stamp)
        )

    def _get(self, params: dict[str, str]) -> dict[str, Any]:
        try:
            response = self.client.get(self.url, params=params, headers=self._headers)
        except httpx.HTTPError as error:
            raise translate_http_error(error, backend="Loki") from error
        if response.status_code == 400:
            raise LogSourceError(f"Loki rejected LOKI_QUERY: {response.text.strip()[:300]}")
        check_http_status(response, backend="Loki", auth_hint="LOKI_TOKEN")
        try:
            return response.json()
        except ValueError as error:
            raise LogSourceError("Loki answered with something that is not JSON") from error

    def _parse(self, entries: list[Entry]) -> list[LogRecord]:
        """Records per stream (a traceback's lines stay together), merged by time."""
        by_stream: dict[str, list[Entry]] = {}
        for entry in entries:
            by_stream.setdefault(json.dumps(entry.extra, sort_keys=True), []).append(entry)
        records: list[LogRecord] = []
        for stream_entries in by_stream.values():
            labels: dict[str, str] = stream_entries[0].extra
            service = next((labels[k] for k in _SERVICE_LABELS if labels.get(k)), None)
            level_word = next((labels[k] for k in _LEVEL_LABELS if labels.get(k)), None)
            parser = self._parser_factory(service)
            for entry in stream_entries:
                records.extend(
                    parser.feed(
                        entry.text,
                        timestamp=entry.timestamp,
                        level=level_from_word(level_word),
                        attributes=dict(labels),
                    )
                )
            records.extend(parser.flush())
        records.sort(key=lambda r: r.timestamp)
        return records


def _entry(labels: Mapping[str, Any], value: Any) -> Entry:
    try:
        stamp, line = str(int(value[0])), str(value[1])
    except (IndexError, TypeError, ValueError) as error:
        raise LogSourceError(f"Loki sent a malformed entry: {str(value)[:200]}") from error
    clean = {str(k): str(v) for k, v in labels.items()}
    return Entry(timestamp=from_ns(int(stamp)), stamp=stamp, text=line, extra=clean)


def _unfinished_per_stream(entries: Sequence[Entry]) -> set[int]:
    """Indices of tracebacks still being written at the end of each stream."""
    by_stream: dict[str, list[int]] = {}
    for index, entry in enumerate(entries):
        by_stream.setdefault(json.dumps(entry.extra, sort_keys=True), []).append(index)
    held: set[int] = set()
    for indices in by_stream.values():
        held |= {indices[i] for i in unfinished_traceback([entries[j] for j in indices])}
    return held


def _drop_boundary_repeats(
    previous: list[Entry], page: list[Entry], boundary_ns: int
) -> list[Entry]:
    """The page without entries at ``boundary_ns`` that the previous page already had."""

    def identities(items: list[Entry]) -> list[str]:
        at_edge = [e for e in items if int(e.stamp) == boundary_ns]
        return occurrence_keys(
            (e.stamp, json.dumps(e.extra, sort_keys=True) + e.text) for e in at_edge
        )

    known = set(identities(previous))
    if not known:
        return page
    edge_keys = iter(identities(page))
    return [e for e in page if int(e.stamp) != boundary_ns or next(edge_keys) not in known]


def _default_parser(service: str | None) -> Any:
    from monitoring.parsing.parser import RecordParser

    return RecordParser(service=service)
