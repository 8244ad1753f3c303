"""Record parsing: the line formats a Railway-hosted Python service emits, and tracebacks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from core.models import Frame, Level
from monitoring.parsing.parser import RecordParser, parse_lines, parse_timestamp
from tests.conftest import ROOT

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
EXCERPT = ROOT / "tests" / "data" / "asgi_excerpt.log"


def one(line: str, **kw: object):
    records = list(parse_lines([line], fallback_time=T0, **kw))
    assert len(records) == 1, records
    return records[0]


@pytest.mark.parametrize(
    ("line", "level", "logger", "message"),
    [
        (
            "2026-11-21 18:24:59,511 - app.mcp - ERROR - MCP Tool failed: ConnectError (x)",
            Level.ERROR,
            "app.mcp",
            "MCP Tool failed: ConnectError (x)",
        ),
        (
            "2026-11-21 18:24:59,511 - WARNING - disk almost full",
            Level.WARNING,
            None,
            "disk almost full",
        ),
        (
            "2026-11-21T18:24:59.511Z [ERROR] app.db: connection lost",
            Level.ERROR,
            "app.db",
            "connection lost",
        ),
        (
            "2026-11-21 18:24:59 INFO worker: started 4 threads",
            Level.INFO,
            "worker",
            "started 4 threads",
        ),
        ("WARNING:root:something odd", Level.WARNING, "root", "something odd"),
        (
            'INFO:     127.0.0.1:48956 - "GET /health HTTP/1.1" 200 OK',
            Level.INFO,
            "uvicorn.access",
            '127.0.0.1:48956 - "GET /health HTTP/1.1" 200 OK',
        ),
        (
            "ERROR:    Exception in ASGI application",
            Level.ERROR,
            "uvicorn.error",
            "Exception in ASGI application",
        ),
        (
            "[2026-11-21 18:24:59 +0000] [7] [CRITICAL] WORKER TIMEOUT (pid:9)",
            Level.CRITICAL,
            None,
            "WORKER TIMEOUT (pid:9)",
        ),
        (
            "[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6",
            Level.ERROR,
            None,
            "mod_jk child workerEnv in error state 6",
        ),
        (
            "Dec 10 06:55:46 LabSZ sshd[24200]: error: Received disconnect from 1.2.3.4",
            Level.ERROR,
            "sshd",
            "error: Received disconnect from 1.2.3.4",
        ),
        (
            "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 "
            "R02-M1-N0-C:J12-U11 RAS KERNEL FATAL data TLB error interrupt",
            Level.CRITICAL,
            None,
            "data TLB error interrupt",
        ),
        (
            "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 terminating",
            Level.INFO,
            "dfs.DataNode$PacketResponder",
            "PacketResponder 1 terminating",
        ),
        ("just some words from print()", Level.INFO, None, "just some words from print()"),
    ],
)
def test_line_formats(line: str, level: Level, logger: str | None, message: str) -> None:
    record = one(line)
    assert (record.level, record.logger, record.message) == (level, logger, message)
    assert record.raw == line


def test_python_logging_timestamp_is_aware_utc() -> None:
    record = one("2026-11-21 18:24:59,511 - app - INFO - hi")
    assert record.timestamp == datetime(2026, 11, 21, 18, 24, 59, 511000, tzinfo=UTC)
    offset = one("2026-11-21T18:24:59+02:00 ERROR boom: x")
    assert offset.timestamp == datetime(2026, 11, 21, 16, 24, 59, tzinfo=UTC)


def test_a_level_word_inside_the_message_is_not_the_level() -> None:
    assert one("the ERRORS table was vacuumed").level is Level.INFO
    assert one("error in thing").level is Level.INFO  # lower case, undecorated


def test_json_lines_railway_structured() -> None:
    line = json.dumps(
        {
            "message": "payment failed",
            "severity": "error",
            "timestamp": "2026-11-21T18:24:59.123456789Z",
            "logger": "app.pay",
            "order_id": 42,
            "attributes": {"region": "eu"},
        }
    )
    record = one(line)
    assert (record.level, record.logger, record.message) == (
        Level.ERROR,
        "app.pay",
        "payment failed",
    )
    assert record.timestamp == datetime(2026, 11, 21, 18, 24, 59, 123456, tzinfo=UTC)
    assert record.attributes == {"order_id": 42, "attributes": {"region": "eu"}}


def test_json_line_with_embedded_traceback() -> None:
    trace = (
        'Traceback (most recent call last):\n  File "/app/app.py", line 7, in pay\n'
        "    charge()\nValueError: card declined"
    )
    record = one(json.dumps({"msg": "charge failed", "levelname": "ERROR", "exc_info": trace}))
    assert record.exception_type == "ValueError"
    assert record.exception_message == "card declined"
    assert record.frames == (Frame("/app/app.py", 7, "pay"),)


@pytest.mark.parametrize(
    "line",
    [
        "{not json",
        "[1, 2]",
        '{"a": "no message key"}',
        "{}",
        '{"timestamp": Infinity, "level": -5, "message": 7}',
        '{"ts": NaN, "level": 1e308}',
        '{"a": ' + "[" * 50_000 + "]" * 50_000 + "}",
    ],
)
def test_odd_json_is_kept(line: str) -> None:
    record = one(line)
    assert record.raw == line and record.message


def test_metadata_wins_over_the_text() -> None:
    parser = RecordParser(fallback_time=T0)
    given = T0 + timedelta(hours=1)
    parser.feed(
        "2026-11-21 18:24:59,511 - app - INFO - hi",
        timestamp=given,
        level=Level.ERROR,
        attributes={"deployment": "d1"},
    )
    (record,) = parser.flush()
    assert (record.timestamp, record.level, record.attributes) == (
        given,
        Level.ERROR,
        {"deployment": "d1"},
    )


UVICORN_TRACEBACK = """\
INFO:     127.0.0.1:1 - "POST /orders HTTP/1.1" 500 Internal Server Error
ERROR:    Exception in ASGI application
Traceback (most recent call last):
  File "/app/.venv/lib/python3.11/site-packages/uvicorn/protocols/http/h11_impl.py", line 411, in run_asgi
    result = await app(  # type: ignore[func-returns-value]
             ^^^^^^^^^^
  File "/app/app.py", line 31, in orders
    user = STATS["users"][body["user_id"]]
           ~~~~~~~~~~~~~~^^^^^^^^^^^^^^^^^
KeyError: 'ghost5187'
INFO:     127.0.0.1:1 - "GET /health HTTP/1.1" 200 OK"""


def test_traceback_is_one_record_with_its_header() -> None:
    records = list(parse_lines(UVICORN_TRACEBACK.splitlines(), fallback_time=T0))
    assert [r.exception_type for r in records] == [None, "KeyError", None]
    tb = records[1]
    assert tb.level is Level.ERROR and tb.logger == "uvicorn.error"
    assert tb.message == "Exception in ASGI application"
    assert tb.exception_message == "'ghost5187'"
    assert tb.frames[-1] == Frame("/app/app.py", 31, "orders")
    assert tb.raw.splitlines()[0] == "ERROR:    Exception in ASGI application"
    assert tb.raw.splitlines()[-1] == "KeyError: 'ghost5187'"


CHAINED = """\
2026-11-21 18:00:00,000 - app.report - ERROR - report failed
Traceback (most recent call last):
  File "/app/app.py", line 70, in load
    return json.loads(raw)
  File "/usr/lib/python3.11/json/__init__.py", line 346, in loads
    return _default_decoder.decode(s)
json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/app/app.py", line 75, in report
    data = load(rid)
ValueError: bad report id

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/app/app.py", line 80, in handler
    raise HTTPError(400) from err
app.errors.HTTPError: 400
    (more detail on an indented line)
2026-11-21 18:00:01,000 - app - INFO - next"""


def test_chained_tracebacks_are_one_record_of_the_final_exception() -> None:
    records = list(parse_lines(CHAINED.splitlines(), fallback_time=T0))
    assert len(records) == 2
    tb = records[0]
    assert tb.exception_type == "app.errors.HTTPError"
    assert tb.exception_message == "400"
    assert tb.frames == (Frame("/app/app.py", 80, "handler"),)
    assert "During handling" in tb.raw and "(more detail" in tb.raw
    assert tb.logger == "app.report" and tb.message == "report failed"
    assert records[1].message == "next"


def test_headerless_traceback_at_end_of_input() -> None:
    lines = [
        "print output",
        "Traceback (most recent call last):",
        '  File "/app/main.py", line 3, in <module>',
        "    main()",
        "ZeroDivisionError: division by zero",
    ]
    records = list(parse_lines(lines, fallback_time=T0))
    assert [r.message for r in records] == ["print output", "ZeroDivisionError: division by zero"]
    assert records[1].level is Level.ERROR and records[1].logger is None


def test_back_to_back_tracebacks_and_a_truncated_one() -> None:
    tb = ["Traceback (most recent call last):", '  File "/a.py", line 1, in f', "E1: x"]
    cut = ["Traceback (most recent call last):", '  File "/b.py", line 2, in g']
    records = list(
        parse_lines(
            tb + tb + cut + ["2026-11-21 18:00:01,000 - a - INFO - after"], fallback_time=T0
        )
    )
    assert [r.exception_type for r in records] == ["E1", "E1", "Traceback", None]


def test_lines_before_the_first_timestamp_take_the_first_that_follows() -> None:
    lines = [
        "INFO:     Started server process [1]",
        "2026-11-21 18:24:54,417 - app - INFO - first stamped",
        "INFO:     later",
    ]
    records = list(parse_lines(lines))
    stamp = datetime(2026, 11, 21, 18, 24, 54, 417000, tzinfo=UTC)
    assert [r.timestamp for r in records] == [stamp, stamp, stamp]
    fixed = list(parse_lines(lines, fallback_time=T0))
    assert fixed[0].timestamp == T0


def test_no_line_is_dropped() -> None:
    lines = ["\x00\x01 binary \ufffd", "   ", "", "x" * 100_000, "{", "Traceback", "ERROR"]
    records = list(parse_lines(lines, fallback_time=T0))
    assert [r.raw for r in records] == [line for line in lines if line.strip()]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-01 12:00:00 +0000", datetime(2024, 1, 1, 12, tzinfo=UTC)),
        ("2024-01-01T12:00:00,5Z", datetime(2024, 1, 1, 12, 0, 0, 500000, tzinfo=UTC)),
        (1_700_000_000_123, datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)),
        ("not a time", None),
        (True, None),
    ],
)
def test_parse_timestamp(value: object, expected: datetime | None) -> None:
    assert parse_timestamp(value) == expected


def test_excerpt_counts() -> None:
    records = list(parse_lines(EXCERPT.read_text().splitlines(), fallback_time=T0))
    kinds = [r.exception_type for r in records if r.exception_type]
    assert (
        kinds.count("KeyError"),
        kinds.count("json.decoder.JSONDecodeError"),
        kinds.count("ZeroDivisionError"),
    ) == (4, 3, 1)
    assert all(r.frames for r in records if r.exception_type)
