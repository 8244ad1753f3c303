"""Log parsing: turn raw log lines into ``LogRecord``s (one per logical event).

:class:`RecordParser` routes each line, cheapest first (by the line's first character):

* JSON lines (``{...}``): ``message``/``msg``, ``level``/``severity``, ``timestamp``/``time``,
  ``logger``/``name``; every other key is kept in ``attributes``; a traceback in
  ``exc_info``/``exception``/``stack_trace`` is parsed into frames. (Railway's structured
  logs carry the same keys.)
* ``Traceback (most recent call last):`` starts a Python traceback, which
  :mod:`monitoring.parsing.tracebacks` assembles (including chained ones joined by "During
  handling of the above exception..." or "The above exception was the direct cause...").
* Any other line is read by :mod:`monitoring.parsing.line_formats`: Python ``logging`` layouts,
  ``basicConfig``'s ``LEVEL:name:message``, uvicorn, gunicorn, Apache-style and syslog.
  A line in none of them is a plain record; its level is the first level word among its
  first :data:`LEVEL_SCAN_TOKENS` tokens (``FATAL``, ``ERROR``, ``[warn]``, ``error:``...),
  else INFO.

A traceback becomes ONE record. When the line just before it is a record at WARNING or
above (``logger.exception(...)``, uvicorn's "Exception in ASGI application"), that record
is its header: the traceback keeps the header's timestamp, level, logger and message.
Records are therefore emitted one line late (a line may still turn out to be a traceback's
header); :meth:`RecordParser.flush` emits the rest.

The request a traceback answered is kept as ``attributes["request"]`` (``"GET /rooms/r9"``)
when the log says it: a header that names it (Flask's ``Exception on /rooms/r9 [GET]``,
or ``... GET /rooms/r9``), or an access line with a 5xx status right before the traceback
and its header (uvicorn writes the access line first); a 5xx access line right after the
traceback gives a header's path its query string. The path is kept as logged (masked
later, like every log text).

The public names of ``line_formats`` and ``tracebacks`` that callers use
(:func:`parse_timestamp`, :func:`level_from`, the limits) are importable from here too.

Nothing raises on content: a line no parser understands is a plain record, never dropped.
Whitespace-only lines outside a traceback carry nothing and are skipped. Naive timestamps
are taken as UTC.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from core.models import Level, LogRecord
from monitoring.parsing.line_formats import (
    LEVEL_SCAN_TOKENS,
    level_from,
    parse_text,
    parse_timestamp,
)
from monitoring.parsing.tracebacks import (
    MAX_FRAMES,
    MAX_TRACEBACK_CHARS,
    TRACEBACK_START,
    TracebackAssembler,
    attach_traceback,
)

__all__ = [
    "LEVEL_SCAN_TOKENS",
    "MAX_FRAMES",
    "MAX_TRACEBACK_CHARS",
    "MAX_UNTIMED_HELD",
    "RecordParser",
    "level_from",
    "parse_lines",
    "parse_timestamp",
]

#: Records held back while waiting for a first timestamp (see ``RecordParser``).
MAX_UNTIMED_HELD = 1000
_METHODS = r"GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS"
#: An access line's request and status: ``"GET /x HTTP/1.1" 500`` (uvicorn, werkzeug,
#: gunicorn; the protocol may be left out).
_ACCESS_LINE = re.compile(rf'"({_METHODS}) (/[^\s"]{{0,2000}})(?: HTTP/[\d.]+)?" (\d{{3}})')
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # werkzeug colours its access lines
#: A traceback's header that names the request: ``Exception on /x [GET]`` (Flask) or
#: ``... GET /x ...``.
_HEADER_REQUEST = re.compile(
    rf"(/[^\s\[\]\"]{{0,2000}}) \[({_METHODS})\]|\b({_METHODS}) (/[^\s\"]{{0,2000}})"
)
#: Placeholder time of a record whose time is not known yet (identity-compared).
_UNSET = datetime(1970, 1, 1, tzinfo=UTC)
_INFO = Level.INFO

_JSON_MESSAGE = ("message", "msg", "event", "log", "text")
_JSON_LEVEL = ("level", "severity", "levelname", "lvl", "log.level", "loglevel")
_JSON_TIME = ("timestamp", "time", "ts", "@timestamp", "asctime", "datetime")
_JSON_LOGGER = ("logger", "logger_name", "name", "log.logger")
_JSON_EXCEPTION = (
    "exc_info",
    "exception",
    "stack_trace",
    "stacktrace",
    "traceback",
    "error.stack_trace",
    "stack",
)


class RecordParser:
    """Incremental parser: feed lines (with a source's metadata), get records back.

    Args:
        service: stamped on every record (``LogRecord.service``).
        fallback_time: timestamp for lines before the first one that carries a time.
            When None, such records are held back (up to :data:`MAX_UNTIMED_HELD`) and
            get the first timestamp that follows them; if none comes, the time they were
            released (aware UTC).
    """

    def __init__(
        self, *, service: str | None = None, fallback_time: datetime | None = None
    ) -> None:
        self.service = service
        self._last_time: datetime | None = fallback_time
        self._pending: LogRecord | None = None
        self._traceback: TracebackAssembler | None = None
        self._untimed: list[LogRecord] | None = None if fallback_time else []
        self._failed_request: str | None = None  # a 5xx access line not yet followed by others
        self._traceback_request: str | None = None

    def feed(
        self,
        line: str,
        *,
        timestamp: datetime | None = None,
        level: Level | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> list[LogRecord]:
        """Parse one line; returns the records this line completed (often the previous one).

        Args:
            line: one line of text, with or without its line ending.
            timestamp, level, attributes: what the log source knows about the line
                (Railway's timestamp/severity/attributes, Loki's time and labels); they win
                over what the text says. ``timestamp`` must be aware.

        Returns:
            Zero or more records, oldest first. A traceback is held until its end.
        """
        done = self._feed(line, timestamp, level, attributes)
        if self._untimed is None:
            return done
        self._untimed.extend(done)
        if self._last_time is None and len(self._untimed) < MAX_UNTIMED_HELD:
            return []
        return self._release(self._last_time or datetime.now(UTC))

    def _release(self, stamp: datetime) -> list[LogRecord]:
        """Give held records without a time ``stamp``; stop holding."""
        held, self._untimed = self._untimed or [], None
        for record in held:
            if record.timestamp is _UNSET:
                record.timestamp = stamp
        return held

    def _feed(
        self,
        line: str,
        timestamp: datetime | None,
        level: Level | None,
        attributes: dict[str, Any] | None,
    ) -> list[LogRecord]:
        line = line.rstrip("\r\n")
        done: list[LogRecord] = []
        if self._traceback is not None:
            if self._traceback.accept(line):
                return done
            done.append(self._finish_traceback())
            _complete_request(done[-1], line)
        elif line and line[0] != "T" and not line.isspace():  # the common case: one line
            record = self._parse(line, timestamp, level, attributes)
            pending, self._pending = self._pending, record
            return done if pending is None else [pending]
        if line.startswith(TRACEBACK_START):
            header = self._take_header()
            if header is None and self._pending is not None:
                done.append(self._pending)
                self._pending = None
            self._traceback_request = self._request_of(header)
            if timestamp is not None:
                self._last_time = timestamp
            self._traceback = TracebackAssembler(
                header, timestamp or self._last_time or _UNSET, level, attributes
            )
            return done
        if not line or line.isspace():
            return done
        record = self._parse(line, timestamp, level, attributes)
        if self._pending is not None:
            done.append(self._pending)
        self._pending = record
        return done

    def flush(self) -> list[LogRecord]:
        """Emit whatever is held (a last record, an unfinished traceback); call at the end.

        Returns:
            The remaining records, oldest first, including any still held for a first
            timestamp; those without a time get the last time seen, else now (UTC).
        """
        done: list[LogRecord] = []
        if self._traceback is not None:
            done.append(self._finish_traceback())
        elif self._pending is not None:
            done.append(self._pending)
        self._pending = None
        if self._untimed is not None:
            self._untimed.extend(done)
            return self._release(self._last_time or datetime.now(UTC))
        return done

    def _finish_traceback(self) -> LogRecord:
        assert self._traceback is not None
        record = self._traceback.record(self.service)
        self._traceback = None
        if self._traceback_request:
            record.attributes.setdefault("request", self._traceback_request)
        return record

    def _request_of(self, header: LogRecord | None) -> str | None:
        """The request the traceback starting now answered, if the log said which."""
        named = _HEADER_REQUEST.search(header.message) if header is not None else None
        request: str | None = self._failed_request
        if named:
            request = f"{named[2]} {named[1]}" if named[1] else f"{named[3]} {named[4]}"
        self._failed_request = None
        return request

    def _note_request(self, record: LogRecord) -> None:
        """Remember a 5xx access line until a record other than a traceback's header."""
        access = _access(record.message)
        if access and access[3].startswith("5"):
            self._failed_request = f"{access[1]} {access[2]}"
        elif record.level.rank < Level.WARNING.rank:
            self._failed_request = None

    def _take_header(self) -> LogRecord | None:
        pending = self._pending
        if pending is not None and pending.level.rank >= Level.WARNING.rank:
            self._pending = None
            return pending
        return None

    def _parse(
        self,
        line: str,
        timestamp: datetime | None,
        level: Level | None,
        attributes: dict[str, Any] | None,
    ) -> LogRecord:
        if line[0] == "{":
            record = self._parse_json(line)
            if record is not None:
                return self._apply(record, timestamp, level, attributes)
        text_time, text_level, logger, message = parse_text(line)
        if timestamp is not None:
            self._last_time = timestamp
        elif text_time is not None:
            self._last_time = timestamp = text_time
        record = LogRecord(
            timestamp or self._last_time or _UNSET,
            level or text_level or _INFO,
            message,
            line,
            logger,
            self.service,
            dict(attributes) if attributes else {},
        )
        self._note_request(record)
        return record

    def _apply(
        self,
        record: LogRecord,
        timestamp: datetime | None,
        level: Level | None,
        attributes: dict[str, Any] | None,
    ) -> LogRecord:
        if timestamp is not None:
            record.timestamp = timestamp
        if level is not None:
            record.level = level
        if attributes:
            record.attributes.update(attributes)
        if record.timestamp is not _UNSET:
            self._last_time = record.timestamp
        return record

    def _parse_json(self, line: str) -> LogRecord | None:
        try:
            data = json.loads(line)
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            return None
        if not isinstance(data, dict):
            return None
        message = _pop_first(data, _JSON_MESSAGE)
        level = level_from(_pop_first(data, _JSON_LEVEL))
        stamp = parse_timestamp(_pop_first(data, _JSON_TIME))
        logger = _pop_first(data, _JSON_LOGGER)
        exc_text = _pop_first(data, _JSON_EXCEPTION)
        record = LogRecord(
            timestamp=stamp or self._last_time or _UNSET,
            level=level or Level.INFO,
            message=message
            if isinstance(message, str)
            else line
            if message is None
            else json.dumps(message),
            raw=line,
            logger=logger if isinstance(logger, str) else None,
            service=self.service,
            attributes=data,
        )
        if isinstance(exc_text, str) and TRACEBACK_START in exc_text:
            attach_traceback(record, exc_text)
        elif exc_text is not None:
            data["exception"] = exc_text
        return record


def _access(text: str) -> re.Match[str] | None:
    return _ACCESS_LINE.search(_ANSI.sub("", text) if "\x1b" in text else text)


def _complete_request(record: LogRecord, line: str) -> None:
    """Give a traceback's request its query string from the access line right after it
    (werkzeug logs that line last; Flask's header leaves the query out)."""
    access = _access(line)
    if not (access and access[3].startswith("5") and "?" in access[2]):
        return
    if record.attributes.get("request") == f"{access[1]} {access[2].split('?', 1)[0]}":
        record.attributes["request"] = f"{access[1]} {access[2]}"


def _pop_first(data: dict[str, Any], keys: tuple[str, ...]) -> Any:
    """Remove and return the first of ``keys`` present in ``data`` (None if none is)."""
    for key in keys:
        if key in data:
            return data.pop(key)
    return None


def parse_lines(lines: Iterable[str], **kw: Any) -> Iterator[LogRecord]:
    """Parse a whole stream of lines (keyword arguments go to :class:`RecordParser`).

    Args:
        lines: lines of text, with or without their line endings.
        **kw: ``service`` and ``fallback_time``, as for :class:`RecordParser`.

    Yields:
        Records in order; the held last record or traceback comes at the end.
    """
    parser = RecordParser(**kw)
    feed = parser.feed
    for line in lines:
        yield from feed(line)
    yield from parser.flush()
