"""A record exported by a Latin-1 system is handled without an exception; UTF-8 still works."""

from conftest import customer


def test_a_latin1_record_does_not_raise():
    from worker import handlers, storage

    pool = storage.Pool(3)
    handlers.handle(customer(1, encoding="latin-1"), pool)
    assert handlers.handle(customer(2), pool) == "stored"


def test_a_utf8_record_keeps_its_accents(outbox):
    from worker import handlers, storage

    pool = storage.Pool(1)
    connection = pool.free[0]
    handlers.handle(customer(3), pool)
    assert connection.rows[-1][1]["name"] == "Jürgen Müller"
