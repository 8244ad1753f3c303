"""Log analysis: turn raw log lines into ``LogRecord``s (one per logical event).

Formats recognised, cheapest routing first (by the line's first character):

* JSON lines (``{...}``): ``message``/``msg``, ``level``/``severity``, ``timestamp``/``time``,
  ``logger``/``name``; every other key is kept in ``attributes``; a traceback in
  ``exc_info``/``exception``/``stack_trace`` is parsed into frames. (Railway's structured
  logs carry the same keys.)
* Python ``logging``: ``%(asctime)s - %(name)s - %(levelname)s - %(message)s``, the same
  without the name, ``%(asctime)s [%(levelname)s] %(name)s: %(message)s`` and similar
  (timestamp first, a level word among the next tokens), and the ``basicConfig`` default
  ``LEVEL:name:message``.
* uvicorn (``INFO:     127.0.0.1:... "GET / HTTP/1.1" 200 OK``) and gunicorn
  (``[2024-01-01 12:00:00 +0000] [7] [INFO] Booting worker``), Apache-style
  ``[date] [error] ...``, and syslog (``Jun 14 15:16:01 host prog[pid]: ...``).
* Anything else is a plain record. Its level is the first level word among its first
  :data:`LEVEL_SCAN_TOKENS` tokens (``FATAL``, ``ERROR``, ``[warn]``, ``error:``...), else INFO.

A Python traceback (``Traceback (most recent call last):`` up to the exception line,
including chained ones joined by "During handling of the above exception..." or "The above
exception was the direct cause...") becomes ONE record. When the line just before it is a
record at WARNING or above (``logger.exception(...)``, uvicorn's "Exception in ASGI
application"), that record is its header: the traceback keeps the header's timestamp,
level, logger and message. Records are therefore emitted one line late (a line may still
turn out to be a traceback's header); :meth:`RecordParser.flush` emits the rest.

Nothing raises on content: a line no parser understands is a plain record, never dropped.
Whitespace-only lines outside a traceback carry nothing and are skipped. Naive timestamps
are taken as UTC.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from monitoring.models import Frame, Level, LogRecord

#: How many leading tokens of an unknown line are searched for a level word.
LEVEL_SCAN_TOKENS = 12
#: A traceback keeps at most this many raw characters (the rest is consumed, not kept).
MAX_TRACEBACK_CHARS = 64 * 1024
#: And at most this many frames per exception (the innermost ones are kept).
MAX_FRAMES = 200
#: Records held back while waiting for a first timestamp (see ``RecordParser``).
MAX_UNTIMED_HELD = 1000
#: Placeholder time of a record whose time is not known yet (identity-compared).
_UNSET = datetime(1970, 1, 1, tzinfo=UTC)

_LEVEL_WORDS: dict[str, Level] = {
    "TRACE": Level.DEBUG,
    "DEBUG": Level.DEBUG,
    "INFO": Level.INFO,
    "NOTICE": Level.INFO,
    "WARN": Level.WARNING,
    "WARNING": Level.WARNING,
    "ERR": Level.ERROR,
    "ERROR": Level.ERROR,
    "SEVERE": Level.ERROR,
    "CRIT": Level.CRITICAL,
    "CRITICAL": Level.CRITICAL,
    "FATAL": Level.CRITICAL,
    "ALERT": Level.CRITICAL,
    "EMERG": Level.CRITICAL,
    "EMERGENCY": Level.CRITICAL,
    "PANIC": Level.CRITICAL,
}
#: Tokens that state a level: bare upper-case words, and any case when decorated.
_LEVEL_TOKENS: dict[str, Level] = {
    decorated % variant: level
    for word, level in _LEVEL_WORDS.items()
    for variant in (word, word.lower(), word.title())
    for decorated in ("[%s]", "%s:", "[%s]:", "<%s>", "(%s)", "|%s|")
} | _LEVEL_WORDS
_INFO = Level.INFO
_NUMERIC_LEVELS = (
    (50, Level.CRITICAL),
    (40, Level.ERROR),
    (30, Level.WARNING),
    (20, Level.INFO),
    (0, Level.DEBUG),
)

_TS = r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?: ?(?:Z|[+-]\d{2}:?\d{2}))?"
_TS_PREFIX = re.compile(rf"({_TS})(?:\s*[|,]?\s*)")
_PY_DASHES = re.compile(r"- (?:(\S+) - )?([A-Za-z]+) - ")
_UVICORN = re.compile(r"([A-Z]+):( +)")
_BASIC = re.compile(r"([A-Z]+):([\w.-]*):")
_BRACKETED = re.compile(r"\[([^\]]{6,40})\] (?:\[(\d+)\] )?\[([A-Za-z]+)\] ")
_SYSLOG = re.compile(
    r"[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d (\S+) ([^\s:\[]+(?:\([^)\s]*\))?)(?:\[\d+\])?: "
)
_ACCESS = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}:\d+ - \"")

_TRACEBACK_START = "Traceback (most recent call last):"
_CHAIN_MARKERS = frozenset(
    {
        "During handling of the above exception, another exception occurred:",
        "The above exception was the direct cause of the following exception:",
    }
)
_FRAME = re.compile(r'\s+File "([^"]+)", line (\d+), in (.+)')
_EXCEPTION_LINE = re.compile(r"([A-Za-z_][\w.]*)(?::(?: (.*))?)?")

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


def level_from(value: object) -> Level | None:
    """A :class:`Level` from a level word (any case) or a Python ``logging`` number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return next((level for floor, level in _NUMERIC_LEVELS if value >= floor), Level.DEBUG)
    if isinstance(value, str):
        return _LEVEL_WORDS.get(value.strip().upper())
    return None


def parse_timestamp(value: object) -> datetime | None:
    """An aware UTC datetime from ISO 8601 text or epoch seconds/ms/us/ns; None if neither."""
    try:
        if isinstance(value, str):
            text = value.strip()
            tail = text[19:]
            if not (tail.endswith("Z") or "+" in tail or "-" in tail):
                text += "+00:00"  # naive: UTC (cheaper than datetime.replace afterwards)
            stamp = datetime.fromisoformat(text)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            seconds = float(value)
            if not math.isfinite(seconds):  # json.loads accepts NaN and Infinity
                return None
            while seconds > 1e11:  # ms, us or ns since the epoch
                seconds /= 1000.0
            stamp = datetime.fromtimestamp(seconds, UTC)
        else:
            return None
    except (ValueError, OverflowError, OSError):
        return None
    if stamp.tzinfo is UTC:
        return stamp
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def _scan_level(text: str) -> tuple[Level, str | None, str] | None:
    """Find a level word among the first tokens: (level, logger, message after it), or None.

    Upper-case words count bare (``FATAL``); other cases only when bracketed or followed
    by a colon (``[error]``, ``Error:``). A ``name:`` right after the level is the logger.
    """
    parts = text.split(None, LEVEL_SCAN_TOKENS)
    hits = _LEVEL_TOKENS.keys() & parts[:LEVEL_SCAN_TOKENS]
    if not hits:
        return None
    index = parts.index(hits.pop()) if len(hits) == 1 else min(map(parts.index, hits))
    rest = parts[index + 1 :]
    logger = None
    if len(rest) > 1 and rest[0].endswith(":") and len(rest[0]) > 1:
        logger, rest = rest[0][:-1].strip("[]"), rest[1:]
    return _LEVEL_TOKENS[parts[index]], logger, " ".join(rest)


class _Traceback:
    """A traceback being read: frames of the newest exception, its type and message."""

    __slots__ = (
        "attributes",
        "exc_message",
        "exc_type",
        "frames",
        "header",
        "level",
        "lines",
        "size",
        "state",
        "timestamp",
    )

    def __init__(
        self,
        header: LogRecord | None,
        timestamp: datetime,
        level: Level | None,
        attributes: dict[str, Any] | None,
    ) -> None:
        self.header, self.timestamp, self.level = header, timestamp, level
        self.attributes = attributes
        self.lines: list[str] = [_TRACEBACK_START]
        self.size = len(_TRACEBACK_START)
        self.frames: list[Frame] = []
        self.exc_type: str | None = None
        self.exc_message: str | None = None
        self.state = "frames"  # frames -> exception seen -> chain marker -> frames ...

    def accept(self, line: str) -> bool:
        """Take ``line`` if it continues the traceback; False when the traceback is over."""
        if not self._continues(line):
            return False
        if self.size < MAX_TRACEBACK_CHARS:
            self.lines.append(line)
            self.size += len(line) + 1
        return True

    def _continues(self, line: str) -> bool:
        stripped = line.strip()
        if self.state == "frames":
            if line[:1] in (" ", "\t") and stripped:
                frame = _FRAME.fullmatch(line)
                if frame:
                    self.frames.append(Frame(frame[1], int(frame[2]), frame[3].strip()))
                    if len(self.frames) > MAX_FRAMES:
                        del self.frames[0]
                return True
            exc = _EXCEPTION_LINE.fullmatch(stripped)
            if exc is None or exc[1] in _LEVEL_WORDS or stripped != line.rstrip():
                return False
            self.exc_type, self.exc_message, self.state = exc[1], exc[2] or "", "raised"
            return True
        if not stripped:
            return True
        if stripped in _CHAIN_MARKERS:
            self.state = "chained"
            return True
        if self.state == "chained":
            if stripped == _TRACEBACK_START:
                self.frames, self.exc_type, self.state = [], None, "frames"
                return True
            return False
        return line[:1] in (" ", "\t")  # a multi-line exception message

    def record(self, service: str | None) -> LogRecord:
        """The finished traceback as one record (merged with its header, if any)."""
        raw = "\n".join(self.lines).rstrip()
        exc_type = self.exc_type or "Traceback"
        exc_message = self.exc_message
        header = self.header
        if header is not None:
            return LogRecord(
                timestamp=header.timestamp,
                level=header.level,
                message=header.message,
                raw=header.raw + "\n" + raw,
                logger=header.logger,
                service=header.service,
                attributes=header.attributes,
                exception_type=exc_type,
                exception_message=exc_message,
                frames=tuple(self.frames),
            )
        message = f"{exc_type}: {exc_message}" if exc_message else exc_type
        return LogRecord(
            timestamp=self.timestamp,
            level=self.level or Level.ERROR,
            message=message,
            raw=raw,
            service=service,
            attributes=dict(self.attributes or {}),
            exception_type=exc_type,
            exception_message=exc_message,
            frames=tuple(self.frames),
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
        self._traceback: _Traceback | None = None
        self._untimed: list[LogRecord] | None = None if fallback_time else []

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
            done.append(self._traceback.record(self.service))
            self._traceback = None
        elif line and line[0] != "T" and not line.isspace():  # the common case: one line
            record = self._parse(line, timestamp, level, attributes)
            pending, self._pending = self._pending, record
            return done if pending is None else [pending]
        if line.startswith(_TRACEBACK_START):
            header = self._take_header()
            if header is None and self._pending is not None:
                done.append(self._pending)
                self._pending = None
            if timestamp is not None:
                self._last_time = timestamp
            self._traceback = _Traceback(
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
        """Emit whatever is held (a last record, an unfinished traceback); call at the end."""
        done: list[LogRecord] = []
        if self._traceback is not None:
            done.append(self._traceback.record(self.service))
            self._traceback = None
        elif self._pending is not None:
            done.append(self._pending)
        self._pending = None
        if self._untimed is not None:
            self._untimed.extend(done)
            return self._release(self._last_time or datetime.now(UTC))
        return done

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
        text_time, text_level, logger, message = _parse_text(line)
        if timestamp is not None:
            self._last_time = timestamp
        elif text_time is not None:
            self._last_time = timestamp = text_time
        return LogRecord(
            timestamp or self._last_time or _UNSET,
            level or text_level or _INFO,
            message,
            line,
            logger,
            self.service,
            dict(attributes) if attributes else {},
        )

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
        if isinstance(exc_text, str) and _TRACEBACK_START in exc_text:
            _attach_traceback(record, exc_text)
        elif exc_text is not None:
            data["exception"] = exc_text
        return record


def _pop_first(data: dict[str, Any], keys: tuple[str, ...]) -> Any:
    """Remove and return the first of ``keys`` present in ``data`` (None if none is)."""
    for key in keys:
        if key in data:
            return data.pop(key)
    return None


def _attach_traceback(record: LogRecord, text: str) -> None:
    """Fill a record's exception fields from a traceback embedded in a JSON field."""
    lines = text[text.index(_TRACEBACK_START) :].splitlines()
    builder = _Traceback(None, record.timestamp, record.level, None)
    for line in lines[1:]:
        if not builder.accept(line):
            break
    record.exception_type = builder.exc_type or "Traceback"
    record.exception_message = builder.exc_message
    record.frames = tuple(builder.frames)
    if not record.message:
        record.message = f"{record.exception_type}: {record.exception_message or ''}".rstrip()


def _parse_text(line: str) -> tuple[datetime | None, Level | None, str | None, str]:
    """(timestamp, level, logger, message) of a non-JSON line; message = line if unknown."""
    first = line[0]
    if first.isdigit():
        stamped = _TS_PREFIX.match(line)
        if stamped:
            return _after_timestamp(parse_timestamp(stamped[1]), line[stamped.end() :])
    elif first.isupper():
        known = _parse_upper(line)
        if known is not None:
            return known
    elif first == "[":
        bracketed = _BRACKETED.match(line)
        if bracketed and bracketed[3].upper() in _LEVEL_WORDS:
            return (
                parse_timestamp(bracketed[1]),
                _LEVEL_WORDS[bracketed[3].upper()],
                None,
                line[bracketed.end() :],
            )
    scanned = _scan_level(line)
    if scanned is not None:
        return None, scanned[0], scanned[1], scanned[2]
    return None, None, None, line


def _after_timestamp(
    stamp: datetime | None, rest: str
) -> tuple[datetime | None, Level | None, str | None, str]:
    """Python logging layouts once the leading timestamp is consumed."""
    dashes = _PY_DASHES.match(rest)
    if dashes and dashes[2].upper() in _LEVEL_WORDS:
        return stamp, _LEVEL_WORDS[dashes[2].upper()], dashes[1], rest[dashes.end() :]
    scanned = _scan_level(rest) if rest else None
    if scanned is not None:
        return stamp, scanned[0], scanned[1], scanned[2]
    return stamp, None, None, rest


def _parse_upper(line: str) -> tuple[datetime | None, Level | None, str | None, str] | None:
    """uvicorn (``INFO:     msg``), basicConfig (``INFO:name:msg``) and syslog lines."""
    uvicorn = _UVICORN.match(line)
    if uvicorn and uvicorn[1] in _LEVEL_WORDS:
        message = line[uvicorn.end() :]
        logger = "uvicorn.access" if _ACCESS.match(message) else "uvicorn.error"
        return None, _LEVEL_WORDS[uvicorn[1]], logger, message
    basic = _BASIC.match(line)
    if basic and basic[1] in _LEVEL_WORDS:
        return None, _LEVEL_WORDS[basic[1]], basic[2] or None, line[basic.end() :]
    syslog = _SYSLOG.match(line)
    if syslog:
        message = line[syslog.end() :]
        scanned = _scan_level(" ".join(message.split(None, 2)[:2]))
        return None, scanned[0] if scanned else None, syslog[2], message
    return None


def parse_lines(lines: Iterable[str], **kw: Any) -> Iterator[LogRecord]:
    """Parse a whole stream of lines (keyword arguments go to :class:`RecordParser`).

    Yields records in order; the held last record or traceback comes at the end.
    """
    parser = RecordParser(**kw)
    feed = parser.feed
    for line in lines:
        yield from feed(line)
    yield from parser.flush()
