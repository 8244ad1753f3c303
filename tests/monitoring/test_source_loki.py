"""Loki log source against a fake Loki speaking ``/loki/api/v1/query_range``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from core.models import Level
from fixes.persistence.db import Database
from fixes.persistence.state import StateStore
from monitoring.runtime import build_source
from monitoring.sources import (
    LogSourceAuthError,
    LogSourceError,
    LogSourceUnavailable,
    LokiSource,
)
from monitoring.sources.loki import from_ns, to_ns
from tests.fakes.loki import FakeLoki
from tests.fakes.server import Reply

NOW = datetime(2026, 11, 21, 2, 33, tzinfo=UTC)
API = {"service_name": "api", "env": "prod"}


@pytest.fixture
def loki() -> Iterator[FakeLoki]:
    with FakeLoki() as fake:
        yield fake
        assert fake.invalid == []


def make_source(loki: FakeLoki, **options: object) -> LokiSource:
    options.setdefault("query", '{service_name="api"}')
    options.setdefault("backoff_seconds", 0.01)
    return LokiSource(client=httpx.Client(timeout=5), base_url=loki.url, **options)


def lines(records: list) -> list[str]:
    return [r.message for r in records]


def test_nanosecond_conversions_round_trip() -> None:
    assert to_ns(NOW) == int(NOW.timestamp()) * 1_000_000_000
    assert from_ns(to_ns(NOW) + 1_500) == NOW + timedelta(microseconds=1)


def test_reads_the_window_forward_with_labels_as_attributes(loki) -> None:
    loki.push(
        API,
        [
            (
                NOW - timedelta(seconds=30),
                "2026-11-21 02:32:30,000 - app.db - WARNING - pool exhausted",
            ),
            (NOW - timedelta(seconds=20), "served /orders"),
        ],
    )
    loki.push({"service_name": "worker"}, [(NOW - timedelta(seconds=25), "not selected")])
    batch = make_source(loki).fetch(None, now=NOW)
    assert lines(batch.records) == ["pool exhausted", "served /orders"]
    first = batch.records[0]
    assert (first.level, first.logger, first.service) == (Level.WARNING, "app.db", "api")
    assert first.attributes["env"] == "prod"
    [params] = loki.requests()
    assert params["direction"] == "forward"
    assert params["end"] == str(to_ns(NOW))
    assert params["start"] == str(to_ns(NOW - timedelta(hours=1)))


def test_pages_continue_from_the_last_timestamp_without_repeats(loki) -> None:
    base = to_ns(NOW - timedelta(minutes=2))
    entries = [(base + i * 1000, f"line {i:02d}") for i in range(23)]
    # Four entries share one nanosecond across a page boundary (entries 10..13 of 27).
    entries[10:10] = [(base + 9 * 1000, f"tied {k}") for k in range(4)]
    loki.push(API, entries)
    batch = make_source(loki, page_limit=10).fetch(None, now=NOW)
    assert sorted(lines(batch.records)) == sorted(text for _, text in entries)
    assert len(batch.records) == 27
    assert len(loki.requests()) == 3


def test_consecutive_windows_overlap_but_return_each_line_once(loki) -> None:
    source = make_source(loki, overlap_seconds=30)
    loki.push(API, [(NOW - timedelta(seconds=5), "first")])
    first = source.fetch(None, now=NOW)
    loki.push(
        API, [(NOW - timedelta(seconds=2), "arrived late"), (NOW + timedelta(seconds=10), "second")]
    )
    second = source.fetch(first.cursor, now=NOW + timedelta(seconds=60))
    assert lines(first.records) == ["first"]
    assert lines(second.records) == ["arrived late", "second"]
    assert source.fetch(second.cursor, now=NOW + timedelta(seconds=90)).records == []


def test_a_traceback_split_over_entries_of_one_stream_is_one_record(loki) -> None:
    start = NOW - timedelta(seconds=10)
    loki.push(
        API,
        [
            (start + timedelta(milliseconds=i), text)
            for i, text in enumerate(
                [
                    "Traceback (most recent call last):",
                    '  File "/app/app.py", line 12, in stats',
                    "    return total / count",
                    "ZeroDivisionError: division by zero",
                ]
            )
        ],
    )
    loki.push(
        {"service_name": "api", "env": "canary"},
        [(start + timedelta(microseconds=1500), "canary line")],
    )
    records = make_source(loki).fetch(None, now=NOW).records
    crash = next(r for r in records if r.exception_type)
    assert crash.exception_type == "ZeroDivisionError"
    assert [f.function for f in crash.frames] == ["stats"]
    assert "canary line" in lines(records)


def test_a_traceback_still_being_written_in_one_stream_waits(loki) -> None:
    source = make_source(loki)
    start = NOW - timedelta(seconds=2)
    loki.push(
        API,
        [
            (start, "Traceback (most recent call last):"),
            (start + timedelta(milliseconds=1), '  File "/app/app.py", line 12, in stats'),
        ],
    )
    loki.push({"service_name": "api", "env": "canary"}, [(start, "canary is fine")])
    first = source.fetch(None, now=NOW)
    assert lines(first.records) == ["canary is fine"]
    loki.push(API, [(NOW + timedelta(seconds=1), "ZeroDivisionError: division by zero")])
    [crash] = source.fetch(first.cursor, now=NOW + timedelta(seconds=20)).records
    assert crash.exception_type == "ZeroDivisionError" and crash.frames[0].function == "stats"


def test_a_level_label_sets_the_level(loki) -> None:
    loki.push(
        {"service_name": "api", "level": "error"},
        [(NOW - timedelta(seconds=3), "payment provider said no")],
    )
    [record] = make_source(loki).fetch(None, now=NOW).records
    assert record.level is Level.ERROR


def test_bearer_token_and_401(tmp_path) -> None:
    with FakeLoki(token="s3cret") as loki:
        loki.push(API, [(NOW - timedelta(seconds=3), "ok")])
        assert lines(make_source(loki, token="s3cret").fetch(None, now=NOW).records) == ["ok"]
        with pytest.raises(LogSourceAuthError, match="LOKI_TOKEN"):
            make_source(loki, token="wrong").fetch(None, now=NOW)


def test_429_then_success_and_persistent_503(loki) -> None:
    loki.push(API, [(NOW - timedelta(seconds=3), "after retry")])
    loki.fail_next(Reply.text("too many outstanding requests", 429))
    assert lines(make_source(loki).fetch(None, now=NOW).records) == ["after retry"]
    loki.fail_next(Reply.text("unavailable", 503), times=5)
    with pytest.raises(LogSourceUnavailable):
        make_source(loki, attempts=2).fetch(None, now=NOW)


def test_a_bad_query_is_a_clear_error_not_retried(loki) -> None:
    with pytest.raises(LogSourceError, match="LOKI_QUERY") as refused:
        make_source(loki, query="service_name=api").fetch(None, now=NOW)
    assert "parse error" in str(refused.value)
    assert len(loki.requests()) == 1
    loki.invalid.clear()


def test_build_source_picks_loki_and_keeps_the_cursor(loki, make_settings) -> None:
    settings = make_settings(loki_url=loki.url, loki_query='{service_name="api"}')
    source = build_source(settings, state=StateStore(Database(settings.database_url)))
    assert source is not None and source.name == "loki"
    loki.push(API, [(datetime.now(UTC) - timedelta(seconds=5), "live line")])
    batch = source.fetch()
    source.commit(batch)
    assert lines(batch.records) == ["live line"]
    assert source.fetch().records == []
    assert "Loki at" in source.check()
