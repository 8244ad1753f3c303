"""Seeded traffic for the Flask shop: runs the real app and writes ``service.log``.

Run it with the case's requirements installed (``pip install -r requirements.txt``)::

    python traffic.py            # writes service.log beside this file

The app runs in-process behind Flask's test client, from a copy of ``service/`` at
``/tmp/mendbot-traffic/flask_shop/app`` (so tracebacks show a deployment path, as they
would under ``/app`` in a container). Log timestamps come from a simulated clock that
starts at 2025-03-14 09:00:00 UTC and advances a seeded random gap per request, so the
requests span minutes while the script takes a second. The payment gateway is a real
HTTP server on 127.0.0.1 that is stopped for a while (connection refused), then restarted.
Everything else that happens, errors and tracebacks included, is the app's own doing.
"""

import json
import logging
import random
import shutil
import sys
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEPLOYED = Path("/tmp/mendbot-traffic/flask_shop/app")
START = datetime(2025, 3, 14, 9, 0, 0, tzinfo=UTC).timestamp()
SEED = 20250314


class SimulatedClock(logging.Filter):
    """Stamps every record with the simulated time."""

    now = START

    def filter(self, record):
        record.created = self.now
        record.msecs = (self.now % 1) * 1000
        return True


class Gateway(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        answer = json.dumps({"receipt": f"r-{body['order']:05d}", "ok": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


def start_gateway():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def deploy():
    shutil.rmtree(DEPLOYED, ignore_errors=True)
    shutil.copytree(
        HERE / "service", DEPLOYED, ignore=shutil.ignore_patterns("tests", "__pycache__")
    )
    sys.path.insert(0, str(DEPLOYED))


def configure_logging(path, clock):
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s - %(name)s - %(levelname)s - %(message)s"))
    handler.addFilter(clock)
    logging.Formatter.converter = __import__("time").gmtime
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def requests_plan(rng):
    """(method, path, json body) in a seeded order: normal traffic with the incidents mixed in."""
    skus = [f"SKU-10{n:02d}" for n in range(1, 9)]
    plan = []
    plan += [("GET", f"/products/{rng.choice(skus)}", None) for _ in range(150)]
    plan += [
        ("GET", f"/products/{rng.choice(['SKU-2001', 'sku-1001', 'SKU-999'])}", None)
        for _ in range(12)
    ]
    plan += [("GET", f"/orders?page={rng.randint(1, 3)}", None) for _ in range(40)]
    plan += [("GET", f"/orders?page={rng.choice(['two', '2.0', 'last'])}", None) for _ in range(6)]

    def cart():
        return [
            {"sku": rng.choice(skus), "qty": rng.randint(1, 3)} for _ in range(rng.randint(1, 4))
        ]

    plan += [("POST", "/cart/price", {"items": cart()}) for _ in range(50)]
    plan += [
        ("POST", "/cart/price", {"items": cart(), "coupon": rng.choice(["WELCOME10", "spring15"])})
        for _ in range(20)
    ]
    plan += [
        (
            "POST",
            "/cart/price",
            {"items": cart(), "coupon": rng.choice(["FREESHIP", "BLACKFRIDAY"])},
        )
        for _ in range(7)
    ]
    plan += [("POST", "/checkout", {"items": cart()}) for _ in range(60)]
    plan += [("GET", "/stats/basket", None) for _ in range(10)]
    plan += [("GET", "/stats/basket?day=2025-03-13", None) for _ in range(4)]
    plan += [("GET", "/health", None) for _ in range(30)]
    rng.shuffle(plan)
    return plan


def main():
    rng = random.Random(SEED)
    deploy()
    clock = SimulatedClock()
    configure_logging(HERE / "service.log", clock)
    import os

    from shop import create_app

    app = create_app()
    client = app.test_client()
    boot = logging.getLogger("shop.boot")
    boot.info("Starting shop (workers=1, catalog=8 products)")
    gateway = start_gateway()
    os.environ["PAYMENT_GATEWAY_URL"] = f"http://127.0.0.1:{gateway.server_port}/charge"
    plan = requests_plan(rng)
    outage = range(len(plan) * 5 // 10, len(plan) * 7 // 10)
    for n, (method, path, body) in enumerate(plan):
        clock.now += rng.expovariate(1 / 1.8)
        if n == outage.start:
            gateway.shutdown()
            gateway.server_close()
        if n == outage.stop:
            gateway = start_gateway()
            os.environ["PAYMENT_GATEWAY_URL"] = f"http://127.0.0.1:{gateway.server_port}/charge"
            boot.info("Payment gateway reachable again")
        if n % 60 == 0:
            boot.info("Catalog cache refreshed (8 products, 2 coupons)")
        address = f"10.0.{rng.randint(0, 3)}.{rng.randint(2, 250)}"
        client.open(path, method=method, json=body, environ_base={"REMOTE_ADDR": address})
    boot.info("Shutting down")
    gateway.shutdown()


if __name__ == "__main__":
    main()
