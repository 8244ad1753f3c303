"""The worker loop: take a batch from the queue, handle each message, log the outcome."""

import logging
import time

from worker import handlers, storage
from worker.config import MAX_BATCH_SIZE, POOL_SIZE

log = logging.getLogger("worker.main")


class Worker:
    def __init__(self, queue):
        self.queue = queue
        self.pool = storage.Pool(POOL_SIZE)
        self.processed = 0

    def run_once(self):
        """Handle one batch; returns how many messages were handled."""
        pending = len(self.queue)
        if pending > MAX_BATCH_SIZE:
            log.warning(
                "Batch truncated (max_batch_size=%d, pending=%d)", MAX_BATCH_SIZE, pending
            )
        batch = self.queue[:MAX_BATCH_SIZE]
        del self.queue[:]
        for message in batch:
            self.handle_one(message)
        return len(batch)

    def handle_one(self, message):
        started = time.perf_counter()
        try:
            outcome = handlers.handle(message, self.pool)
        except Exception:
            log.exception("Job %s failed", message.job_id, extra={"job_id": message.job_id})
            return
        self.processed += 1
        took_ms = (time.perf_counter() - started) * 1000
        log.info("Job %s %s in %.1f ms", message.job_id, outcome, took_ms)
