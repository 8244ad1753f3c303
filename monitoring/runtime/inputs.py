"""Composition root, what a cycle reads: the log source, Prometheus' figures, the diagnoser."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from core.metrics import Metrics
from core.models import Anomaly
from core.state import KeyValueStore
from monitoring.diagnosis import Diagnoser
from monitoring.diagnosis.config import LMConfig
from monitoring.runtime.applying import edit_policy
from monitoring.signals.prometheus import PrometheusContext, PrometheusError
from monitoring.sources import (
    CommandSource,
    CursoredSource,
    FileSource,
    LogSource,
    LogSourceError,
    LokiSource,
    RailwaySource,
)
from settings import Settings, process_environment, secret_value

#: Seconds each request to a log source's HTTP API may take.
SOURCE_HTTP_TIMEOUT_SECONDS = 30.0
#: Seconds each request to Prometheus may take.
PROMETHEUS_HTTP_TIMEOUT_SECONDS = 20.0


def lm_config(settings: Settings) -> LMConfig | None:
    """The diagnosis LM from ``MENDBOT_LM``, ``OPENAI_API_KEY``, ``OPENAI_BASE_URL``,
    ``MENDBOT_LM_TIMEOUT_SECONDS``, ``MENDBOT_LM_MAX_RETRIES``, ``MENDBOT_LM_MAX_TOKENS`` and
    ``MENDBOT_LM_ADAPTER``; None when no model is set."""
    if not settings.lm:
        return None
    return LMConfig(
        model=settings.lm,
        api_key=secret_value(settings.openai_api_key),
        base_url=settings.openai_base_url,
        timeout_seconds=settings.lm_timeout_seconds,
        max_retries=settings.lm_max_retries,
        max_tokens=settings.lm_max_tokens,
        adapter=settings.lm_adapter,
    )


def build_diagnoser(
    settings: Settings,
    *,
    state: KeyValueStore | None = None,
    metrics: Metrics | None = None,
    program: Callable[[], Any] | None = None,
) -> Diagnoser:
    """The diagnoser: the LM when configured (else offline playbooks), the repository's
    code as evidence, at most ``MENDBOT_MAX_DIAGNOSES_PER_CYCLE`` LM diagnoses a cycle.

    Args:
        settings: the process settings.
        state: keeps the LM diagnosis cache across restarts; None keeps it in memory.
        metrics: counts LM requests, tokens and seconds.
        program: the compiled diagnosis program to use (:class:`ProgramLoader`); None = the
            uncompiled one.
    """
    diagnoser = Diagnoser(
        lm=lm_config(settings),
        repo_path=settings.target_repo_path,
        max_lm_diagnoses=settings.max_diagnoses_per_cycle,
        state=state,
        policy=edit_policy(settings),
        program=program,
        lm_only=settings.lm_only,
    )
    if metrics is not None:
        diagnoser.on_lm = lambda requests, tokens_in, tokens_out, seconds, ok: metrics.lm(
            requests=requests,
            input_tokens=tokens_in,
            output_tokens=tokens_out,
            seconds=seconds,
            ok=ok,
        )
    return diagnoser


def _railway(settings: Settings) -> LogSource:
    if not (settings.railway_environment_id and settings.railway_service_id):
        raise LogSourceError("Railway needs RAILWAY_ENVIRONMENT_ID and RAILWAY_SERVICE_ID")
    return RailwaySource(
        client=httpx.Client(timeout=SOURCE_HTTP_TIMEOUT_SECONDS),
        api_url=settings.railway_api_url,
        environment_id=settings.railway_environment_id,
        service_id=settings.railway_service_id,
        api_token=secret_value(settings.railway_api_token),
        project_token=secret_value(settings.railway_token),
    )


def _loki(settings: Settings) -> LogSource:
    if not settings.loki_url:
        raise LogSourceError("the Loki source needs LOKI_URL")
    return LokiSource(
        client=httpx.Client(timeout=SOURCE_HTTP_TIMEOUT_SECONDS),
        base_url=settings.loki_url,
        query=settings.loki_query or "",
        token=secret_value(settings.loki_token),
    )


def _file(settings: Settings) -> LogSource:
    if settings.log_file is None:
        raise LogSourceError("the file source needs MENDBOT_LOG_FILE")
    return FileSource(path=settings.log_file)


def _command(settings: Settings) -> LogSource:
    return CommandSource(command=settings.log_command or "", environment=process_environment())


#: Every log source that ``MENDBOT_LOG_SOURCE`` (or ``Settings.effective_log_source``) can
#: choose, with the builder that reads its variables.
SOURCES: dict[str, Callable[[Settings], LogSource]] = {
    "railway": _railway,
    "loki": _loki,
    "file": _file,
    "command": _command,
}


def build_source(settings: Settings, *, state: KeyValueStore) -> CursoredSource | None:
    """The configured log source with its cursor in ``state``, or None when none is set.

    Returns:
        A :class:`~monitoring.sources.CursoredSource` (``fetch()`` / ``commit(batch)`` /
        ``check()`` / ``close()``), or None for ``"none"``.

    Raises:
        LogSourceError: the chosen source lacks a setting (the message names it).
    """
    name = settings.effective_log_source
    if name == "none":
        return None
    return CursoredSource(SOURCES[name](settings), state=state)


def prometheus_context(settings: Settings) -> Callable[[Anomaly], Anomaly] | None:
    """Adds Prometheus' figures around an anomaly to its ``details["metrics"]``
    (``PROMETHEUS_URL``, ``MENDBOT_PROMETHEUS_QUERIES``, ``MENDBOT_PROMETHEUS_WINDOW_SECONDS``);
    None without ``PROMETHEUS_URL``. A Prometheus failure leaves ``metrics_error`` instead."""
    if not settings.prometheus_url:
        return None
    context = PrometheusContext(
        client=httpx.Client(timeout=PROMETHEUS_HTTP_TIMEOUT_SECONDS),
        base_url=settings.prometheus_url,
        queries=settings.prometheus_queries,
        window_seconds=settings.prometheus_window_seconds,
    )

    def enrich(anomaly: Anomaly) -> Anomaly:
        try:
            figures: dict[str, object] = {
                "metrics": context.around(anomaly.first_seen, anomaly.last_seen)
            }
        except PrometheusError as error:
            figures = {"metrics_error": str(error)}
        return anomaly.model_copy(update={"details": {**anomaly.details, **figures}})

    return enrich
