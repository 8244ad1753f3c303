"""Worker settings."""

import os

#: Messages taken from the queue per run.
MAX_BATCH_SIZE = 50
#: Database connections the worker may hold at once.
POOL_SIZE = 3


def spool_file():
    return os.environ.get("WORKER_SPOOL_FILE", "/var/spool/worker/outbox.jsonl")
