"""Railway log source against a fake Railway that validates every query against the schema."""

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
    CursoredSource,
    LogSourceAuthError,
    LogSourceUnavailable,
    RailwaySource,
)
from tests.fakes.railway import FakeRailway
from tests.fakes.server import Reply

NOW = datetime(2026, 11, 21, 2, 33, tzinfo=UTC)


@pytest.fixture
def railway() -> Iterator[FakeRailway]:
    with FakeRailway() as fake:
        fake.deploy("dep-1", created_at=NOW - timedelta(days=1))
        yield fake
        assert fake.invalid == [], "a query did not validate against Railway's schema"


def make_source(railway: FakeRailway, **options: object) -> RailwaySource:
    options.setdefault("api_token", "team-token")
    options.setdefault("backoff_seconds", 0.01)
    return RailwaySource(
        client=httpx.Client(timeout=5),
        api_url=railway.api_url,
        environment_id="env-1",
        service_id="svc-1",
        **options,
    )


def messages(batch_records: list) -> list[str]:
    return [r.message for r in batch_records]


def test_first_fetch_reads_the_lookback_window_with_railway_metadata(railway) -> None:
    railway.add_logs("dep-1", ["too old"], at=NOW - timedelta(hours=2))
    railway.add_logs(
        "dep-1", ["hello", "world"], at=NOW - timedelta(minutes=5), attributes={"request_id": "r-1"}
    )
    batch = make_source(railway).fetch(None, now=NOW)
    assert messages(batch.records) == ["hello", "world"]
    first = batch.records[0]
    assert first.service == "api"
    assert first.timestamp == NOW - timedelta(minutes=5)
    assert first.attributes["request_id"] == "r-1"
    [instance] = railway.queries("serviceInstance")
    assert instance == {"environmentId": "env-1", "serviceId": "svc-1"}


def test_consecutive_windows_return_each_line_once_including_late_and_tied_lines(railway) -> None:
    source = make_source(railway, overlap_seconds=30)
    railway.add_logs("dep-1", ["a", "b"], at=NOW - timedelta(seconds=10))
    tied = NOW - timedelta(seconds=1)
    railway.add_logs("dep-1", ["tie-1", "tie-2", "tie-1"], at=tied, step=timedelta(0))
    first = source.fetch(None, now=NOW)
    assert messages(first.records) == ["a", "b", "tie-1", "tie-2", "tie-1"]
    # A line stamped before the first window's end arrives late, and one more tied line.
    railway.add_logs("dep-1", ["late"], at=NOW - timedelta(seconds=5))
    railway.add_logs("dep-1", ["tie-1"], at=tied)
    railway.add_logs("dep-1", ["next"], at=NOW + timedelta(seconds=20))
    second = source.fetch(first.cursor, now=NOW + timedelta(seconds=60))
    assert messages(second.records) == ["late", "tie-1", "next"]
    third = source.fetch(second.cursor, now=NOW + timedelta(seconds=120))
    assert third.records == []
    windows = railway.queries("deploymentLogs")
    assert windows[1]["startDate"] == "2026-11-21T02:32:30.000000Z"  # 30 s overlap
    assert windows[1]["endDate"] == "2026-11-21T02:34:00.000000Z"


@pytest.mark.parametrize("keep", ["newest", "oldest"])
@pytest.mark.parametrize("extra_on_full", [False, True])
def test_full_windows_are_paged_whichever_end_railway_keeps(keep, extra_on_full) -> None:
    with FakeRailway(keep=keep, extra_on_full=extra_on_full) as railway:
        railway.deploy("dep-1", created_at=NOW - timedelta(days=1))
        lines = [f"line {i:02d}" for i in range(47)]
        railway.add_logs(
            "dep-1", lines, at=NOW - timedelta(minutes=3), step=timedelta(milliseconds=250)
        )
        railway.add_logs(
            "dep-1", ["same instant"] * 3, at=NOW - timedelta(minutes=1), step=timedelta(0)
        )
        batch = make_source(railway, page_limit=10).fetch(None, now=NOW)
        assert messages(batch.records) == lines + ["same instant"] * 3
        assert batch.notes == []
        assert 5 <= len(railway.queries("deploymentLogs")) <= 20
        assert railway.invalid == []


def test_a_page_full_of_one_instant_is_reported_not_looped_on(railway) -> None:
    railway.add_logs("dep-1", ["burst"] * 12, at=NOW - timedelta(seconds=3), step=timedelta(0))
    batch = make_source(railway, page_limit=10).fetch(None, now=NOW)
    assert len(batch.records) == 10
    assert "more than 10 lines at one instant" in batch.notes[0]


def test_a_redeploy_mid_way_keeps_reading_the_old_deployment_until_drained(railway) -> None:
    source = make_source(railway)
    railway.add_logs("dep-1", ["old 1"], at=NOW - timedelta(seconds=30))
    first = source.fetch(None, now=NOW)
    # A new deployment builds while the old one keeps serving and logging.
    railway.deploy("dep-2", status="BUILDING", created_at=NOW + timedelta(seconds=10))
    railway.add_logs("dep-1", ["old 2"], at=NOW + timedelta(seconds=20))
    railway.add_logs("dep-2", ["new 1"], at=NOW + timedelta(seconds=40))
    second = source.fetch(first.cursor, now=NOW + timedelta(seconds=60))
    assert messages(second.records) == ["old 2", "new 1"]
    assert set(second.cursor["deployments"]) == {"dep-1", "dep-2"}
    # The new one is live; the old one logs its last lines while draining.
    railway.set_status("dep-2", "SUCCESS")
    railway.add_logs("dep-1", ["old 3 (draining)"], at=NOW + timedelta(seconds=70))
    railway.add_logs("dep-2", ["new 2"], at=NOW + timedelta(seconds=75))
    third = source.fetch(second.cursor, now=NOW + timedelta(seconds=120))
    assert messages(third.records) == ["old 3 (draining)", "new 2"]
    fourth = source.fetch(third.cursor, now=NOW + timedelta(seconds=180))
    assert fourth.records == []
    assert list(fourth.cursor["deployments"]) == ["dep-2"]  # the drained one is forgotten
    new_windows = [q for q in railway.queries("deploymentLogs") if q["deploymentId"] == "dep-2"]
    assert new_windows[0]["startDate"] <= "2026-11-21T02:33:10"  # read from its creation


def test_a_failed_redeploy_keeps_the_serving_deployment_followed(railway) -> None:
    source = make_source(railway)
    first = source.fetch(None, now=NOW)
    railway.deploy("dep-2", status="BUILDING", created_at=NOW + timedelta(seconds=5))
    railway.add_logs(
        "dep-2",
        ["ImportError: cannot import name 'app'"],
        at=NOW + timedelta(seconds=30),
        severity="error",
    )
    railway.set_status("dep-2", "FAILED")  # it crashed at boot; dep-1 keeps serving
    crashed = source.fetch(first.cursor, now=NOW + timedelta(seconds=40))
    assert messages(crashed.records) == ["ImportError: cannot import name 'app'"]
    quiet = source.fetch(crashed.cursor, now=NOW + timedelta(seconds=60))
    assert quiet.records == [] and "dep-1" in quiet.cursor["deployments"]
    railway.add_logs("dep-1", ["still serving"], at=NOW + timedelta(seconds=70))
    later = source.fetch(quiet.cursor, now=NOW + timedelta(seconds=120))
    assert messages(later.records) == ["still serving"]
    assert "dep-2" not in later.cursor["deployments"]  # failed and drained: dropped
    assert source.fetch(later.cursor, now=NOW + timedelta(seconds=180)).records == []


def test_a_traceback_still_being_written_waits_for_the_next_window(railway) -> None:
    source = make_source(railway, overlap_seconds=30)
    railway.add_logs(
        "dep-1",
        [
            "2026-11-21 02:32:58,000 - app.core - ERROR - order failed",
            "Traceback (most recent call last):",
            '  File "/app/app.py", line 31, in orders',
        ],
        at=NOW - timedelta(seconds=2),
    )
    first = source.fetch(None, now=NOW)
    assert first.records == []  # the header and the half traceback are held
    railway.add_logs(
        "dep-1", ["    return ORDERS[order_id]", "KeyError: 'ghost'"], at=NOW + timedelta(seconds=1)
    )
    [crash] = source.fetch(first.cursor, now=NOW + timedelta(seconds=20)).records
    assert (crash.message, crash.exception_type) == ("order failed", "KeyError")
    assert [f.function for f in crash.frames] == ["orders"]


def test_an_old_unfinished_traceback_is_not_held_forever(railway) -> None:
    railway.add_logs(
        "dep-1",
        ["Traceback (most recent call last):", '  File "/app/app.py", line 31, in orders'],
        at=NOW - timedelta(seconds=20),
    )
    records = make_source(railway, overlap_seconds=30).fetch(None, now=NOW).records
    assert len(records) == 1 and "Traceback" in records[0].raw


def test_429_with_retry_after_then_success(railway) -> None:
    railway.add_logs("dep-1", ["after the wait"], at=NOW - timedelta(seconds=5))
    railway.fail_next(
        Reply.json({"errors": [{"message": "rate limited"}]}, 429, **{"Retry-After": "0.05"})
    )
    railway.fail_next(Reply.json({"error": "bad gateway"}, 502))
    batch = make_source(railway).fetch(None, now=NOW)
    assert messages(batch.records) == ["after the wait"]
    assert len(railway.server.received()) == 4  # 429, 502, then both queries


def test_persistent_5xx_is_unavailable_after_the_attempts(railway) -> None:
    railway.fail_next(Reply.json({"error": "down"}, 503), times=10)
    with pytest.raises(LogSourceUnavailable, match="HTTP 503"):
        make_source(railway, attempts=3).fetch(None, now=NOW)
    assert len(railway.server.received()) == 3


def test_a_bad_team_token_is_a_clear_auth_error_naming_the_variable(railway) -> None:
    with pytest.raises(LogSourceAuthError, match="RAILWAY_API_TOKEN") as refused:
        make_source(railway, api_token="expired").fetch(None, now=NOW)
    assert "Not Authorized" in str(refused.value)
    assert len(railway.server.received()) == 1  # not retried
    [request] = railway.server.received()
    assert request.header("authorization") == "Bearer expired"


def test_project_tokens_go_in_their_own_header(railway) -> None:
    railway.add_logs("dep-1", ["via project token"], at=NOW - timedelta(seconds=5))
    source = make_source(railway, api_token=None, project_token="project-token")
    assert messages(source.fetch(None, now=NOW).records) == ["via project token"]
    request = railway.server.received()[0]
    assert request.header("project-access-token") == "project-token"
    assert request.header("authorization") is None
    with pytest.raises(LogSourceAuthError, match="RAILWAY_TOKEN"):
        make_source(railway, api_token=None, project_token="wrong").check()


def test_structured_severity_sets_the_level_and_tracebacks_are_assembled(railway) -> None:
    railway.add_logs(
        "dep-1",
        ['{"msg": "disk almost full"}'],
        at=NOW - timedelta(seconds=9),
        severity="warn",
        attributes={"level": "warn"},
    )
    railway.add_logs(
        "dep-1",
        ["GET /orders 500"],
        at=NOW - timedelta(seconds=8, milliseconds=500),
        severity="info",
    )
    railway.add_logs(
        "dep-1",
        [
            "Traceback (most recent call last):",
            '  File "/app/app.py", line 31, in orders',
            "    return ORDERS[order_id]",
            "KeyError: 'ghost'",
        ],
        at=NOW - timedelta(seconds=8),
        severity="error",
    )
    records = make_source(railway).fetch(None, now=NOW).records
    assert [r.level for r in records] == [Level.WARNING, Level.INFO, Level.ERROR]
    traceback = records[2]
    assert traceback.exception_type == "KeyError"
    assert traceback.frames[-1].file == "/app/app.py"
    assert traceback.raw.count("\n") == 3
    assert traceback.attributes["railway.severity"] == "error"


def test_cursor_in_the_database_survives_a_restart(railway, database_url) -> None:
    db = Database(database_url)
    state = StateStore(db)
    railway.add_logs("dep-1", ["one", "two"], at=NOW - timedelta(seconds=20))
    clock = iter([NOW, NOW + timedelta(seconds=30), NOW + timedelta(seconds=60)])
    first = CursoredSource(make_source(railway), state=state, clock=lambda: next(clock))
    batch = first.fetch()
    assert messages(batch.records) == ["one", "two"]
    again = first.fetch()  # not committed: the same lines again
    assert messages(again.records) == ["one", "two"]
    first.commit(again)
    first.close()
    railway.add_logs("dep-1", ["three"], at=NOW + timedelta(seconds=40))
    restarted = CursoredSource(
        make_source(railway),
        state=StateStore(Database(database_url)),
        clock=lambda: NOW + timedelta(seconds=90),
    )
    assert messages(restarted.fetch().records) == ["three"]
    db.dispose()


def test_build_source_picks_railway_from_settings(railway, make_settings, tmp_path) -> None:
    settings = make_settings(
        railway_api_token="team-token",
        railway_environment_id="env-1",
        railway_service_id="svc-1",
        railway_api_url=railway.api_url,
    )
    state = StateStore(Database(settings.database_url))
    source = build_source(settings, state=state)
    assert source is not None and source.name == "railway"
    assert "deployment dep-1" in source.check()
    assert build_source(make_settings(), state=state) is None
