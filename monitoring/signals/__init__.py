"""Operational signals: what Alertmanager, health checks and Prometheus say, as anomalies.

    base.py        Signal (an anomaly firing or clearing, with its episode), fingerprints
    alerts.py      Alertmanager's webhook payload (version 4) -> Signals
    health.py      health checks of MENDBOT_HEALTH_URLS -> service_down / resource_pressure
    prometheus.py  error rate, request rate and p95 latency around an incident (PromQL)

Each imports only ``core`` and ``settings``; the orchestration that turns signals into
proposals and actions is :mod:`monitoring.operations`.
"""
