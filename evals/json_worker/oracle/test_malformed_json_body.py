"""A message whose body is not JSON is rejected by the handler (no exception escapes),
and well-formed messages are still stored."""

from conftest import customer


def test_a_malformed_body_is_rejected_without_an_exception():
    from worker import handlers, storage

    pool = storage.Pool(3)
    bad = handlers.Message("j-bad", b"{'id': 1, 'name': 'legacy export'}")
    outcome = handlers.handle(bad, pool)
    assert outcome != "stored"
    assert handlers.handle(customer(5), pool) == "stored"
    assert len(pool.free) == 3
