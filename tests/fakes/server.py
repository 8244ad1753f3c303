"""Test support: one reusable fake HTTP server that the protocol fakes are built on.

A :class:`FakeServer` listens on 127.0.0.1 on a free port (port 0), answers each request
from the handler registered for its method and path, and records every request so tests
can assert on what went over the wire::

    with FakeServer() as server:
        server.route("POST", "/api/chat.postMessage", lambda req: Reply.json({"ok": True}))
        ...  # point the code under test at server.url
        [req] = server.wait_for("/api/chat.postMessage", count=1)
        assert req.form()["channel"] == "C1"

Handlers run on the server's threads; they get a :class:`Request` and return a
:class:`Reply`. Unrouted requests get a 404 and are recorded too.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    """A request as received: ``path`` without query, ``query`` as lists, raw ``body``."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        """The body parsed as ``application/x-www-form-urlencoded`` (last value wins)."""
        return {k: v[-1] for k, v in parse_qs(self.body.decode("utf-8")).items()}

    def header(self, name: str) -> str | None:
        """A header value, case-insensitively."""
        return self.headers.get(name.lower())

    def text(self) -> str:
        """The body decoded as UTF-8."""
        return self.body.decode("utf-8", errors="replace")


@dataclass
class Reply:
    """A response to send: status, headers and body bytes."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0

    @classmethod
    def json(cls, payload: Any, status: int = 200, **headers: str) -> Reply:
        """A JSON reply."""
        return cls(
            status, json.dumps(payload).encode(), {"Content-Type": "application/json", **headers}
        )

    @classmethod
    def text(cls, payload: str, status: int = 200) -> Reply:
        """A plain-text reply."""
        return cls(status, payload.encode(), {"Content-Type": "text/plain; charset=utf-8"})


Handler = Callable[[Request], Reply]


class FakeServer:
    """A threaded HTTP/1.1 server on 127.0.0.1:<free port> with routes and a request log."""

    def __init__(self) -> None:
        self._routes: dict[tuple[str, str], Handler] = {}
        self._prefix_routes: list[tuple[str, str, Handler]] = []
        self._lock = threading.Condition()
        self.requests: list[Request] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._make_handler())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    def route(self, method: str, path: str, handler: Handler | Reply) -> None:
        """Answer ``method path`` with ``handler`` (or always the same ``Reply``).

        A ``path`` ending in ``*`` matches every path with that prefix.
        """
        fn: Handler = handler if callable(handler) else (lambda _req, r=handler: r)
        if path.endswith("*"):
            self._prefix_routes.append((method.upper(), path[:-1], fn))
        else:
            self._routes[(method.upper(), path)] = fn

    def start(self) -> FakeServer:
        """Start serving in a daemon thread; returns self."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def received(self, path: str | None = None, method: str | None = None) -> list[Request]:
        """Recorded requests, optionally only those for ``path`` / ``method``, in order."""
        with self._lock:
            return [
                r
                for r in self.requests
                if (path is None or r.path == path)
                and (method is None or r.method == method.upper())
            ]

    def wait_for(self, path: str, count: int = 1, timeout: float = 10.0) -> list[Request]:
        """Block until at least ``count`` requests for ``path`` arrived; return them all.

        Raises:
            AssertionError: fewer arrived within ``timeout`` seconds (lists what came).
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                matching = [r for r in self.requests if r.path == path]
                if len(matching) >= count:
                    return matching
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [f"{r.method} {r.path}" for r in self.requests]
                    raise AssertionError(
                        f"expected {count} request(s) to {path} within {timeout}s, "
                        f"got {len(matching)}; all requests: {seen}"
                    )
                self._lock.wait(remaining)

    def _dispatch(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            self._lock.notify_all()
        handler = self._routes.get((request.method, request.path))
        if handler is None:
            for method, prefix, fn in self._prefix_routes:
                if method == request.method and request.path.startswith(prefix):
                    handler = fn
                    break
        if handler is None:
            return Reply.json({"error": f"no route for {request.method} {request.path}"}, 404)
        return handler(request)

    def _make_handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                try:
                    reply = server._dispatch(request)
                except Exception as error:  # a broken handler is a test bug: say so loudly
                    reply = Reply.json({"error": f"fake handler crashed: {error!r}"}, 500)
                if reply.delay_seconds:
                    time.sleep(reply.delay_seconds)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return _Handler
