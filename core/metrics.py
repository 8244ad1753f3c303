"""Shared contracts: mendbot's own health as Prometheus metrics, on a registry of its own.

``GET /metrics`` (:mod:`bot.http_server`) renders :meth:`Metrics.render`: Prometheus' text
format, through ``prometheus-client``. The registry is the one given (tests pass their
own; the process makes one), never the library's global default, so two instances in one
process do not mix. What is measured, and by whom::

    mendbot_cycles_total{outcome}                   counter    the monitor, per cycle
    mendbot_cycle_duration_seconds                  histogram  the monitor
    mendbot_records_read_total                      counter    the monitor
    mendbot_anomalies_total{kind}                   counter    the monitor, the signals
    mendbot_signals_total{source,state}             counter    alerts and health checks
    mendbot_lm_requests_total{outcome}              counter    the diagnoser
    mendbot_lm_tokens_total{direction}              counter    the diagnoser (usage)
    mendbot_lm_request_duration_seconds             histogram  the diagnoser
    mendbot_slack_calls_total{method,outcome}       counter    the Slack notifier
    mendbot_proposals{status}                       gauge      the database, when scraped
    mendbot_actions_total{kind,result}              counter    the database, when scraped

The last two are read from the database at scrape time (a restart loses nothing); the
rest count since the process started, as Prometheus counters do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

#: Buckets of a monitoring cycle, in seconds.
CYCLE_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
#: Buckets of one LM request, in seconds.
LM_BUCKETS = (0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 60, 120)


class Metrics:
    """mendbot's metrics on ``registry`` (default: a new one).

    Args:
        registry: where the metrics live; pass one per process (tests: one per test).
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.cycles = Counter("mendbot_cycles", "Monitoring cycles run.", ["outcome"], registry=r)
        self.cycle_seconds = Histogram(
            "mendbot_cycle_duration_seconds",
            "Duration of a monitoring cycle.",
            buckets=CYCLE_BUCKETS,
            registry=r,
        )
        self.records = Counter("mendbot_records_read", "Log records read.", registry=r)
        self.anomalies = Counter("mendbot_anomalies", "Anomalies found.", ["kind"], registry=r)
        self.signals = Counter(
            "mendbot_signals", "Operational signals taken.", ["source", "state"], registry=r
        )
        self.lm_requests = Counter(
            "mendbot_lm_requests", "Requests to the diagnosis LM.", ["outcome"], registry=r
        )
        self.lm_tokens = Counter(
            "mendbot_lm_tokens", "LM tokens, as the LM reported them.", ["direction"], registry=r
        )
        self.lm_seconds = Histogram(
            "mendbot_lm_request_duration_seconds",
            "Duration of one LM request.",
            buckets=LM_BUCKETS,
            registry=r,
        )
        self.slack_calls = Counter(
            "mendbot_slack_calls", "Slack Web API calls.", ["method", "outcome"], registry=r
        )

    # --- what the parts report ------------------------------------------------------------------
    def cycle(
        self, *, seconds: float, ok: bool, records: int = 0, kinds: list[str] | None = None
    ) -> None:
        """One monitoring cycle: its duration, outcome, records read and anomaly kinds."""
        self.cycles.labels(outcome="ok" if ok else "failed").inc()
        self.cycle_seconds.observe(seconds)
        self.records.inc(records)
        for kind in kinds or []:
            self.anomalies.labels(kind=kind).inc()

    def signal(self, *, source: str, state: str, kind: str) -> None:
        """One alert or health-check signal (a firing one counts as an anomaly of its kind)."""
        self.signals.labels(source=source, state=state).inc()
        if state == "firing":
            self.anomalies.labels(kind=kind).inc()

    def lm(
        self, *, requests: int, input_tokens: int, output_tokens: int, seconds: float, ok: bool
    ) -> None:
        """LM requests made for one diagnosis, their tokens and their total duration."""
        self.lm_requests.labels(outcome="ok" if ok else "failed").inc(max(requests, 1))
        self.lm_tokens.labels(direction="input").inc(input_tokens)
        self.lm_tokens.labels(direction="output").inc(output_tokens)
        for _ in range(max(requests, 1)):
            self.lm_seconds.observe(seconds / max(requests, 1))

    def slack_call(self, method: str, *, ok: bool) -> None:
        """One Slack Web API call and whether it worked."""
        self.slack_calls.labels(method=method, outcome="ok" if ok else "failed").inc()

    def watch_database(
        self,
        *,
        proposals: Callable[[], Mapping[str, int]],
        actions: Callable[[], Mapping[tuple[str, str], int]] | None = None,
    ) -> None:
        """Read proposals by status (and actions by kind and result) at each scrape."""
        self.registry.register(_DatabaseCollector(proposals, actions))

    # --- exposition -----------------------------------------------------------------------------
    def render(self) -> tuple[bytes, str]:
        """``(body, content type)`` in Prometheus' text format."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _DatabaseCollector(Collector):
    """Counts read from the database when Prometheus scrapes."""

    def __init__(
        self,
        proposals: Callable[[], Mapping[str, int]],
        actions: Callable[[], Mapping[tuple[str, str], int]] | None,
    ) -> None:
        self.proposals = proposals
        self.actions = actions

    def describe(self) -> list[Metric]:
        return []  # no I/O when registered: only collect() reads the database

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily("mendbot_proposals", "Proposals by status.", labels=["status"])
        for status, count in sorted(_safely(self.proposals).items()):
            gauge.add_metric([status], count)
        yield gauge
        if self.actions is None:
            return
        counter = CounterMetricFamily(
            "mendbot_actions", "Operational actions by kind and result.", labels=["kind", "result"]
        )
        for (kind, result), count in sorted(_safely(self.actions).items()):
            counter.add_metric([kind, result], count)
        yield counter


def _safely(read: Callable[[], Mapping[Any, int]]) -> Mapping[Any, int]:
    try:
        return read()
    except Exception:  # a scrape while the database is down shows nothing, not a 500
        return {}
