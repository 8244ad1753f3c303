import json

from worker import handlers, storage
from worker.main import Worker


def message(job_id, record, kind="customer"):
    return handlers.Message(job_id, json.dumps(record).encode("utf-8"), kind)


def test_a_customer_is_stored_and_spooled(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKER_SPOOL_FILE", str(tmp_path / "outbox.jsonl"))
    pool = storage.Pool(2)
    assert handlers.handle(message("j-1", {"id": 7, "email": "a@example.com"}), pool) == "stored"
    assert (tmp_path / "outbox.jsonl").read_text() == '{"customer": 7}\n'
    assert len(pool.free) == 2


def test_a_batch_is_handled(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKER_SPOOL_FILE", str(tmp_path / "outbox.jsonl"))
    queue = [message(f"j-{n}", {"id": n, "email": f"{n}@example.com"}) for n in range(10)]
    worker = Worker(queue)
    assert worker.run_once() == 10
    assert worker.processed == 10 and queue == []


def test_an_audit_event_is_recorded():
    assert handlers.handle(message("j-a", {"id": "ev-test-1"}, "audit"), None) == "audited"
    assert "ev-test-1" in handlers.PROCESSED_EVENTS


def test_a_failed_spool_write_is_reported_not_raised(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKER_SPOOL_FILE", str(tmp_path / "missing-dir" / "outbox.jsonl"))
    assert storage.spool("j-9", {"customer": 9}) is False
