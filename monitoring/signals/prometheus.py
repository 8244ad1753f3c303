"""Operational signals: what Prometheus measured around an incident (PromQL range queries).

With ``PROMETHEUS_URL`` set, each anomaly about to be diagnosed gets, in
``details["metrics"]``, one line per query over ``[first_seen - window, last_seen]``
(``MENDBOT_PROMETHEUS_WINDOW_SECONDS``, 900), e.g.
``error_rate=0.8 (max 2.1, mean 0.9 over 15 min)``: the proposal shows it and the LM reads
it with the anomaly's other figures. Queries go to ``GET /api/v1/query_range`` (Prometheus'
HTTP API); :data:`DEFAULT_QUERIES` assume the common ``http_requests_total`` and
``http_request_duration_seconds`` metrics and may be replaced
(``MENDBOT_PROMETHEUS_QUERIES``, a JSON object of name -> PromQL).

Errors::

    PrometheusError   Prometheus unreachable, or it refused a query (the diagnosis goes on
                      without the figures; the reason is noted)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx

DEFAULT_QUERIES: dict[str, str] = {
    "error_rate": 'sum(rate(http_requests_total{status=~"5.."}[5m]))',
    "request_rate": "sum(rate(http_requests_total[5m]))",
    "p95_latency_seconds": (
        "histogram_quantile(0.95, sum(rate(http_request_duration_seconds_bucket[5m])) by (le))"
    ),
}
#: Points per range query at most (Prometheus refuses more than 11,000).
MAX_POINTS = 300


class PrometheusError(Exception):
    """Prometheus could not be asked, or refused a query; ``str(e)`` says which."""


class PrometheusContext:
    """Range queries around an incident.

    Args:
        client: an ``httpx.Client`` (its timeout applies).
        base_url: ``PROMETHEUS_URL``, e.g. ``http://prometheus:9090``.
        queries: name -> PromQL (default :data:`DEFAULT_QUERIES`).
        window_seconds: how far before the incident to look.
    """

    def __init__(
        self,
        *,
        client: httpx.Client,
        base_url: str,
        queries: Mapping[str, str] | None = None,
        window_seconds: float = 900.0,
    ) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.queries = dict(queries or DEFAULT_QUERIES)
        self.window = timedelta(seconds=window_seconds)

    def around(self, start: datetime, end: datetime) -> dict[str, str]:
        """One summary line per query over ``[start - window, end]``, by name; a query
        with no data says ``no data``.

        Raises:
            PrometheusError: Prometheus unreachable, or it refused a query.
        """
        begin = start - self.window
        end = max(end, begin + timedelta(seconds=60))
        step = max(15.0, (end - begin).total_seconds() / MAX_POINTS)
        points = math.ceil((end - begin).total_seconds() / step)
        begin = end - timedelta(seconds=points * step)  # so that ``end`` is a point itself
        minutes = (end - begin).total_seconds() / 60
        return {
            name: _summary(self._range(query, begin, end, step), minutes)
            for name, query in self.queries.items()
        }

    def _range(self, query: str, begin: datetime, end: datetime, step: float) -> list[float]:
        params = {
            "query": query,
            "start": f"{begin.timestamp():.3f}",
            "end": f"{end.timestamp():.3f}",
            "step": f"{step:g}",
        }
        try:
            response = self.client.get(f"{self.base_url}/api/v1/query_range", params=params)
            body: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise PrometheusError(
                f"Prometheus could not be asked: {error.__class__.__name__}"
            ) from error
        if body.get("status") != "success":
            raise PrometheusError(f"Prometheus refused {query!r}: {str(body.get('error'))[:200]}")
        series = (body.get("data") or {}).get("result") or []
        values = []
        for point in (series[0].get("values") or []) if series else []:
            try:
                value = float(point[1])
            except (TypeError, ValueError, IndexError):
                continue
            if math.isfinite(value):
                values.append(value)
        return values


def _summary(values: list[float], minutes: float) -> str:
    if not values:
        return "no data"
    mean = sum(values) / len(values)
    return f"{values[-1]:.3g} (max {max(values):.3g}, mean {mean:.3g} over {minutes:.0f} min)"
