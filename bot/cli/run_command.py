"""Process entry point: ``mendbot run``, the long-running bot (monitor, Slack app, /health).

Start-up order: settings -> :func:`monitoring.runtime.build_runtime` (crash recovery first) ->
the Slack bot when ``SLACK_BOT_TOKEN`` and ``SLACK_CHANNEL`` are set (its notifier becomes
the runtime's) -> the proactive monitor when a log source is configured (otherwise
monitoring is off, and Slack and ``/health`` are still served) -> the HTTP server on
``$PORT`` (``/slack/events`` unless Socket Mode, and ``GET /health``) -> Socket Mode when
``SLACK_APP_TOKEN`` is set -> wait for SIGTERM or SIGINT -> stop in reverse order, letting
a running cycle and a running apply finish. The operations half (the alert webhook, health
checks, the action queue: :func:`monitoring.runtime.build_operations`) starts beside the
monitor; the summary says which parts of it are on.

Exit codes: 0 after a clean stop, 2 when the configuration or a start-up step is wrong
(the message says which variable).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from bot.cli.support import err, out
from core.text import printable
from settings import Settings

EXIT_OK = 0
EXIT_USAGE = 2

log = logging.getLogger("mendbot.run")


# --- the words shown at start (this command's whole vocabulary) ------------------------------
def summary_lines(
    settings: Settings, *, source: str | None, source_note: str, transport: str, warnings: list[str]
) -> list[str]:
    """The start-up summary: source, interval, Slack transport, approvers, repository."""
    monitoring = (
        f"{source} logs every {settings.monitor_interval_seconds:g} s ({source_note})"
        if source
        else "off (no log source configured: set RAILWAY_*, LOKI_URL, "
        "MENDBOT_LOG_FILE or MENDBOT_LOG_COMMAND)"
    )
    approvers = ", ".join(settings.slack_approvers) or "nobody"
    repository = settings.target_repo_path or "none (set TARGET_REPO_PATH to apply fixes)"
    lines = [
        "mendbot is running",
        f"  monitoring:  {monitoring}",
        f"  slack:       {transport}",
        f"  approvers:   {approvers}",
        f"  repository:  {repository}",
        f"  delivery:    {_delivery(settings)}",
        f"  health:      http://0.0.0.0:{settings.port}/health",
        *operations_lines(settings),
    ]
    if settings.delivery == "pull_request" and not source:
        warnings = [*warnings, unfollowed_pull_requests_warning()]
    return lines + [f"  warning: {w}" for w in warnings]


def _delivery(settings: Settings) -> str:
    if settings.delivery == "pull_request":
        return (
            f"pull requests from mendbot/<fix id> into {settings.git_branch} on "
            f"{settings.github_repository}"
        )
    return f"push to {settings.git_remote}/{settings.git_branch}"


def unfollowed_pull_requests_warning() -> str:
    """Start-up warning: pull requests are followed by the monitoring cycles, and there are
    none without a log source."""
    return (
        "MENDBOT_DELIVERY=pull_request, but monitoring is off: pull requests are opened, "
        "yet merges and closes are only noticed by monitoring cycles (configure a log source)"
    )


def operations_lines(settings: Settings) -> list[str]:
    """The summary lines of the operations half: alerts, health checks, actions, metrics."""
    alerts = (
        f"POST http://0.0.0.0:{settings.port}/webhook/alerts (Authorization: Bearer)"
        if settings.alert_token
        else "off (no MENDBOT_ALERT_TOKEN: /webhook/alerts answers 404)"
    )
    checks = (
        f"{len(settings.health_urls)} URL(s) every {settings.health_interval_seconds:g} s "
        f"({settings.health_failing_interval_seconds:g} s while failing)"
        if settings.health_urls
        else "off (set MENDBOT_HEALTH_URLS)"
    )
    trust = ", ".join(f"{k}={v}" for k, v in sorted(settings.trust.items())) or "every kind ask"
    actions = (
        "off (MENDBOT_REMEDIATION=off: report only)"
        if settings.remediation == "off"
        else f"{settings.remediation} ({trust}; runbook {settings.runbook_path or 'default'})"
    )
    return [
        f"  alerts:      {alerts}",
        f"  checks:      {checks}",
        f"  actions:     {actions}",
        f"  prometheus:  {settings.prometheus_url or 'off (set PROMETHEUS_URL)'}",
        f"  metrics:     http://0.0.0.0:{settings.port}/metrics",
    ]


def source_failed_warning(error: Exception) -> str:
    """Start-up warning when the first check of the log source fails (the bot still runs)."""
    return (
        f"the log source does not answer yet ({error}); monitoring keeps retrying and "
        "alerts in Slack after 3 failed cycles"
    )


def watching_itself_warning(service: str) -> str:
    """Start-up warning when mendbot, on Railway, is pointed at its own service."""
    return (
        f"mendbot is watching its own Railway service ({service}): Railway sets "
        "RAILWAY_SERVICE_ID and RAILWAY_ENVIRONMENT_ID to mendbot's own ids; set them in "
        "mendbot's variables to the ids of the service to watch"
    )


def _transport(settings: Settings) -> str:
    if not settings.slack_enabled:
        return "off (set SLACK_BOT_TOKEN and SLACK_CHANNEL to post proposals)"
    if settings.slack_app_token is not None:
        return f"Socket Mode, channel {settings.slack_channel}"
    return f"HTTP events at :{settings.port}/slack/events, channel {settings.slack_channel}"


# --- the command ------------------------------------------------------------------------------
def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the bot until SIGTERM/SIGINT; returns the exit code."""
    _configure_logging()
    stop = threading.Event()
    with ExitStack() as stack:
        try:
            parts = _start(settings, stack)
        except _StartError as error:
            err(f"mendbot: {error}")
            return EXIT_USAGE
        for line in parts:
            out(line)
        _wait_for_signal(stop)
        log.info("stopping")
    out("mendbot stopped")
    return EXIT_OK


class _StartError(Exception):
    """A start-up step failed; the message is for the person starting the bot."""


def _start(settings: Settings, stack: ExitStack) -> list[str]:
    """Start every part, registering its stop on ``stack``; returns the summary lines.

    Raises:
        _StartError: a part could not start (configuration, Slack, port, database).
    """
    from sqlalchemy.exc import SQLAlchemyError

    from bot.cli.messages import database_error
    from bot.slack.config import configured_notifier
    from core.metrics import Metrics
    from fixes.persistence.errors import DatabaseUnusable
    from monitoring.runtime import build_monitor, build_operations, build_runtime
    from monitoring.sources import LogSourceError

    metrics = Metrics()
    notifier = configured_notifier(settings, metrics=metrics)
    try:
        runtime = build_runtime(settings, notifier=notifier, metrics=metrics)
    except (DatabaseUnusable, SQLAlchemyError) as error:
        raise _StartError(database_error(error).removeprefix("mendbot: ")) from error
    except Exception as error:
        raise _StartError(f"cannot start: {type(error).__name__}: {error}") from error
    stack.callback(runtime.close)
    try:
        monitor = build_monitor(runtime)
    except LogSourceError as error:
        raise _StartError(f"log source: {error}") from error
    operations = build_operations(runtime, monitor.pipeline, monitoring=monitor.source is not None)
    bot, warnings = _slack_bot(settings, runtime, monitor, stack)
    _serve(settings, bot, monitor.health, stack, operations, metrics)
    source_note = _check_source(monitor.source, settings, warnings) if monitor.source else ""
    monitor.start()
    stack.callback(monitor.stop)
    operations.start()
    stack.callback(operations.stop)
    source = monitor.source.name if monitor.source else None
    return summary_lines(
        settings,
        source=source,
        source_note=source_note,
        transport=_transport(settings),
        warnings=warnings,
    )


def _check_source(source: Any, settings: Settings, warnings: list[str]) -> str:
    """The source's own description, or "not reachable" (with a warning) when its cheap
    check fails: a failing source never stops the bot."""
    from monitoring.sources import LogSourceError

    try:
        note = source.check()
    except LogSourceError as error:
        warnings.append(source_failed_warning(error))
        return "not reachable yet"
    watched = getattr(source.source, "service_name", None)
    # Railway injects the running service's own name; equal names mean a self-watch.
    if watched and watched == settings.railway_service_name:
        warnings.append(watching_itself_warning(watched))
    return note


def _slack_bot(
    settings: Settings, runtime: Any, monitor: Any, stack: ExitStack
) -> tuple[Any, list[str]]:
    """The Slack bot (None when Slack is off) and the start-up warnings about deciders."""
    if not settings.slack_enabled:
        return None, ["Slack is off: proposals are only stored (see `mendbot fixes list`)"]
    from bot.slack.app import SlackBot, SlackBotError, startup_warnings
    from bot.slack.config import slack_config

    config = slack_config(settings)
    try:
        bot = SlackBot(config=config, runtime=runtime, monitor=monitor)
    except SlackBotError as error:
        raise _StartError(f"Slack: {error}") from error
    stack.callback(bot.close)
    if bot.socket_mode:
        from bot.slack.socket_mode import start_socket_mode

        try:
            connection = start_socket_mode(bot)
        except SlackBotError as error:
            raise _StartError(f"Slack Socket Mode: {error}") from error
        stack.callback(connection.stop)
    return bot, startup_warnings(config)


def _serve(
    settings: Settings,
    bot: Any,
    health: Callable[[], dict[str, Any]],
    stack: ExitStack,
    operations: Any,
    metrics: Any,
) -> None:
    from bot.http_server import serve_http
    from bot.slack.app import SlackBotError

    try:
        server = serve_http(
            port=settings.port,
            slack=None if bot is None or bot.socket_mode else bot,
            health=health,
            alerts=operations,
            metrics=metrics.render,
        ).start()
    except (OSError, SlackBotError) as error:
        raise _StartError(f"cannot serve HTTP on port {settings.port}: {error}") from error
    stack.callback(server.stop)


def _wait_for_signal(stop: threading.Event) -> None:
    """Block until SIGTERM or SIGINT (the platform's stop, Ctrl-C)."""

    def handle(signum: int, _frame: Any) -> None:
        log.info("received %s", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stop.wait(1.0):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class PrintableFormatter(logging.Formatter):
    """A log formatter whose lines are :func:`~core.text.printable`: a message or a
    traceback quoting a log line or an LM answer never writes a control sequence to the
    terminal or the platform's log viewer (which renders ANSI)."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record))


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(PrintableFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    for noisy in ("LiteLLM", "litellm", "httpx", "apscheduler", "slack_bolt", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
