"""Seeded traffic for the accounts API: runs the real FastAPI app and writes ``service.log``.

Run it with the case's requirements installed (``pip install -r requirements.txt``)::

    python traffic.py            # writes service.log beside this file

The app runs in-process behind Starlette's TestClient, from a copy of ``service/`` at
``/tmp/mendbot-traffic/fastapi_multi/app``. Timestamps come from a simulated clock (from
2025-04-02 14:00:00 UTC, a seeded gap per request). The third parties are real HTTP servers
on 127.0.0.1: a geocoder that answers 429 for a stretch (its quota is spent), and an
inventory service that gets slow (0.3-0.45 s) for a while. A mobile client retries order
requests it already sent (same Idempotency-Key). The rest is the app's own doing.
"""

import json
import logging
import os
import random
import shutil
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEPLOYED = Path("/tmp/mendbot-traffic/fastapi_multi/app")
START = datetime(2025, 4, 2, 14, 0, 0, tzinfo=UTC).timestamp()
SEED = 20250402


class SimulatedClock(logging.Filter):
    now = START

    def filter(self, record):
        record.created = self.now
        record.msecs = (self.now % 1) * 1000
        return True


class Upstreams:
    """What the fake third parties do right now (set by the traffic loop)."""

    geocoder_quota_spent = False
    inventory_delay_seconds = 0.02


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/geocode"):
            if Upstreams.geocoder_quota_spent:
                return self._answer(429, {"error": "quota exceeded"}, {"Retry-After": "30"})
            return self._answer(200, {"lat": 52.52, "lon": 13.40, "precision": "street"})
        time.sleep(Upstreams.inventory_delay_seconds)
        return self._answer(200, {"available": 7})

    def _answer(self, status, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a client that gave up (timeout) closed the socket: nothing to report


def deploy():
    shutil.rmtree(DEPLOYED, ignore_errors=True)
    shutil.copytree(
        HERE / "service", DEPLOYED, ignore=shutil.ignore_patterns("tests", "__pycache__")
    )
    sys.path.insert(0, str(DEPLOYED))


def configure_logging(path, clock):
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s [%(levelname)s] %(name)s: %(message)s"))
    handler.addFilter(clock)
    logging.Formatter.converter = time.gmtime
    logging.captureWarnings(True)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def plan_of(rng):
    known = ["u-100", "u-101", "u-102", "u-103"]
    plan = [("GET", f"/users/{rng.choice(known)}", None) for _ in range(90)]
    plan += [("GET", f"/users/{rng.choice(['u-404', 'u-1000', 'admin'])}", None) for _ in range(9)]
    plan += [("GET", "/users/u-100/last-order", None) for _ in range(20)]
    plan += [("GET", "/users/u-104/last-order", None) for _ in range(5)]
    plan += [("GET", f"/users/{rng.choice(known)}/greeting", None) for _ in range(6)]
    plan += [
        ("GET", "/reports/" + json.dumps({"min_cents": rng.choice([0, 500, 1000])}), None)
        for _ in range(25)
    ]
    plan += [
        ("GET", f"/reports/{rng.choice(['min_cents=500', '{min_cents:500}', 'all'])}", None)
        for _ in range(8)
    ]
    regions = ["eu", "us", "uk", "EU"]
    plan += [
        (
            "GET",
            f"/quotes/shipping?region={rng.choice(regions)}"
            f"&subtotal_cents={rng.randint(500, 9000)}",
            None,
        )
        for _ in range(40)
    ]
    plan += [
        ("GET", f"/quotes/shipping?region={rng.choice(['ca', 'au'])}&subtotal_cents=2500", None)
        for _ in range(6)
    ]
    plan += [("GET", f"/quotes/address?query=street+{n}", None) for n in range(45)]
    plan += [("GET", f"/quotes/stock/SKU-{rng.randint(1000, 1020)}", None) for _ in range(40)]
    keys = [f"k-{rng.randrange(16**8):08x}" for _ in range(20)]
    orders = [("POST", f"/users/u-10{rng.randint(0, 3)}/orders", {"key": k}) for k in keys]
    orders += [("POST", "/users/u-101/orders", {"key": rng.choice(keys[:6])}) for _ in range(12)]
    plan += orders
    plan += [("GET", "/health", None) for _ in range(30)]
    rng.shuffle(plan)
    return plan


def main():
    rng = random.Random(SEED)
    deploy()
    clock = SimulatedClock()
    configure_logging(HERE / "service.log", clock)
    server = QuietServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    os.environ["GEOCODER_URL"] = f"http://127.0.0.1:{server.server_port}/geocode"
    os.environ["INVENTORY_URL"] = f"http://127.0.0.1:{server.server_port}"
    from app.main import app
    from fastapi.testclient import TestClient

    boot = logging.getLogger("app.boot")
    boot.info("Application startup complete (workers=2)")
    plan = plan_of(rng)
    quota_spent = range(len(plan) * 3 // 10, len(plan) * 6 // 10)
    slow_inventory = range(len(plan) * 6 // 10, len(plan) * 8 // 10)
    with TestClient(app, raise_server_exceptions=False) as client:
        for n, (method, path, body) in enumerate(plan):
            clock.now += rng.expovariate(1 / 1.5)
            Upstreams.geocoder_quota_spent = n in quota_spent
            Upstreams.inventory_delay_seconds = (
                rng.uniform(0.3, 0.45) if n in slow_inventory else 0.02
            )
            if n % 80 == 0:
                boot.info("Connection pool stats: size=10 in_use=%d", rng.randint(1, 4))
            if method == "POST":
                order = {"id": f"o-{body['key'][-4:]}", "total_cents": rng.randint(500, 5000)}
                client.post(path, json=order, headers={"Idempotency-Key": body["key"]})
            else:
                client.get(path)
    boot.info("Shutting down")
    server.shutdown()


if __name__ == "__main__":
    main()
