"""The request a traceback answered, as the log says it: how a failure is reached.

uvicorn writes the access line first, then the traceback; Flask names the request in the
traceback's header and werkzeug writes the access line (with the query) after it. Only a
5xx access line right before (or a header) counts: a request that succeeded, or one
followed by other lines, says nothing about the traceback.
"""

from __future__ import annotations

from datetime import UTC, datetime

from monitoring.analysis.analyzer import LogAnalyzer
from monitoring.parsing.parser import parse_lines

T0 = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)
TRACEBACK = [
    "Traceback (most recent call last):",
    '  File "/app/app.py", line 31, in orders',
    '    user = STATS["users"][body["user_id"]]',
    "KeyError: 'ghost'",
]


def _requests(lines: list[str]) -> list[object]:
    records = list(parse_lines(lines, fallback_time=T0))
    return [r.attributes.get("request") for r in records if r.exception_type]


def test_uvicorn_access_line_before_the_header_names_the_request():
    lines = [
        'INFO:     127.0.0.1:48970 - "POST /orders HTTP/1.1" 500 Internal Server Error',
        "ERROR:    Exception in ASGI application",
        *TRACEBACK,
    ]
    assert _requests(lines) == ["POST /orders"]


def test_flask_header_names_it_and_the_access_line_after_adds_the_query():
    lines = [
        "[2025-08-19 08:00:17,000] ERROR in app: Exception on /books [GET]",
        *TRACEBACK,
        "[2025-08-19 08:00:17,698] INFO in _internal: 127.0.0.1 - - [19/Aug/2025 08:00:17] "
        '"\x1b[35m\x1b[1mGET /books?max_pages=two HTTP/1.1\x1b[0m" 500 -',
    ]
    assert _requests(lines) == ["GET /books?max_pages=two"]


def test_a_header_that_says_method_and_path_names_it():
    lines = ["2025-04-02 14:00:10,465 [ERROR] app.main: Unhandled error on GET /reports/all"]
    assert _requests(lines + TRACEBACK) == ["GET /reports/all"]


def test_a_successful_or_an_earlier_request_names_nothing():
    ok = ['INFO:     127.0.0.1:1 - "GET /health HTTP/1.1" 200 OK', *TRACEBACK]
    earlier = [
        'INFO:     127.0.0.1:1 - "GET /stats HTTP/1.1" 500 Internal Server Error',
        "INFO:     something else happened in between",
        "ERROR:    Exception in ASGI application",
        *TRACEBACK,
    ]
    assert _requests(ok) == [None]
    assert _requests(earlier) == [None]


def test_a_planted_request_is_kept_as_data_and_reaches_the_anomaly():
    hostile = "/x');__import__('os').system('id');('"
    lines = [
        f'INFO:     127.0.0.1:1 - "GET {hostile} HTTP/1.1" 500 Internal Server Error',
        "ERROR:    Exception in ASGI application",
        *TRACEBACK,
    ] * 3
    records = list(parse_lines(lines, fallback_time=T0))
    [anomaly] = [a for a in LogAnalyzer().analyze(records) if a.exception_type == "KeyError"]
    assert anomaly.details["request"] == f"GET {hostile}"  # reproduce.py refuses to use it
