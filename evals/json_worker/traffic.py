"""Seeded traffic for the queue worker: runs the real worker and writes ``service.log``.

Run it with the case's requirements installed (``pip install -r requirements.txt``)::

    python traffic.py            # writes service.log beside this file

The worker runs in-process from a copy of ``service/`` at
``/tmp/mendbot-traffic/json_worker/app`` and logs JSON lines (its own formatter). A seeded
producer enqueues customer records (some without an email, some malformed, some exported
from a Latin-1 system), audit events, and now and then a backlog larger than one batch.
The worker is restarted every few batches (as its platform does on deploys). For a while
the outbox's disk is full: the spool file is ``/dev/full``, which answers every write with
ENOSPC. Timestamps come from a simulated clock (from 2025-05-20 06:00:00 UTC).
"""

import json
import logging
import random
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEPLOYED = Path("/tmp/mendbot-traffic/json_worker/app")
START = datetime(2025, 5, 20, 6, 0, 0, tzinfo=UTC).timestamp()
SEED = 20250520


class SimulatedClock(logging.Filter):
    """Stamps each record with the simulated time, a seeded 10-300 ms after the last."""

    now = START
    rng = random.Random(SEED + 1)

    def filter(self, record):
        self.now += self.rng.uniform(0.01, 0.3)
        record.created = self.now
        record.msecs = (self.now % 1) * 1000
        return True


def deploy():
    shutil.rmtree(DEPLOYED, ignore_errors=True)
    shutil.copytree(
        HERE / "service", DEPLOYED, ignore=shutil.ignore_patterns("tests", "__pycache__")
    )
    sys.path.insert(0, str(DEPLOYED))


def configure_logging(path, clock):
    from worker.logs import JsonFormatter

    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    handler.addFilter(clock)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def make_message(rng, number):
    from worker.handlers import Message

    job = f"j-{number:05d}"
    roll = rng.random()
    record = {"id": number, "name": rng.choice(["Ada", "Linus", "Grace", "Ken"]), "email": ""}
    if roll < 0.03:
        return Message(job, json.dumps(record).encode())  # no email
    if roll < 0.05:
        return Message(job, b"{'id': %d, 'name': 'legacy export'}" % number)  # not JSON
    if roll < 0.07:
        record = {"id": number, "name": "Jürgen Müller", "email": "jm@example.de"}
        return Message(job, json.dumps(record, ensure_ascii=False).encode("latin-1"))
    if roll < 0.09:
        return Message(job, json.dumps({"id": f"ev-{number}", "action": "login"}).encode(), "audit")
    record["email"] = f"{record['name'].lower()}.{number}@example.com"
    return Message(job, json.dumps(record).encode())


def main():
    rng = random.Random(SEED)
    deploy()
    clock = SimulatedClock()
    configure_logging(HERE / "service.log", clock)
    from worker.main import Worker

    boot = logging.getLogger("worker.boot")
    outbox = Path(tempfile.mkdtemp(prefix="outbox-")) / "outbox.jsonl"
    import os

    queue, number, worker = [], 0, None
    for tick in range(40):
        if tick % 8 == 0:
            worker = Worker(queue)
            boot.info("Worker started (pool_size=3, max_batch_size=50)")
        disk_full = 24 <= tick < 26
        os.environ["WORKER_SPOOL_FILE"] = "/dev/full" if disk_full else str(outbox)
        backlog = rng.random() < 0.1
        for _ in range(rng.randint(55, 120) if backlog else rng.randint(5, 20)):
            number += 1
            queue.append(make_message(rng, number))
        clock.now += rng.uniform(15, 25)
        boot.info("Polled queue 'customers': %d messages waiting", len(queue))
        worker.queue = queue
        handled = worker.run_once()
        clock.now += handled * rng.uniform(0.05, 0.2)
    boot.info("Worker stopping")


if __name__ == "__main__":
    main()
