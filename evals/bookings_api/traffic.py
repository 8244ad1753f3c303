"""Seeded traffic for the bookings API: the real app under a real uvicorn, writing service.log.

    python traffic.py      # with fastapi, uvicorn, httpx installed

The app runs from a copy at /tmp/mendbot-traffic/bookings_api/app. The payment provider is
down for the whole run (its address refuses connections). Simulated clock from
2025-06-11 09:00:00 UTC.
"""

import logging
import random
import shutil
import socket
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEPLOYED = Path("/tmp/mendbot-traffic/bookings_api/app")
START = datetime(2025, 6, 11, 9, 0, 0, tzinfo=UTC).timestamp()
SEED = 20250611


class SimulatedClock(logging.Filter):
    now = START
    rng = random.Random(SEED + 1)

    def filter(self, record):
        self.now += self.rng.uniform(0.02, 0.4)
        record.created = self.now
        record.msecs = (self.now % 1) * 1000
        return True


def closed_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def main():
    import os

    shutil.rmtree(DEPLOYED, ignore_errors=True)
    shutil.copytree(
        HERE / "service", DEPLOYED, ignore=shutil.ignore_patterns("tests", "__pycache__")
    )
    sys.path.insert(0, str(DEPLOYED))
    os.environ["PAYMENTS_URL"] = f"http://127.0.0.1:{closed_port()}/charge"
    handler = logging.FileHandler(HERE / "service.log", mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s - %(name)s - %(levelname)s - %(message)s"))
    handler.addFilter(SimulatedClock())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.captureWarnings(True)

    import httpx
    import uvicorn
    from bookings.main import app

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=True)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    rng = random.Random(SEED)
    headers = {"Connection": "close"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10, headers=headers) as client:
        for step in range(260):
            request(client, rng, step)
    server.should_exit = True
    thread.join()


def request(client, rng, step):
    roll = rng.random()
    known = ["r-101", "r-102", "r-201"]
    if roll < 0.2:
        client.get("/health")
    elif roll < 0.3:
        client.get(f"/rooms/{rng.choice(known)}")
    elif roll < 0.34:
        client.get(f"/rooms/{rng.choice(['r-999', 'r-404', 'lobby'])}")  # unknown rooms
    elif roll < 0.42:
        client.get(f"/rooms/{rng.choice(known)}/rating")
    elif roll < 0.45:
        client.get("/rooms/r-301/rating")  # a new room, no reviews yet
    elif roll < 0.55:
        body = {"room_id": rng.choice(known), "guests": rng.randint(1, 4)}
        if rng.random() < 0.8:
            body["notes"] = rng.choice(["", "late arrival", " projector please "])
        client.post("/bookings", json=body)
    elif roll < 0.62:
        client.get(f"/bookings?limit={rng.choice(['5', '10', '20'])}")
    elif roll < 0.65:
        client.get(f"/bookings?limit={rng.choice(['ten', 'all', '5x'])}")
    elif roll < 0.72:
        client.get(f"/rooms/{rng.choice(known)}/last-booking")
    elif roll < 0.75:
        client.get("/rooms/r-301/last-booking")  # never booked
    elif roll < 0.82:
        client.get(f"/weather?city={rng.choice(['Lyon', 'porto', 'Graz'])}")
    elif roll < 0.85:
        client.get(f"/weather?city={rng.choice(['Atlantis', 'Nantes'])}")
    elif roll < 0.9:
        client.get(f"/rooms/{rng.choice(known)}/forecast")
    else:
        client.post(f"/checkout/b-{1000 + step}")


if __name__ == "__main__":
    main()
