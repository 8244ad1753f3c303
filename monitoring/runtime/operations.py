"""Composition root, the operations half: signals in (alerts, health checks), actions out."""

from __future__ import annotations

import httpx

from fixes.actions.runbook import load_runbook
from monitoring.operations import Operations
from monitoring.pipeline import CyclePipeline
from monitoring.runtime.actions import trust_policy
from monitoring.runtime.root import Runtime
from monitoring.signal_proposals import SignalProposer
from monitoring.signals.health import HealthWatch
from settings import secret_value


def build_operations(
    runtime: Runtime, pipeline: CyclePipeline, *, monitoring: bool = True
) -> Operations:
    """The operations half over the runtime: the alert webhook (``MENDBOT_ALERT_TOKEN``),
    health checks (``MENDBOT_HEALTH_*``, thresholds), the runbook under the trust policy,
    and the action queue. Without log ``monitoring`` (no source), its queue job also posts
    again what Slack refused, as the log cycles otherwise do."""
    settings = runtime.settings
    self_names = {settings.self_service_id, settings.railway_service_name, settings.self_container}
    proposer = SignalProposer(
        runbook=runtime.runbook or load_runbook(None),
        trust=trust_policy(settings),
        watched_service_id=settings.railway_service_id,
        self_names=frozenset(n for n in self_names if n),
        recent=runtime.recent,
    )
    health = HealthWatch(
        state=runtime.state,
        slow_seconds=settings.health_slow_seconds,
        memory_percent=settings.memory_threshold_percent,
        disk_percent=settings.disk_threshold_percent,
        failures_to_fire=settings.health_failures,
    )
    metrics = runtime.metrics
    return Operations(
        on_signal=(lambda s: metrics.signal(source=s.source, state=s.state, kind=s.anomaly.kind))
        if metrics
        else None,
        pipeline=pipeline,
        proposer=proposer,
        decisions=runtime.decisions,
        store=runtime.store,
        state=runtime.state,
        notifier=lambda: runtime.notifier,
        alert_token=secret_value(settings.alert_token),
        health=health if settings.health_urls else None,
        health_urls=settings.health_urls,
        health_client=httpx.Client(timeout=settings.health_timeout_seconds),
        health_interval_seconds=settings.health_interval_seconds,
        health_failing_interval_seconds=settings.health_failing_interval_seconds,
        retry_unposted=not monitoring,
    )
