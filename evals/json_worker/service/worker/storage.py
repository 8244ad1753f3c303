"""Database connections (a small pool) and the outbox spool file."""

import json
import logging

from worker import config

log = logging.getLogger("worker.storage")


class PoolExhausted(Exception):
    """Every connection of the pool is in use."""


class Connection:
    def __init__(self, number):
        self.number = number
        self.rows = []

    def insert(self, table, row):
        self.rows.append((table, row))


class Pool:
    def __init__(self, size):
        self.free = [Connection(n) for n in range(size)]
        self.size = size

    def acquire(self):
        if not self.free:
            raise PoolExhausted(f"no free connection (pool_size={self.size})")
        return self.free.pop()

    def release(self, connection):
        self.free.append(connection)


def spool(job_id, record):
    """Append a record to the outbox that the exporter ships; False when it cannot."""
    try:
        with open(config.spool_file(), "a", encoding="utf-8") as outbox:
            outbox.write(json.dumps(record) + "\n")
    except OSError as error:
        log.error("Spool write failed for job %s: %s", job_id, error)
        return False
    return True
