"""Test support: Slack's side of Socket Mode, a WebSocket endpoint speaking RFC 6455.

:class:`FakeSocketMode` is what ``apps.connections.open`` (answered by
:class:`tests.fakes.slack.FakeSlack`, see its ``socket_url``) points the app to: it greets
the app with ``hello``, pushes envelopes (:func:`socket_envelope`) and records the acks::

    with FakeSlack() as slack, FakeSocketMode() as socket_mode:
        slack.socket_url = socket_mode.url
        ...  # start the app in Socket Mode
        socket_mode.send(envelope)
        socket_mode.wait_ack(envelope["envelope_id"])
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import socket
import socketserver
import struct
import threading
import uuid
from typing import Any

_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_TEXT, _CLOSE, _PING, _PONG = 0x1, 0x8, 0x9, 0xA


class FakeSocketMode:
    """Slack's Socket Mode endpoint: a WebSocket server (RFC 6455) on 127.0.0.1, port 0.

    It greets each connection with ``hello``, answers pings, and records every JSON message
    the app sends (the envelope acks). Point ``FakeSlack.socket_url`` at :attr:`url`.
    """

    def __init__(self) -> None:
        fake = self

        class _Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                fake._serve(self.request)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._cond = threading.Condition()
        self._send_lock = threading.Lock()
        self._conn: socket.socket | None = None
        self.received: list[dict[str, Any]] = []
        self.connections = 0

    @property
    def url(self) -> str:
        """``ws://127.0.0.1:<port>/link/?ticket=...`` as ``apps.connections.open`` returns."""
        return f"ws://127.0.0.1:{self._server.server_address[1]}/link/?ticket=fake-ticket"

    def __enter__(self) -> FakeSocketMode:
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._conn is not None:
            self._conn.close()

    def wait_connected(self, timeout: float = 10.0) -> None:
        """Block until an app has connected (raises AssertionError after ``timeout``)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._conn is not None, timeout):
                raise AssertionError(f"no Socket Mode connection within {timeout}s")

    def send(self, message: dict[str, Any]) -> None:
        """Send one JSON message (an envelope) to the connected app."""
        assert self._conn is not None, "nobody is connected"
        self._send_frame(self._conn, _TEXT, json.dumps(message).encode())

    def wait_ack(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """Block until the app acknowledged ``envelope_id``; returns the ack."""

        def find() -> dict[str, Any] | None:
            return next((m for m in self.received if m.get("envelope_id") == envelope_id), None)

        with self._cond:
            if not self._cond.wait_for(lambda: find() is not None, timeout):
                raise AssertionError(
                    f"no ack for {envelope_id} within {timeout}s; received {self.received}"
                )
            return find()  # type: ignore[return-value]

    def _serve(self, conn: socket.socket) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = conn.recv(1024)
            if not chunk:
                return
            request += chunk
        headers = dict(
            line.split(":", 1)
            for line in request.decode("latin-1").split("\r\n")[1:]
            if ":" in line
        )
        key = {k.strip().lower(): v.strip() for k, v in headers.items()}["sec-websocket-key"]
        accept = base64.b64encode(hashlib.sha1((key + _WS_GUID).encode()).digest()).decode()
        conn.sendall(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
            ).encode()
        )
        with self._cond:
            self._conn = conn
            self.connections += 1
            self._cond.notify_all()
        self.send(
            {
                "type": "hello",
                "num_connections": 1,
                "connection_info": {"app_id": "A0MENDBOT"},
                "debug_info": {"host": "fake", "approximate_connection_time": 3600},
            }
        )
        self._read_loop(conn)

    def _read_loop(self, conn: socket.socket) -> None:
        while True:
            frame = _read_frame(conn)
            if frame is None:
                return
            opcode, payload = frame
            if opcode == _TEXT:
                with self._cond:
                    self.received.append(json.loads(payload))
                    self._cond.notify_all()
            elif opcode == _PING:
                self._send_frame(conn, _PONG, payload)
            elif opcode == _CLOSE:
                self._send_frame(conn, _CLOSE, payload[:2])
                return

    def _send_frame(self, conn: socket.socket, opcode: int, payload: bytes) -> None:
        size = len(payload)
        if size < 126:
            head = struct.pack("!BB", 0x80 | opcode, size)
        elif size < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 126, size)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 127, size)
        with self._send_lock, contextlib.suppress(OSError):  # OSError: the app hung up
            conn.sendall(head + payload)


def _read_frame(conn: socket.socket) -> tuple[int, bytes] | None:
    """One client frame (masked, as clients must send them); None when the socket closed."""
    try:
        head = _recv_exactly(conn, 2)
        opcode, size = head[0] & 0x0F, head[1] & 0x7F
        if size == 126:
            size = struct.unpack("!H", _recv_exactly(conn, 2))[0]
        elif size == 127:
            size = struct.unpack("!Q", _recv_exactly(conn, 8))[0]
        mask = _recv_exactly(conn, 4) if head[1] & 0x80 else b"\0\0\0\0"
        data = _recv_exactly(conn, size)
    except (OSError, ConnectionError):
        return None
    return opcode, bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def _recv_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def socket_envelope(
    kind: str, payload: dict[str, Any], *, retry_attempt: int = 0
) -> dict[str, Any]:
    """A Socket Mode envelope: ``kind`` is ``events_api`` or ``interactive``."""
    return {
        "envelope_id": str(uuid.uuid4()),
        "type": kind,
        "payload": payload,
        "accepts_response_payload": False,
        "retry_attempt": retry_attempt,
        "retry_reason": "timeout" if retry_attempt else "",
    }
