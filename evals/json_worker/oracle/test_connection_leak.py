"""Records without an email do not use up the pool: the worker keeps storing afterwards."""

from conftest import customer


def test_invalid_records_do_not_leak_connections():
    from worker import handlers, storage

    pool = storage.Pool(3)
    for number in range(10):
        handlers.handle(customer(number, email=""), pool)
    assert handlers.handle(customer(99), pool) == "stored"
    assert len(pool.free) == 3
