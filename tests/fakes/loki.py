"""Test support: a fake Grafana Loki answering ``GET /loki/api/v1/query_range``.

It checks the parameters as Loki does (``query`` a stream selector, ``start``/``end``
Unix nanoseconds, ``limit`` a positive integer, ``direction`` forward or backward; a
bad one is HTTP 400 with Loki's plain-text message) and answers from in-memory streams:
entries with ``start <= ts < end`` that the selector's exact label matchers select, the
first ``limit`` in ``direction`` order, grouped by stream, in Loki's JSON shape::

    {"status": "success", "data": {"resultType": "streams", "result": [
        {"stream": {"service_name": "api"}, "values": [["<ns>", "<line>"], ...]}]}}

Malformed parameters are recorded in :attr:`FakeLoki.invalid`. With ``token`` set, a
request without ``Authorization: Bearer <token>`` gets HTTP 401.
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime
from typing import Any

from tests.fakes.server import FakeServer, Reply, Request

QUERY_RANGE = "/loki/api/v1/query_range"
_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*')


def ns(moment: datetime) -> int:
    """Unix nanoseconds of an aware datetime."""
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


class FakeLoki:
    """Loki's query_range endpoint over streams held in memory.

    Args:
        token: when set, the bearer token every request must carry.
    """

    def __init__(self, *, token: str | None = None) -> None:
        self.token = token
        self.streams: dict[tuple[tuple[str, str], ...], list[tuple[int, str]]] = {}
        self.invalid: list[str] = []
        self._failures: list[Reply] = []
        self._lock = threading.Lock()
        self.server = FakeServer()
        self.server.route("GET", QUERY_RANGE, self._handle)

    def start(self) -> FakeLoki:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> FakeLoki:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Loki's base URL (``LOKI_URL``)."""
        return self.server.url

    def push(self, labels: dict[str, str], entries: list[tuple[int | datetime, str]]) -> None:
        """Add ``(timestamp, line)`` entries (ns or aware datetime) to the stream ``labels``."""
        key = tuple(sorted(labels.items()))
        with self._lock:
            stream = self.streams.setdefault(key, [])
            stream.extend((t if isinstance(t, int) else ns(t), line) for t, line in entries)

    def fail_next(self, reply: Reply, times: int = 1) -> None:
        """Answer the next ``times`` requests with ``reply``."""
        with self._lock:
            self._failures.extend([reply] * times)

    def requests(self) -> list[dict[str, str]]:
        """The query parameters of every request, in order (last value per name)."""
        return [{k: v[-1] for k, v in r.query.items()} for r in self.server.received(QUERY_RANGE)]

    def _handle(self, request: Request) -> Reply:
        with self._lock:
            if self._failures:
                return self._failures.pop(0)
        if self.token and request.header("authorization") != f"Bearer {self.token}":
            return Reply.text("no org id\n", 401)
        try:
            params = _params(request.query)
        except ValueError as error:
            self.invalid.append(str(error))
            return Reply.text(f"{error}\n", 400)
        return Reply.json(
            {
                "status": "success",
                "data": {"resultType": "streams", "result": self._select(**params)},
            }
        )

    def _select(
        self, *, matchers: dict[str, str], start: int, end: int, limit: int, direction: str
    ) -> list[dict[str, Any]]:
        with self._lock:
            hits = [
                (t, labels, line)
                for labels, stream in self.streams.items()
                if all(dict(labels).get(k) == v for k, v in matchers.items())
                for t, line in stream
                if start <= t < end
            ]
        hits.sort(key=lambda hit: hit[0], reverse=direction == "backward")
        grouped: dict[tuple[tuple[str, str], ...], list[list[str]]] = {}
        for t, labels, line in hits[:limit]:
            grouped.setdefault(labels, []).append([str(t), line])
        return [{"stream": dict(labels), "values": values} for labels, values in grouped.items()]


def _params(query: dict[str, list[str]]) -> dict[str, Any]:
    """Loki's parameter checks; raises ValueError with Loki-like messages."""

    def one(name: str, default: str | None = None) -> str:
        values = query.get(name)
        if not values:
            if default is None:
                raise ValueError(f"missing {name}")
            return default
        return values[-1]

    selector = one("query").strip()
    if not (selector.startswith("{") and selector.endswith("}")):
        raise ValueError(f"parse error : syntax error: unexpected input in {selector!r}")
    matchers = dict(
        _MATCHER.fullmatch(part).groups()  # type: ignore[union-attr]
        for part in selector[1:-1].split(",")
        if _MATCHER.fullmatch(part)
    )
    if len(matchers) != len([p for p in selector[1:-1].split(",") if p.strip()]):
        raise ValueError(f"parse error : only exact label matchers are faked: {selector!r}")
    try:
        start, end, limit = int(one("start")), int(one("end")), int(one("limit", "100"))
    except ValueError as error:
        raise ValueError(f"invalid parameter: {error}") from error
    if start > 10**20 or start < 10**15:
        raise ValueError("start must be Unix nanoseconds")
    direction = one("direction", "backward").lower()
    if direction not in ("forward", "backward") or limit <= 0 or end < start:
        raise ValueError("invalid direction, limit or range")
    return {
        "matchers": matchers,
        "start": start,
        "end": end,
        "limit": limit,
        "direction": direction,
    }
