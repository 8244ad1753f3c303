"""Log parsing: what one text log line says by itself (level, timestamp, logger, message).

:class:`monitoring.parsing.parser.RecordParser` hands here every line that is neither JSON
nor part of a traceback. Layouts recognised, routed by the line's first character:

* Python ``logging``: ``%(asctime)s - %(name)s - %(levelname)s - %(message)s``, the same
  without the name, ``%(asctime)s [%(levelname)s] %(name)s: %(message)s`` and similar
  (timestamp first, a level word among the next tokens), and the ``basicConfig`` default
  ``LEVEL:name:message``.
* uvicorn (``INFO:     127.0.0.1:... "GET / HTTP/1.1" 200 OK``) and gunicorn
  (``[2024-01-01 12:00:00 +0000] [7] [INFO] Booting worker``), Apache-style
  ``[date] [error] ...``, and syslog (``Jun 14 15:16:01 host prog[pid]: ...``).
* Anything else: its level is the first level word among its first
  :data:`LEVEL_SCAN_TOKENS` tokens (``FATAL``, ``ERROR``, ``[warn]``, ``error:``...), if
  any, and the whole line is its message.

Also the value readers the JSON path shares: :func:`level_from` (level words, ``logging``
numbers) and :func:`parse_timestamp` (ISO 8601, epoch seconds/ms/us/ns; naive is UTC).

Nothing raises on content: what is not understood comes back as None (or as the message).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

from core.models import Level

#: How many leading tokens of an unknown line are searched for a level word.
LEVEL_SCAN_TOKENS = 12

#: Upper-case level words (``WARN``, ``FATAL``...) and the :class:`Level` each stands for.
LEVEL_WORDS: dict[str, Level] = {
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
    for word, level in LEVEL_WORDS.items()
    for variant in (word, word.lower(), word.title())
    for decorated in ("[%s]", "%s:", "[%s]:", "<%s>", "(%s)", "|%s|")
} | LEVEL_WORDS
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

#: What a text line says: (timestamp, level, logger, message); None where it says nothing.
TextFields = tuple[datetime | None, Level | None, str | None, str]


def level_from(value: object) -> Level | None:
    """A :class:`Level` from a level word or a Python ``logging`` number.

    Args:
        value: a level word in any case, surrounding whitespace ignored (``"warn"``,
            ``"FATAL"``), or a ``logging`` number (``40``; between two levels counts as
            the lower one, below 0 as DEBUG). Booleans are not numbers here.

    Returns:
        The level, or None for an unknown word or any other type.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return next((level for floor, level in _NUMERIC_LEVELS if value >= floor), Level.DEBUG)
    if isinstance(value, str):
        return LEVEL_WORDS.get(value.strip().upper())
    return None


def parse_timestamp(value: object) -> datetime | None:
    """An aware UTC datetime from ISO 8601 text or epoch seconds/ms/us/ns; None if neither.

    Args:
        value: ISO 8601 text (naive is taken as UTC; any offset is converted to UTC), or a
            number of seconds since the epoch, where values above 1e11 are read as
            milliseconds, microseconds or nanoseconds (divided by 1000 until below).

    Returns:
        The time in UTC, or None for unparsable text, a non-finite or out-of-range number,
        or any other type (booleans included).
    """
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


def parse_text(line: str) -> TextFields:
    """Read a non-JSON line in the layouts of the module docstring.

    Args:
        line: one non-empty line, without its line ending.

    Returns:
        (timestamp in UTC, level, logger, message); the first three are None where the
        line does not state them, and the message is the whole line if no layout matched.
    """
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
        if bracketed and bracketed[3].upper() in LEVEL_WORDS:
            return (
                parse_timestamp(bracketed[1]),
                LEVEL_WORDS[bracketed[3].upper()],
                None,
                line[bracketed.end() :],
            )
    scanned = _scan_level(line)
    if scanned is not None:
        return None, scanned[0], scanned[1], scanned[2]
    return None, None, None, line


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


def _after_timestamp(stamp: datetime | None, rest: str) -> TextFields:
    """Python logging layouts once the leading timestamp is consumed."""
    dashes = _PY_DASHES.match(rest)
    if dashes and dashes[2].upper() in LEVEL_WORDS:
        return stamp, LEVEL_WORDS[dashes[2].upper()], dashes[1], rest[dashes.end() :]
    scanned = _scan_level(rest) if rest else None
    if scanned is not None:
        return stamp, scanned[0], scanned[1], scanned[2]
    return stamp, None, None, rest


def _parse_upper(line: str) -> TextFields | None:
    """uvicorn (``INFO:     msg``), basicConfig (``INFO:name:msg``) and syslog lines."""
    uvicorn = _UVICORN.match(line)
    if uvicorn and uvicorn[1] in LEVEL_WORDS:
        message = line[uvicorn.end() :]
        logger = "uvicorn.access" if _ACCESS.match(message) else "uvicorn.error"
        return None, LEVEL_WORDS[uvicorn[1]], logger, message
    basic = _BASIC.match(line)
    if basic and basic[1] in LEVEL_WORDS:
        return None, LEVEL_WORDS[basic[1]], basic[2] or None, line[basic.end() :]
    syslog = _SYSLOG.match(line)
    if syslog:
        message = line[syslog.end() :]
        scanned = _scan_level(" ".join(message.split(None, 2)[:2]))
        return None, scanned[0] if scanned else None, syslog[2], message
    return None
