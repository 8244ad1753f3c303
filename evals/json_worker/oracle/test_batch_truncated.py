"""A backlog larger than one batch loses no message: every one is handled in this run or
left in the queue for the next. The backlog here (250) is above any batch size the log
suggests (the largest seen is 86): raising the batch size only moves the cliff."""

from conftest import customer


def test_a_large_backlog_loses_nothing():
    from worker.main import Worker

    queue = [customer(n) for n in range(250)]
    worker = Worker(queue)
    handled = worker.run_once()
    while queue and handled:
        handled = worker.run_once()
    assert worker.processed == 250
