"""What the worker does with one message."""

import json
import logging

from worker import storage

log = logging.getLogger("worker.handlers")
PROCESSED_EVENTS = set()


class Message:
    def __init__(self, job_id, body, kind="customer"):
        self.job_id = job_id
        self.body = body
        self.kind = kind


def decode(raw):
    return raw.decode("utf-8")


def parse(text):
    return json.loads(text)


def collect(event, batch=[]):
    batch.append(event)
    return batch


def handle(message, pool):
    """Process one message; returns "stored", "invalid" or "audited"."""
    payload = parse(decode(message.body))
    if message.kind == "audit":
        for event in collect(payload):
            if event["id"] in PROCESSED_EVENTS:
                log.warning("Duplicate event %s already processed, skipping", event["id"])
                continue
            PROCESSED_EVENTS.add(event["id"])
        return "audited"
    connection = pool.acquire()
    if not payload.get("email"):
        log.info("Job %s skipped: record without email", message.job_id)
        return "invalid"
    connection.insert("customers", payload)
    pool.release(connection)
    storage.spool(message.job_id, {"customer": payload.get("id")})
    return "stored"
