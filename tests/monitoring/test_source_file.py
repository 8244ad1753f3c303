"""File and command log sources: offsets, rotation, timeouts, overlapping command output."""

from __future__ import annotations

import shlex
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fixes.persistence.db import Database
from fixes.persistence.state import StateStore
from monitoring.runtime import build_source
from monitoring.sources import (
    CommandSource,
    CursoredSource,
    FileSource,
    LogSourceError,
    LogSourceUnavailable,
)

NOW = datetime(2026, 11, 21, 2, 33, tzinfo=UTC)


def line(n: int) -> str:
    """One Python logging line, ``event <n>`` at second ``n`` past 02:00."""
    return f"2026-11-21 02:{n // 60:02d}:{n % 60:02d},000 - app - INFO - event {n}\n"


def messages(records: list) -> list[str]:
    return [r.message for r in records]


class Follower:
    """A file source whose cursor is kept between fetches, as the monitor does."""

    def __init__(self, path: Path, **options: object) -> None:
        self.source = FileSource(path=path, **options)
        self.cursor: dict | None = None

    def read(self) -> list[str]:
        batch = self.source.fetch(self.cursor, now=NOW)
        self.cursor = batch.cursor
        self.notes = batch.notes
        return messages(batch.records)


def test_follows_appends_and_holds_back_a_partial_last_line(tmp_path) -> None:
    log = tmp_path / "app.log"
    log.write_text(line(1) + line(2))
    follow = Follower(log)
    assert follow.read() == ["event 1", "event 2"]
    with log.open("a") as handle:
        handle.write(line(3) + "2026-11-21 02:00:04,000 - app - INFO - half")
    assert follow.read() == ["event 3"]
    with log.open("a") as handle:
        handle.write(" a line\n")
    assert follow.read() == ["half a line"]
    assert follow.read() == []


def test_a_traceback_still_being_written_is_read_whole_next_time(tmp_path) -> None:
    log = tmp_path / "app.log"
    log.write_text(
        line(1) + "2026-11-21 02:00:02,000 - app - ERROR - order failed\n"
        "Traceback (most recent call last):\n"
        '  File "/app/app.py", line 31, in orders\n'
    )
    follow = Follower(log)
    assert follow.read() == ["event 1"]
    with log.open("a") as handle:
        handle.write("    return ORDERS[order_id]\nKeyError: 'ghost'\n" + line(3))
    batch = follow.source.fetch(follow.cursor, now=NOW)
    crash, after = batch.records
    assert (crash.message, crash.exception_type, after.message) == (
        "order failed",
        "KeyError",
        "event 3",
    )
    old = Follower(log, hold_seconds=0)  # an old file's unfinished end is taken as it is
    log.write_text(line(1) + "Traceback (most recent call last):\n")
    assert len(old.read()) == 2


def test_a_missing_file_is_waited_for(tmp_path) -> None:
    log = tmp_path / "later.log"
    follow = Follower(log)
    assert follow.read() == []
    assert "does not exist yet" in follow.source.check()
    log.write_text(line(1))
    assert follow.read() == ["event 1"]


def test_rotation_by_rename_reads_the_old_tail_then_the_new_file(tmp_path) -> None:
    log = tmp_path / "app.log"
    log.write_text(line(1))
    follow = Follower(log)
    assert follow.read() == ["event 1"]
    with log.open("a") as handle:
        handle.write(line(2) + "2026-11-21 02:00:03,000 - app - ERROR - unterminated")
    log.rename(tmp_path / "app.log.1")
    log.write_text(line(4))
    assert follow.read() == ["event 2", "unterminated", "event 4"]
    assert "rotated" in follow.notes[0]
    assert follow.read() == []


def test_copytruncate_starts_the_file_again(tmp_path) -> None:
    log = tmp_path / "app.log"
    log.write_text(line(1) + line(2))
    follow = Follower(log)
    follow.read()
    with log.open("r+") as handle:
        handle.truncate(0)
    with log.open("a") as handle:
        handle.write(line(3))
    assert follow.read() == ["event 3"]


def test_a_rewritten_file_of_the_same_size_is_read_from_the_start(tmp_path) -> None:
    log = tmp_path / "app.log"
    log.write_text(line(1))
    follow = Follower(log)
    follow.read()
    log.write_text(line(7) + line(8))  # same inode, new content longer than before
    assert follow.read() == ["event 7", "event 8"]


def test_first_start_on_a_big_file_reads_only_its_end(tmp_path) -> None:
    log = tmp_path / "app.log"
    log.write_text("".join(line(n) for n in range(1000)))
    follow = Follower(log, initial_bytes=500)
    seen = follow.read()
    assert 5 <= len(seen) <= 10
    assert seen[-1] == "event 999"
    assert all(text.startswith("event ") for text in seen)  # no half line


def test_max_bytes_bounds_one_fetch_and_the_rest_follows(tmp_path) -> None:
    log = tmp_path / "app.log"
    log.write_text("".join(line(n) for n in range(100)))
    follow = Follower(log, max_bytes=1000)
    first, second = follow.read(), follow.read()
    assert first and second and first[-1] != second[0]
    rest = []
    while batch := follow.read():
        rest += batch
    assert first + second + rest == [f"event {n}" for n in range(100)]


def test_file_cursor_survives_a_restart_through_the_database(tmp_path, database_url) -> None:
    log = tmp_path / "app.log"
    log.write_text(line(1))
    source = CursoredSource(FileSource(path=log), state=StateStore(Database(database_url)))
    source.commit(source.fetch())
    with log.open("a") as handle:
        handle.write(line(2))
    again = CursoredSource(FileSource(path=log), state=StateStore(Database(database_url)))
    assert messages(again.fetch().records) == ["event 2"]


def test_a_path_that_cannot_be_read_is_a_source_error(tmp_path) -> None:
    folder = tmp_path / "app.log"
    folder.mkdir()  # e.g. a volume mounted where the file was expected
    with pytest.raises(LogSourceError, match="cannot read"):
        FileSource(path=folder).fetch(None, now=NOW)


# --- command source ------------------------------------------------------------------------------
def test_command_output_is_parsed_and_overlaps_are_dropped(tmp_path) -> None:
    log = tmp_path / "app.log"
    log.write_text(line(1) + line(2))
    source = CommandSource(command=f"tail -n 2 {shlex.quote(str(log))}")
    first = source.fetch(None, now=NOW)
    assert messages(first.records) == ["event 1", "event 2"]
    with log.open("a") as handle:
        handle.write(line(3))
    second = source.fetch(first.cursor, now=NOW)
    assert messages(second.records) == ["event 3"]
    assert source.fetch(second.cursor, now=NOW).records == []


def test_command_gets_the_newest_time_read_so_far(tmp_path) -> None:
    script = tmp_path / "since.sh"
    script.write_text('echo "2026-11-21 02:00:09,000 - app - INFO - since=[$MENDBOT_SINCE]"\n')
    source = CommandSource(command=f"sh {shlex.quote(str(script))}")
    first = source.fetch(None, now=NOW)
    assert messages(first.records) == ["since=[]"]
    script.write_text('echo "2026-11-21 02:00:10,000 - app - INFO - since=[$MENDBOT_SINCE]"\n')
    second = source.fetch(first.cursor, now=NOW)
    assert messages(second.records) == ["since=[2026-11-21T02:00:09.000000Z]"]


def test_command_failure_and_timeout_are_source_errors(tmp_path) -> None:
    with pytest.raises(LogSourceError, match="exited with status 3: boom"):
        CommandSource(command="echo boom >&2; exit 3").fetch(None, now=NOW)
    started = datetime.now(UTC)
    with pytest.raises(LogSourceUnavailable, match=r"did not finish within 0\.5 s"):
        CommandSource(
            command=f"{shlex.quote(sys.executable)} -c 'import time; time.sleep(30)'",
            timeout_seconds=0.5,
        ).fetch(None, now=NOW)
    assert datetime.now(UTC) - started < timedelta(seconds=5)


def test_build_source_picks_file_then_command(tmp_path, make_settings) -> None:
    state = StateStore(Database(f"sqlite:///{tmp_path / 'state.db'}"))
    chosen = build_source(make_settings(log_file=tmp_path / "x.log"), state=state)
    assert chosen is not None and chosen.name == "file"
    chosen = build_source(make_settings(log_command="true"), state=state)
    assert chosen is not None and chosen.name == "command"
