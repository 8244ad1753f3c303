"""Log parsing: assemble a multi-line Python traceback, line by line, into one record.

A traceback runs from ``Traceback (most recent call last):`` through its indented frame
lines to the exception line (``ValueError: bad``), whose message may go on in indented
lines. Chained tracebacks, joined by "During handling of the above exception, another
exception occurred:" or "The above exception was the direct cause of the following
exception:", stay one traceback; the frames and exception kept are the newest ones (the
last in the text). At most :data:`MAX_TRACEBACK_CHARS` raw characters and
:data:`MAX_FRAMES` frames per exception are kept; the rest is consumed, not kept.

:class:`TracebackAssembler` reads a traceback from a stream of lines (used by
:class:`monitoring.parsing.parser.RecordParser`, which also picks its header record);
:func:`attach_traceback` reads one embedded in a record's JSON field.

Nothing raises on content: a line that cannot continue a traceback ends it. The one
error is a caller's: :func:`attach_traceback` raises ``ValueError`` for text without a
traceback's first line.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from core.models import Frame, Level, LogRecord
from monitoring.parsing.line_formats import LEVEL_WORDS

#: A traceback keeps at most this many raw characters (the rest is consumed, not kept).
MAX_TRACEBACK_CHARS = 64 * 1024
#: And at most this many frames per exception (the innermost ones are kept).
MAX_FRAMES = 200
#: The first line of every Python traceback.
TRACEBACK_START = "Traceback (most recent call last):"

_CHAIN_MARKERS = frozenset(
    {
        "During handling of the above exception, another exception occurred:",
        "The above exception was the direct cause of the following exception:",
    }
)
_FRAME = re.compile(r'\s+File "([^"]+)", line (\d+), in (.+)')
_EXCEPTION_LINE = re.compile(r"([A-Za-z_][\w.]*)(?::(?: (.*))?)?")


class TracebackAssembler:
    """A traceback being read: frames of the newest exception, its type and message.

    Created on the ``Traceback (most recent call last):`` line; then :meth:`accept` each
    following line until it returns False, and :meth:`record` makes the record.

    Args:
        header: the record just before the traceback that introduced it (for example
            ``logger.exception(...)``), or None; it gives the record its timestamp,
            level, logger, message, service and attributes.
        timestamp: the record's time (aware) when there is no header.
        level: the record's level when there is no header (None: ERROR).
        attributes: the record's attributes when there is no header (copied).
    """

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
        self.lines: list[str] = [TRACEBACK_START]
        self.size = len(TRACEBACK_START)
        self.frames: list[Frame] = []
        self.exc_type: str | None = None
        self.exc_message: str | None = None
        self.state = "frames"  # frames -> exception seen -> chain marker -> frames ...

    def accept(self, line: str) -> bool:
        """Take ``line`` if it continues the traceback; False when the traceback is over.

        Args:
            line: the next line, without its line ending.

        Returns:
            True if the line was consumed; False if it is not part of the traceback (it
            was not consumed, and the traceback is finished).
        """
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
            if exc is None or exc[1] in LEVEL_WORDS or stripped != line.rstrip():
                return False
            self.exc_type, self.exc_message, self.state = exc[1], exc[2] or "", "raised"
            return True
        if not stripped:
            return True
        if stripped in _CHAIN_MARKERS:
            self.state = "chained"
            return True
        if self.state == "chained":
            if stripped == TRACEBACK_START:
                self.frames, self.exc_type, self.state = [], None, "frames"
                return True
            return False
        return line[:1] in (" ", "\t")  # a multi-line exception message

    def record(self, service: str | None) -> LogRecord:
        """The finished traceback as one record (merged with its header, if any).

        Args:
            service: stamped on the record when there is no header (a header keeps its own).

        Returns:
            The record, its raw text the header's (if any) then the traceback's lines; its
            exception type is ``"Traceback"`` when no exception line was read.
        """
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


def attach_traceback(record: LogRecord, text: str) -> None:
    """Fill a record's exception fields from a traceback embedded in a JSON field.

    Args:
        record: the record to update in place: ``exception_type``, ``exception_message``,
            ``frames``, and ``message`` if it is empty.
        text: the field's text; it must contain ``Traceback (most recent call last):``
            (anything before that line is ignored).

    Raises:
        ValueError: if ``text`` does not contain that line (callers check first).
    """
    lines = text[text.index(TRACEBACK_START) :].splitlines()
    builder = TracebackAssembler(None, record.timestamp, record.level, None)
    for line in lines[1:]:
        if not builder.accept(line):
            break
    record.exception_type = builder.exc_type or "Traceback"
    record.exception_message = builder.exc_message
    record.frames = tuple(builder.frames)
    if not record.message:
        record.message = f"{record.exception_type}: {record.exception_message or ''}".rstrip()
