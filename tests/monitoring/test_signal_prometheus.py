"""Prometheus context from a real Prometheus scraping a small test service, and the
pipeline handing the figures to the diagnosis (and so to the LM's anomaly description)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from monitoring.signals.prometheus import PrometheusContext, PrometheusError
from tests.fakes.prometheus_stack import Prometheus
from tests.fakes.server import FakeServer, Reply

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


class Service:
    """A service whose /metrics counts requests, a tenth of them 500s, growing per scrape."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.scrapes = 0

    def metrics(self, _request) -> Reply:
        with self.lock:
            self.scrapes += 1
            n = self.scrapes
        text = (
            "# TYPE http_requests_total counter\n"
            f'http_requests_total{{status="200"}} {90 * n}\n'
            f'http_requests_total{{status="500"}} {10 * n}\n'
            "# TYPE http_request_duration_seconds histogram\n"
            f'http_request_duration_seconds_bucket{{le="0.1"}} {50 * n}\n'
            f'http_request_duration_seconds_bucket{{le="0.5"}} {90 * n}\n'
            f'http_request_duration_seconds_bucket{{le="+Inf"}} {100 * n}\n'
            f"http_request_duration_seconds_sum {20 * n}\n"
            f"http_request_duration_seconds_count {100 * n}\n"
        )
        return Reply(200, text.encode(), {"Content-Type": "text/plain; version=0.0.4"})


def test_figures_around_an_incident_from_a_real_prometheus(tmp_path) -> None:
    service = Service()
    with FakeServer() as app:
        app.route("GET", "/metrics", service.metrics)
        target = app.url.removeprefix("http://")
        with Prometheus.running(tmp_path, targets={"app": target}) as prometheus:
            prometheus.wait_for('rate(http_requests_total{status="500"}[1m]) > 0')
            context = PrometheusContext(
                client=httpx.Client(timeout=5), base_url=prometheus.url, window_seconds=120
            )
            now = datetime.now(UTC)
            figures = context.around(now - timedelta(seconds=5), now)
    assert set(figures) == {"error_rate", "request_rate", "p95_latency_seconds"}
    for name, line in figures.items():
        assert line != "no data", (name, figures)
        assert "max" in line and "mean" in line
    assert float(figures["error_rate"].split()[0]) > 0


def test_a_prometheus_that_refuses_a_query_is_an_error_with_the_reason() -> None:
    with FakeServer() as fake:
        fake.route(
            "GET",
            "/api/v1/query_range",
            Reply.json({"status": "error", "errorType": "bad_data", "error": "parse error"}, 400),
        )
        context = PrometheusContext(
            client=httpx.Client(timeout=5), base_url=fake.url, queries={"x": "rate(("}
        )
        now = datetime.now(UTC)
        with pytest.raises(PrometheusError, match="parse error"):
            context.around(now, now)
    closed = PrometheusContext(client=httpx.Client(timeout=1), base_url=fake.url)
    with pytest.raises(PrometheusError, match="could not be asked"):
        closed.around(now, now)
