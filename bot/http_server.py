"""Slack bot stage: the HTTP transport on ``$PORT``: Slack events, health, alerts, metrics.

Routes::

    POST /slack/events   handed to Bolt (``App.dispatch``), whose middleware checks
                         ``X-Slack-Signature`` against SLACK_SIGNING_SECRET and refuses a
                         bad signature, or a timestamp more than 5 minutes off, with 401
                         before any listener runs; 404 when Slack is not configured;
                         413 for a body over 1 MiB
    GET  /health         200 with the JSON object the ``health`` callback returns;
                         503 when it says ``"ok": false`` or raises
    POST /webhook/alerts Alertmanager's webhook (version 4 payload): 401 unless
                         ``Authorization: Bearer $MENDBOT_ALERT_TOKEN`` (compared in
                         constant time); 404 when no token is configured; 400 for a body
                         that is not a payload; 413 over 1 MiB; else 200 with what was taken
    GET  /metrics        Prometheus' text format (``prometheus-client``); 404 when off
    anything else        404

Why the standard library's ``ThreadingHTTPServer`` rather than a Bolt adapter: Bolt's
production adapters need a web framework (Flask, FastAPI, ...), a new dependency for two
routes, and ``App.start()``'s development server cannot serve ``/health`` beside it.
A thread per request matches the rest of mendbot (synchronous code on threads), and the
raw body and headers go to ``App.dispatch(BoltRequest(...))`` exactly as Bolt's own WSGI
adapter passes them, so signature checking stays Bolt's.

Use::

    server = serve_http(port=settings.port, slack=bot, health=lambda: {"ok": True}).start()
    ...
    server.stop()
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import urlsplit

from slack_bolt.request import BoltRequest

from bot.slack.app import SlackBot, SlackConfigError

log = logging.getLogger(__name__)

#: The HTTP surface's fixed error strings (JSON ``error`` fields).
HTTP_SLACK_OFF = "Slack is not configured on this instance (set SLACK_BOT_TOKEN)."
HTTP_NOT_FOUND = "not found"
HTTP_TOO_LARGE = "request body too large"
HTTP_HEALTH_FAILED = "health check failed"
HTTP_ALERTS_OFF = "the alert webhook is off on this instance (set MENDBOT_ALERT_TOKEN)"
HTTP_UNAUTHORIZED = "missing or wrong bearer token"
HTTP_ALERTS_FAILED = "the alerts could not be taken; Alertmanager will deliver them again"
EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/health"
ALERTS_PATH = "/webhook/alerts"
METRICS_PATH = "/metrics"
#: Largest request body accepted, in bytes (Slack's payloads are far smaller).
MAX_BODY_BYTES = 1024 * 1024

HealthCheck = Callable[[], dict[str, Any]]
#: Renders the metrics: ``(body, content type)``.
MetricsRenderer = Callable[[], tuple[bytes, str]]


class AlertReceiver(Protocol):
    """What the webhook needs (``monitoring.operations.Operations`` implements it)."""

    @property
    def webhook_enabled(self) -> bool:
        """True when a token is configured."""
        ...

    def authorized(self, authorization: str | None) -> bool:
        """True when the ``Authorization`` header carries the token."""
        ...

    def receive_alerts(self, body: bytes) -> tuple[int, dict[str, Any]]:
        """Take one delivery: ``(HTTP status, JSON answer)``."""
        ...


#: ``(status, headers (name -> values), body)`` as written to the client.
Response = tuple[int, dict[str, Sequence[str]], bytes]


class HttpServer:
    """A threaded HTTP server for Slack's requests and health checks.

    Args:
        host: interface to listen on (``0.0.0.0`` on a platform, ``127.0.0.1`` in tests).
        port: TCP port; 0 picks a free one (see :attr:`port`).
        slack: the bot whose Bolt app handles ``/slack/events``; None = Slack off (404).
        health: returns the ``/health`` JSON object; ``"ok": false`` in it gives 503.
        alerts: takes Alertmanager's deliveries; None = ``/webhook/alerts`` is 404.
        metrics: renders ``/metrics``; None = 404.

    Raises:
        SlackConfigError: ``slack`` does not verify signatures (no SLACK_SIGNING_SECRET).
        OSError: the port is taken or cannot be bound.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        slack: SlackBot | None,
        health: HealthCheck,
        alerts: AlertReceiver | None = None,
        metrics: MetricsRenderer | None = None,
    ) -> None:
        if slack is not None and not slack.verifies_signatures:
            raise SlackConfigError(
                "HTTP mode needs SLACK_SIGNING_SECRET to verify Slack's "
                "requests (or use Socket Mode with SLACK_APP_TOKEN)"
            )
        self.slack = slack
        self.health = health
        self.alerts = alerts
        self.metrics = metrics
        self._httpd = ThreadingHTTPServer((host, port), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port actually listened on."""
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://<host>:<port>`` (``127.0.0.1`` when listening on all interfaces)."""
        host = str(self._httpd.server_address[0])
        return f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{self.port}"

    def start(self) -> HttpServer:
        """Serve in a daemon thread; returns self."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="mendbot-http",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wait for the serving thread, close the socket."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()

    # --- request handling (called on the server's threads) --------------------------------------
    def handle_events(
        self, body: bytes, query: str, headers: dict[str, str | Sequence[str]]
    ) -> Response:
        """Dispatch one Slack request to Bolt; returns ``(status, headers, body)``."""
        if self.slack is None:
            return _json(404, {"ok": False, "error": HTTP_SLACK_OFF})
        request = BoltRequest(
            body=body.decode("utf-8", errors="replace"), query=query, headers=headers
        )
        response = self.slack.app.dispatch(request)
        return response.status, dict(response.headers), response.body.encode("utf-8")

    def handle_health(self) -> Response:
        """Run the health callback; returns ``(status, headers, body)``."""
        try:
            report = dict(self.health())
        except Exception as error:
            log.exception("health check failed")
            return _json(
                503, {"ok": False, "error": HTTP_HEALTH_FAILED, "detail": type(error).__name__}
            )
        return _json(503 if report.get("ok") is False else 200, report)

    def handle_alerts(self, body: bytes, authorization: str | None) -> Response:
        """Check the bearer token, then hand the delivery on; ``(status, headers, body)``."""
        if self.alerts is None or not self.alerts.webhook_enabled:
            return _json(404, {"ok": False, "error": HTTP_ALERTS_OFF})
        if not self.alerts.authorized(authorization):
            status, headers, payload = _json(401, {"ok": False, "error": HTTP_UNAUTHORIZED})
            return status, {**headers, "WWW-Authenticate": ['Bearer realm="mendbot"']}, payload
        try:
            status, answer = self.alerts.receive_alerts(body)
        except Exception:  # 5xx: Alertmanager retries, nothing is lost
            log.exception("taking alerts failed")
            return _json(500, {"ok": False, "error": HTTP_ALERTS_FAILED})
        return _json(status, answer)

    def handle_metrics(self) -> Response:
        """Render the metrics; ``(status, headers, body)``."""
        if self.metrics is None:
            return _json(404, {"ok": False, "error": HTTP_NOT_FOUND})
        body, content_type = self.metrics()
        return 200, {"Content-Type": [content_type]}, body


def serve_http(
    *,
    port: int,
    slack: SlackBot | None,
    health: HealthCheck,
    host: str = "0.0.0.0",
    alerts: AlertReceiver | None = None,
    metrics: MetricsRenderer | None = None,
) -> HttpServer:
    """An :class:`HttpServer` (not started: call ``.start()``) on ``host:port``.

    Raises:
        SlackConfigError: ``slack`` does not verify signatures.
        OSError: the port cannot be bound.
    """
    return HttpServer(
        host=host, port=port, slack=slack, health=health, alerts=alerts, metrics=metrics
    )


def _json(status: int, payload: dict[str, Any]) -> Response:
    body = json.dumps(payload, default=str).encode("utf-8")
    return status, {"Content-Type": ["application/json; charset=utf-8"]}, body


class _Handler(BaseHTTPRequestHandler):
    """One request to :class:`HttpServer`: routes by path, bounds the body, answers."""

    #: Set per server by :func:`_make_handler`.
    mendbot: HttpServer
    protocol_version = "HTTP/1.1"
    server_version = "mendbot"

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == HEALTH_PATH:
            self._send(*self.mendbot.handle_health())
        elif path == METRICS_PATH:
            self._send(*self.mendbot.handle_metrics())
        else:
            self._send(*_json(404, {"ok": False, "error": HTTP_NOT_FOUND}))

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        try:
            length = max(0, int(self.headers.get("Content-Length") or 0))
        except ValueError:
            length = MAX_BODY_BYTES + 1
        if parts.path not in (EVENTS_PATH, ALERTS_PATH):
            self._discard(length)
            self._send(*_json(404, {"ok": False, "error": HTTP_NOT_FOUND}))
            return
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            self._send(*_json(413, {"ok": False, "error": HTTP_TOO_LARGE}))
            return
        body = self.rfile.read(length) if length else b""
        if parts.path == ALERTS_PATH:
            self._send(*self.mendbot.handle_alerts(body, self.headers.get("Authorization")))
            return
        headers: dict[str, str | Sequence[str]] = {
            name.lower(): self.headers.get_all(name) or [] for name in self.headers
        }
        self._send(*self.mendbot.handle_events(body, parts.query, headers))

    def _discard(self, length: int) -> None:
        if 0 < length <= MAX_BODY_BYTES:
            self.rfile.read(length)
        elif length:
            self.close_connection = True

    def _send(self, status: int, headers: dict[str, Any], body: bytes) -> None:
        self.send_response(status)
        for name, values in headers.items():
            if name.lower() == "content-length":
                continue
            for value in values if isinstance(values, (list, tuple)) else [values]:
                self.send_header(name, str(value))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up: its loss
            self.close_connection = True
            log.info("client went away before the answer to %s", self.path)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http %s", format % args)


def _make_handler(server: HttpServer) -> type[BaseHTTPRequestHandler]:
    """The handler class bound to ``server`` (http.server builds one handler per request)."""
    return type("MendbotHandler", (_Handler,), {"mendbot": server})
