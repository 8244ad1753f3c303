"""Test support: a fake Docker Engine API on a unix socket, as ``dockerd`` serves it.

It speaks HTTP/1.1 over an ``AF_UNIX`` socket (the docker SDK's ``unix://`` transport) and
answers the requests mendbot's container restart makes: ``GET /_ping``, ``GET /version``
(API version negotiation), ``GET /v<api>/containers/{id}/json`` (by id, id prefix or name,
404 ``{"message": "No such container: x"}`` otherwise) and ``POST
/v<api>/containers/{id}/restart?t=N`` (204). Every request is recorded; a container can be
told to fail its restart with 500, and :meth:`FakeDockerEngine.stop` makes the socket
disappear (an engine that is down). The host's real Docker is never touched.
"""

from __future__ import annotations

import contextlib
import json
import re
import socketserver
import tempfile
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

API_VERSION = "1.43"
_PATH = re.compile(r"^(?:/v[0-9.]+)?(/.*)$")


@dataclass
class FakeContainer:
    """A container: its full id, name, host name, and how often it was restarted."""

    id: str
    name: str
    hostname: str
    restarts: int = 0
    fail_restart: bool = False
    restart_args: list[dict[str, list[str]]] = field(default_factory=list)


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class FakeDockerEngine:
    """A Docker Engine on ``unix://<tmp>/docker.sock`` with the given containers."""

    def __init__(self, containers: list[FakeContainer] | None = None) -> None:
        self.containers = list(containers or [])
        self.requests: list[tuple[str, str]] = []
        self._dir = tempfile.mkdtemp(prefix="fake-docker-")
        self.socket_path = Path(self._dir) / "docker.sock"
        self._lock = threading.Lock()
        self._server = _UnixServer(str(self.socket_path), self._handler())
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``DOCKER_HOST`` for this engine."""
        return f"unix://{self.socket_path}"

    def start(self) -> FakeDockerEngine:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop answering and remove the socket (the engine is down)."""
        self._server.shutdown()
        self._server.server_close()
        self.socket_path.unlink(missing_ok=True)

    def __enter__(self) -> FakeDockerEngine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.socket_path.exists():
            self.stop()

    def find(self, ref: str) -> FakeContainer | None:
        """The container ``ref`` names: full id, a unique id prefix, or its name."""
        ref = ref.lstrip("/")
        for container in self.containers:
            if ref in (container.id, container.name) or (
                len(ref) >= 4 and container.id.startswith(ref)
            ):
                return container
        return None

    def _answer(self, method: str, raw_path: str) -> tuple[int, Any]:
        parts = urlsplit(raw_path)
        path = _PATH.match(parts.path)
        route = path.group(1) if path else parts.path
        with self._lock:
            self.requests.append((method, raw_path))
        if route == "/_ping":
            return 200, "OK"
        if route == "/version":
            return 200, {"ApiVersion": API_VERSION, "MinAPIVersion": "1.24", "Version": "24.0.7"}
        match = re.match(r"^/containers/([^/]+)/(json|restart)$", route)
        if not match:
            return 404, {"message": f"page not found: {route}"}
        container = self.find(match.group(1))
        if container is None:
            return 404, {"message": f"No such container: {match.group(1)}"}
        if match.group(2) == "json" and method == "GET":
            return 200, {
                "Id": container.id,
                "Name": "/" + container.name,
                "Config": {"Hostname": container.hostname},
                "State": {"Status": "running", "Running": True},
            }
        if match.group(2) == "restart" and method == "POST":
            if container.fail_restart:
                return 500, {"message": "cannot restart container: device busy"}
            with self._lock:
                container.restarts += 1
            return 204, None
        return 405, {"message": "method not allowed"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        engine = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                status, payload = engine._answer(self.command, self.path)
                body = (
                    b""
                    if payload is None
                    else (
                        payload.encode()
                        if isinstance(payload, str)
                        else json.dumps(payload).encode()
                    )
                )
                self.send_response(status)
                self.send_header("Api-Version", API_VERSION)
                if body:
                    kind = "text/plain" if isinstance(payload, str) else "application/json"
                    self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")  # so a stopped engine is gone at once
                self.end_headers()
                # The client may hang up first (e.g. on an error status): nothing to say.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)
                self.close_connection = True

            do_GET = do_POST = do_HEAD = _handle

            def address_string(self) -> str:
                return "unix"

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return Handler
