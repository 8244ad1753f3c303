"""Remedies outside request handlers, checked by running the fixed code.

Each fix is executed: the failing call must now work and every other call must give what
it gave before. Each also has its near miss, where the evidence cannot tell the right
fix and no edit is proposed.
"""

from __future__ import annotations

import json

import pytest

from monitoring.diagnosis import messages as msg
from tests.fakes import anomalies as A
from tests.monitoring.remedy_support import diagnose, fixed_text, playbook, run_fixed, write

WORKER = """
    import json
    import logging

    logger = logging.getLogger("worker")
    BOOKED = []

    def handle(body):
        event = json.loads(body)
        BOOKED.append(event["id"])

    def handle_all(bodies):
        for body in bodies:
            event = json.loads(body)
            BOOKED.append(event["id"])

    def parse(body):
        return json.loads(body)

    def read_line(raw):
        line = raw.decode("utf-8")
        return line.split(";")

    def read_name(raw):
        return raw.decode().strip()

    def average(values):
        return sum(values) / len(values)

    def converted(amount, rate):
        return amount / rate

    def newest(items) -> dict | None:
        return items[-1]

    def oldest(items):
        return items[0]
"""


def test_a_worker_skips_a_message_that_is_not_json_and_keeps_going(tmp_path):
    draft, index = diagnose(
        tmp_path,
        {"worker.py": WORKER},
        at="event = json.loads(body)",
        exception="json.decoder.JSONDecodeError",
        message="Expecting value: line 1 column 1 (char 0)",
    )
    fixed = run_fixed(index, draft)
    fixed["handle"](b"id=7")
    fixed["handle"](json.dumps({"id": 8}).encode())
    assert fixed["BOOKED"] == [8]
    assert "logger.warning(" in fixed_text(index, draft)


def test_in_a_loop_over_messages_the_bad_one_is_skipped_with_continue(tmp_path):
    draft, index = diagnose(
        tmp_path,
        {"worker.py": WORKER},
        at="        event = json.loads(body)",  # the one inside the loop
        exception="json.JSONDecodeError",
        message="Expecting value",
    )
    fixed = run_fixed(index, draft)
    fixed["handle_all"]([b"{", json.dumps({"id": 1}).encode(), b"nope"])
    assert fixed["BOOKED"] == [1]
    assert "continue" in fixed_text(index, draft)


def test_a_parse_whose_caller_needs_its_value_is_left_to_a_person(tmp_path):
    draft, _ = diagnose(
        tmp_path,
        {"worker.py": WORKER},
        at="return json.loads(body)",
        exception="json.decoder.JSONDecodeError",
        message="Expecting value",
    )
    assert draft.edits == [] and draft.reasoning == msg.NEEDS_INVESTIGATION


def test_a_worker_without_a_logger_does_not_skip_silently(tmp_path):
    source = WORKER.replace('logger = logging.getLogger("worker")', "")
    draft, _ = diagnose(
        tmp_path,
        {"worker.py": source},
        at="event = json.loads(body)",
        exception="JSONDecodeError",
        message="Expecting value",
    )
    assert draft.edits == []


def test_latin1_bytes_decode_through_the_fallback(tmp_path):
    draft, index = diagnose(
        tmp_path,
        {"worker.py": WORKER},
        at='raw.decode("utf-8")',
        exception="UnicodeDecodeError",
        message="'utf-8' codec can't decode byte 0xfc in position 1: invalid start byte",
    )
    fixed = run_fixed(index, draft)
    assert fixed["read_line"]("Müller;12".encode("latin-1")) == ["Müller", "12"]
    assert fixed["read_line"]("Müller;12".encode()) == ["Müller", "12"]


def test_a_decode_inside_an_expression_replaces_what_it_cannot_read(tmp_path):
    draft, index = diagnose(
        tmp_path,
        {"worker.py": WORKER},
        at="raw.decode().strip()",
        exception="UnicodeDecodeError",
        message="'utf-8' codec can't decode byte 0xe9",
    )
    assert 'raw.decode(errors="replace").strip()' in fixed_text(index, draft)
    assert run_fixed(index, draft)["read_name"](b"caf\xe9 ") == "caf\ufffd"


def test_an_average_of_nothing_is_zero_and_the_rest_is_unchanged(tmp_path):
    draft, index = diagnose(
        tmp_path,
        {"worker.py": WORKER},
        at="sum(values) / len(values)",
        exception="ZeroDivisionError",
        message="division by zero",
    )
    fixed = run_fixed(index, draft)
    assert fixed["average"]([]) == 0.0 and fixed["average"]([2, 4]) == 3.0


def test_dividing_by_a_rate_of_zero_is_not_hidden_behind_a_zero(tmp_path):
    draft, _ = diagnose(
        tmp_path,
        {"worker.py": WORKER},
        at="amount / rate",
        exception="ZeroDivisionError",
        message="division by zero",
    )
    assert draft.edits == []
    assert "divides by `rate`" in draft.diagnosis.root_cause


def test_an_empty_list_returns_none_only_where_none_is_already_an_answer(tmp_path):
    draft, index = diagnose(
        tmp_path,
        {"worker.py": WORKER},
        at="return items[-1]",
        exception="IndexError",
        message="list index out of range",
    )
    fixed = run_fixed(index, draft)
    assert fixed["newest"]([]) is None and fixed["newest"]([{"a": 1}]) == {"a": 1}
    other, _ = diagnose(
        tmp_path / "b",
        {"worker.py": WORKER},
        at="return items[0]",
        exception="IndexError",
        message="list index out of range",
    )
    assert other.edits == []


POOLED = {
    "ledger/pool.py": """
        class PoolExhausted(RuntimeError):
            pass

        class Pool:
            def __init__(self, size):
                self.free = size

            def acquire(self):
                if not self.free:
                    raise PoolExhausted("no free connection in the pool")
                self.free -= 1
                return object()

            def release(self, connection):
                self.free += 1
    """,
    "ledger/book.py": """
        from ledger.pool import Pool

        POOL = Pool(2)
        DONE = []

        def book(entry):
            connection = POOL.acquire()
            if entry == 0:
                return "nothing to book"
            DONE.append(entry)
            POOL.release(connection)
            return "booked"

        def audit(entry):
            connection = POOL.acquire()
            try:
                DONE.append(entry)
            finally:
                POOL.release(connection)
    """,
}


def _exhausted(tmp_path, files):
    return diagnose(
        tmp_path,
        files,
        path="ledger/pool.py",
        at="raise PoolExhausted",
        exception="ledger.pool.PoolExhausted",
        message="no free connection in the pool",
        outer=[("ledger/book.py", "connection = POOL.acquire()")],
    )


def test_a_leak_on_an_early_return_is_released_in_finally(tmp_path):
    draft, index = _exhausted(tmp_path, POOLED)
    assert [e.path for e in draft.edits] == ["ledger/book.py"]
    text = fixed_text(index, draft)
    assert "    try:\n        if entry == 0:" in text
    assert '    finally:\n        POOL.release(connection)\n    return "booked"' in text
    (index.root / "ledger/book.py").write_text(text)
    import importlib
    import sys

    sys.path.insert(0, str(index.root))
    try:
        book = importlib.import_module("ledger.book")
        for _ in range(5):
            assert book.book(0) == "nothing to book"
        assert book.book(3) == "booked" and book.POOL.free == 2
    finally:
        sys.path.remove(str(index.root))
        for name in [m for m in sys.modules if m == "ledger" or m.startswith("ledger.")]:
            del sys.modules[name]


def test_a_connection_handed_on_is_not_a_leak(tmp_path):
    files = dict(POOLED)
    files["ledger/book.py"] = POOLED["ledger/book.py"].replace(
        'return "nothing to book"', "return connection"
    )
    draft, _ = _exhausted(tmp_path, files)
    assert draft.edits == []


SHARED = """
    import logging
    logger = logging.getLogger("sink")

    def batch_of(entries, batch=[]):
        for entry in entries:
            batch.append(entry)
        return batch

    def lookup(key, _cache={}):
        _cache[key] = key * 2
        return _cache[key]

    def send(batch):
        for entry in batch:
            logger.warning("Duplicate entry %s ignored", entry)
"""


def _duplicates(tmp_path, source):
    index = write(tmp_path, {"sink.py": source})
    anomaly = A.duplicates(template="Duplicate entry <ID> ignored", logger="sink")
    return playbook(anomaly, index), index


def test_a_mutable_default_is_made_per_call_when_duplicates_spike(tmp_path):
    draft, index = _duplicates(tmp_path, SHARED)
    fixed = run_fixed(index, draft)
    assert fixed["batch_of"]([1]) == [1] and fixed["batch_of"]([2]) == [2]
    assert fixed["batch_of"]([3], [0]) == [0, 3]
    assert "def lookup(key, _cache={})" in fixed_text(index, draft)  # a cache is meant to last
    assert draft.title == "Give each call of batch_of() its own batch"


def test_two_suspects_are_left_to_a_person(tmp_path):
    source = SHARED + "\n\ndef tags_of(x, tags=set()):\n    tags.add(x)\n    return tags\n"
    draft, _ = _duplicates(tmp_path, source)
    assert draft.edits == []


def test_an_outage_seen_in_the_services_own_frames_gets_no_edit(tmp_path):
    source = WORKER + "\n\ndef push(sock, data):\n    sock.sendall(data)\n"
    for exception, message in [
        ("ConnectionRefusedError", "[Errno 111] Connection refused"),
        ("OSError", "[Errno 28] No space left on device"),
        ("httpx.ConnectError", "All connection attempts failed"),
    ]:
        draft, _ = diagnose(
            tmp_path / exception,
            {"worker.py": source},
            at="sock.sendall(data)",
            exception=exception,
            message=message,
        )
        assert draft.edits == [], exception
        assert "outside the code" in draft.diagnosis.root_cause


@pytest.mark.parametrize(
    ("template", "limits"),
    [
        (
            "Batch truncated (max_batch_size=<NUM>, pending=<NUM>)",
            {"max_batch_size": 50, "pending": {"min": 60, "max": 86}},
        ),
        (
            "Export truncated: max_chars=<NUM>, length=<NUM>; the rest was dropped",
            {"max_chars": 50, "length": {"min": 60, "max": 86}},
        ),
    ],
    ids=["a-count-of-items", "says-dropped"],
)
def test_a_limit_whose_overflow_is_lost_is_not_raised(tmp_path, template, limits):
    key = next(iter(limits))
    source = f"""
        import logging
        log = logging.getLogger("app.llm")
        LIMIT = 50

        def run(items):
            log.warning("{template.split("(")[0].split(":")[0]} ({key}=%d, x=%d)", LIMIT, len(items))
    """
    index = write(tmp_path, {"worker.py": source})
    draft = playbook(A.truncation(template=template, details={"limits": limits}), index)
    assert draft.edits == []
    assert "would only move the cut" in draft.diagnosis.root_cause


TIMED = """
    import logging
    import time
    logger = logging.getLogger("rates")
    RATES_TIMEOUT_SECONDS = 0.25

    def fetch(feed):
        started = time.monotonic()
        value = feed()
        took = time.monotonic() - started
        if took > RATES_TIMEOUT_SECONDS:
            logger.warning("rates feed too slow: took %.2fs (timeout_seconds=%s)", took, RATES_TIMEOUT_SECONDS)
            return None
        return value
"""


def test_a_timeout_below_what_was_measured_is_raised_with_headroom(tmp_path):
    index = write(tmp_path, {"rates.py": TIMED})
    anomaly = A.slow(
        template="rates feed too slow: took <NUM>s (timeout_seconds=<NUM>)",
        logger="rates",
        details={"max_seconds": 0.41},
        samples=["rates feed too slow: took 0.41s (timeout_seconds=0.25)"],
    )
    draft = playbook(anomaly, index)
    assert "RATES_TIMEOUT_SECONDS = 0.5" in fixed_text(index, draft)
    assert (
        draft.title == "Raise RATES_TIMEOUT_SECONDS 0.25 → 0.5: rates feed too slow: took … 3 times"
    )
    unmeasured = anomaly.model_copy(update={"details": {"max_seconds": 0.25}})
    assert playbook(unmeasured, index).edits == []
