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

The encoding is UTF-8 unless the input says otherwise (:func:`sniff_encoding`): a byte
order mark selects UTF-8 (the mark is dropped), UTF-16 or UTF-32 (little or big endian),
and without one, text whose every other byte (or three bytes in four) is NUL is read as
UTF-16 (UTF-32) in the byte order the NULs show: that is how ASCII-range text looks in
those encodings (Windows tools write UTF-16), while binary data does not keep to such a
pattern. So a UTF-16 log is read as the text it is, never scanned as NUL-riddled garbage.
"""

from __future__ import annotations

import codecs
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from core.models import LogRecord
from monitoring.parsing.parser import RecordParser

#: Longest line kept, in bytes; the rest of a longer line is dropped (and counted).
MAX_LINE_BYTES = 64 * 1024
STDIN = "-"
#: Bytes looked at to tell the encoding (the BOM, or the pattern of NULs).
SNIFF_BYTES = 4096
#: Byte order marks, longest first (UTF-32 LE starts like UTF-16 LE), and the codec that
#: reads what follows them (``utf-16``/``utf-32`` consume their own mark).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


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
    return _records(_decoded(stream), parser, name, close=name != STDIN)


def sniff_encoding(head: bytes) -> str | None:
    """The codec a log starting with ``head`` needs, or None for UTF-8 without a BOM.

    Args:
        head: the first bytes of the input (up to :data:`SNIFF_BYTES`).

    Returns:
        ``"utf-8-sig"``, ``"utf-16"`` or ``"utf-32"`` for a byte order mark (the codec
        drops it); ``"utf-16-le"``, ``"utf-16-be"``, ``"utf-32-le"`` or ``"utf-32-be"`` for
        text without one whose NULs show that encoding; else None.
    """
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return codec
    usable = len(head) - len(head) % 4
    if usable < 16:
        return None
    nul = [sum(1 for i in range(k, usable, 4) if head[i] == 0) / (usable // 4) for k in range(4)]
    for codec, zero, text in _NUL_PATTERNS:
        if all(nul[k] >= 0.9 for k in zero) and all(nul[k] <= 0.1 for k in text):
            return codec
    return None


#: Where ASCII-range text has NUL bytes in each encoding: (codec, NUL positions mod 4,
#: character positions mod 4). UTF-32 first: its NULs also fit UTF-16's pattern in part.
_NUL_PATTERNS = (
    ("utf-32-le", (1, 2, 3), (0,)),
    ("utf-32-be", (0, 1, 2), (3,)),
    ("utf-16-le", (1, 3), (0, 2)),
    ("utf-16-be", (0, 2), (1, 3)),
)


class _LineReader(Protocol):
    def readline(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


def _decoded(stream: BinaryIO) -> _LineReader:
    """``stream`` as UTF-8 lines: itself for UTF-8, else transcoded (see the module doc)."""
    peek = getattr(stream, "peek", None)
    codec = sniff_encoding(peek(SNIFF_BYTES)[:SNIFF_BYTES]) if peek is not None else None
    if codec is None:
        return stream
    if codec == "utf-8-sig":
        stream.read(len(codecs.BOM_UTF8))
        return stream
    return _Transcoded(stream, codec)


class _Transcoded:
    """A UTF-16/32 byte stream read line by line as UTF-8 bytes, as ``readline(size)`` of a
    binary file would give them: at most ``size`` bytes, a longer line in pieces, and never
    more than ``size`` characters of one line held in memory."""

    def __init__(self, stream: BinaryIO, codec: str) -> None:
        self._stream = stream
        self._decoder = codecs.getincrementaldecoder(codec)(errors="replace")
        self._text = ""
        self._pending = b""
        self._eof = False

    def readline(self, size: int = -1, /) -> bytes:
        limit = size if size > 0 else MAX_LINE_BYTES
        if not self._pending:
            self._pending = self._next_line(limit).encode("utf-8")
        chunk, self._pending = self._pending[:limit], self._pending[limit:]
        return chunk

    def _next_line(self, limit: int) -> str:
        while "\n" not in self._text and not self._eof and len(self._text) < limit:
            data = self._stream.read(_READ_BYTES)
            self._eof = not data
            self._text += self._decoder.decode(data, final=self._eof)
        end = self._text.find("\n") + 1 or min(len(self._text), limit)
        line, self._text = self._text[:end], self._text[end:]
        return line

    def close(self) -> None:
        self._stream.close()


_READ_BYTES = 64 * 1024


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
    stream: _LineReader, parser: RecordParser, name: str, *, close: bool
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
