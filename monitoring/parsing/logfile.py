"""Log parsing: read a log file or stdin robustly into ``LogRecord``s.

Errors (one seam, one tree)::

    LogInputError          the input cannot be read at all; str() is one line for the user
     ├── LogFileNotFound   no such file
     └── (base class)      a directory, no permission, an I/O error while reading

Odd *content* never raises: bytes that are not UTF-8 become U+FFFD, NUL and other
control characters are kept, a line longer than :data:`MAX_LINE_BYTES` is cut to that
many bytes (the record's ``attributes["truncated_bytes"]`` says how many were dropped) and
the rest of it skipped, ``\\r\\n`` and lone ``\\r`` endings are accepted, an empty input
gives no records.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from core.models import LogRecord
from monitoring.parsing.parser import RecordParser

#: Longest line kept, in bytes; the rest of a longer line is dropped (and counted).
MAX_LINE_BYTES = 64 * 1024
STDIN = "-"


class LogInputError(Exception):
    """The log input cannot be read; the message is one line, fit to show a user."""


class LogFileNotFound(LogInputError):
    """The path names no file."""


def read_records(
    path: str | Path, *, service: str | None = None, fallback_time: datetime | None = None
) -> Iterator[LogRecord]:
    """Open ``path`` (``"-"`` = stdin) now, and parse it lazily into records.

    Args:
        path: a log file, or ``"-"`` for standard input.
        service, fallback_time: passed to :class:`~monitoring.parsing.parser.RecordParser`.

    Returns:
        An iterator of records in file order (a traceback is one record).

    Raises:
        LogFileNotFound: no such file (raised here, before iteration starts).
        LogInputError: a directory, no permission to read, or an I/O error while reading
            (the latter raised during iteration).
    """
    name = str(path)
    stream = sys.stdin.buffer if name == STDIN else _open(Path(name))
    parser = RecordParser(service=service, fallback_time=fallback_time)
    return _records(stream, parser, name, close=name != STDIN)


def _open(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise LogFileNotFound(f"no such file: {path}") from None
    except IsADirectoryError:
        raise LogInputError(f"{path} is a directory, not a log file") from None
    except PermissionError:
        raise LogInputError(f"no permission to read {path}") from None
    except OSError as error:
        raise LogInputError(f"cannot read {path}: {error.strerror or error}") from None


def _records(
    stream: BinaryIO, parser: RecordParser, name: str, *, close: bool
) -> Iterator[LogRecord]:
    """Read, decode and parse line by line (one loop: this is the hot path of a scan)."""
    feed = parser.feed
    readline = stream.readline
    try:
        while chunk := readline(MAX_LINE_BYTES):
            dropped = 0
            if len(chunk) == MAX_LINE_BYTES and not chunk.endswith(b"\n"):
                dropped = _skip_rest_of_line(readline)
            text = chunk.decode("utf-8", "replace")
            if "\r" in text:
                *parts, text = text.rstrip("\r\n").replace("\r\n", "\n").split("\r")
                for part in parts:
                    yield from feed(part)
            if dropped:
                yield from feed(text, attributes={"truncated_bytes": dropped})
            else:
                yield from feed(text)
        yield from parser.flush()
    except OSError as error:
        raise LogInputError(f"error while reading {name}: {error.strerror or error}") from None
    finally:
        if close:
            stream.close()


def _skip_rest_of_line(readline: Callable[[int], bytes]) -> int:
    """Consume the remainder of an over-long line; returns how many bytes were skipped."""
    skipped = 0
    while True:
        chunk = readline(MAX_LINE_BYTES)
        skipped += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return skipped
