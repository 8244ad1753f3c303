"""Stock lookups succeed when the inventory service answers in 0.45 s (its normal p99
under load, as the log shows), and still fail fast when it does not answer at all."""

import contextlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


def _server(delay_seconds):
    class Slow(BaseHTTPRequestHandler):
        def do_GET(self):
            time.sleep(delay_seconds)
            body = b'{"available": 7}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the client gave up waiting
                self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    server.handle_error = lambda *args: None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def slow_inventory(monkeypatch):
    server = _server(0.45)
    monkeypatch.setenv("INVENTORY_URL", f"http://127.0.0.1:{server.server_port}")
    yield
    server.shutdown()


def test_a_slow_but_healthy_inventory_answers(slow_inventory):
    from app.services import inventory

    assert inventory.stock_level("SKU-1001") == 7


def test_a_dead_inventory_still_fails_within_five_seconds(monkeypatch):
    server = _server(30)
    monkeypatch.setenv("INVENTORY_URL", f"http://127.0.0.1:{server.server_port}")
    from app.services import inventory

    started = time.monotonic()
    assert inventory.stock_level("SKU-1001") is None
    assert time.monotonic() - started < 5
