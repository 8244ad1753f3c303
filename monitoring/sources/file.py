"""Log sources: a log file followed from a stored byte offset, across rotations.

The cursor is the file's identity (device, inode, a hash of its first bytes) and the
byte offset just past the last complete line read. Each fetch reads complete lines from
there (at most ``max_bytes`` per fetch; the rest waits for the next one). When the file
was rotated:

- renamed away (``app.log`` -> ``app.log.1``) and a new ``app.log`` created: the rest of
  the old file is found by its inode among its siblings and read to its end, then the new
  file is read from 0;
- truncated in place (``copytruncate``) or rewritten: the new content is read from 0
  (what was appended to the old content after the last fetch cannot be recovered).

Cursor shape::

    {"device": 2049, "inode": 131, "offset": 8192,
     "head": "<hash of the first head_len bytes>", "head_len": 256}
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from core.models import LogRecord
from monitoring.parsing.logfile import SNIFF_BYTES, sniff_encoding
from monitoring.sources.base import Batch, Cursor, LogSourceError
from monitoring.sources.window import unfinished_traceback_start

_HEAD_BYTES = 256


class FileSource:
    """Follows one log file.

    Args:
        path: the file (``MENDBOT_LOG_FILE``); it may not exist yet.
        max_bytes: most bytes read per fetch (a bound on memory and cycle time).
        initial_bytes: on a first start, read at most this many bytes from the end.
        hold_seconds: a traceback still being written at the end of a file modified
            less than this long ago is left for the next fetch (read whole then).
        parser_factory: builds a record parser given ``fallback_time`` (default
            :class:`monitoring.parsing.parser.RecordParser`).
    """

    name = "file"

    def __init__(
        self,
        *,
        path: Path,
        max_bytes: int = 16 * 1024 * 1024,
        initial_bytes: int = 4 * 1024 * 1024,
        hold_seconds: float = 30.0,
        parser_factory: Any = None,
    ) -> None:
        self.path = Path(path).absolute()
        self.hold_seconds = hold_seconds
        self.max_bytes = max_bytes
        self.initial_bytes = initial_bytes
        self._parser_factory = parser_factory or _default_parser
        self.cursor_key = f"source:file:{self.path}"

    def fetch(self, cursor: Mapping[str, Any] | None, *, now: datetime) -> Batch:
        """Complete lines appended since ``cursor`` (and the rest of a rotated file).

        Raises:
            LogSourceError: the file exists but cannot be read, or is UTF-16/UTF-32
                (followed by byte offsets, a file must be UTF-8; the message says how to
                convert it, and nothing is consumed).
        """
        try:
            self._refuse_wide_encoding()
            chunks, new_cursor, notes = self._read(dict(cursor) if cursor else None)
        except OSError as error:
            raise LogSourceError(f"cannot read {self.path}: {error.strerror or error}") from error
        parser = self._parser_factory(now)
        records: list[LogRecord] = []
        for chunk in chunks:
            text = chunk.decode("utf-8", errors="replace").removeprefix("\ufeff")
            for line in text.splitlines():
                records.extend(parser.feed(line))
            records.extend(parser.flush())
        return Batch(records=records, cursor=new_cursor, notes=notes)

    def _refuse_wide_encoding(self) -> None:
        try:
            with self.path.open("rb") as handle:
                codec = sniff_encoding(handle.read(SNIFF_BYTES))
        except FileNotFoundError:
            return
        if codec is not None and codec != "utf-8-sig":
            name = codec.upper().replace("-LE", "LE").replace("-BE", "BE")
            raise LogSourceError(
                f"{self.path} is {name}-encoded; a followed log file must be UTF-8: have the "
                f"service write UTF-8, or convert it (iconv -f {name} -t UTF-8) and scan that "
                "with mendbot scan"
            )

    def check(self) -> str:
        """Whether the file exists and is readable (a missing file is not an error yet)."""
        if not self.path.exists():
            return f"{self.path} does not exist yet"
        if not os.access(self.path, os.R_OK):
            raise LogSourceError(f"{self.path} is not readable")
        return f"{self.path} ({self.path.stat().st_size} bytes)"

    def close(self) -> None:
        """Nothing is held open between fetches."""

    # --- internals ----------------------------------------------------------------------------
    def _read(self, cursor: Cursor | None) -> tuple[list[bytes], Cursor, list[str]]:
        """Byte chunks to parse (each ends on a line boundary), the new cursor, notes."""
        chunks: list[bytes] = []
        notes: list[str] = []
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            stat = None
        same = stat is not None and cursor is not None and _same_file(cursor, stat, self.path)
        if cursor is not None and cursor.get("inode") is not None and not same:
            old = self._rotated_away(cursor)
            if old is not None:
                chunks.append(_read_rest(old, int(cursor["offset"]), self.max_bytes))
                notes.append(f"{self.path} was rotated; read the rest of {old.name}")
        if stat is None:
            return chunks, {"inode": None, "offset": 0}, notes
        start = self._start_offset(cursor if same else None, stat.st_size, first=cursor is None)
        data, end = _read_lines(self.path, start, self.max_bytes)
        if time.time() - stat.st_mtime < self.hold_seconds:
            data, end = _hold_unfinished_traceback(data, end)
        chunks.append(data)
        head_len = min(stat.st_size, _HEAD_BYTES)
        return (
            chunks,
            {
                "device": stat.st_dev,
                "inode": stat.st_ino,
                "offset": end,
                "head": _head(self.path, head_len),
                "head_len": head_len,
            },
            notes,
        )

    def _start_offset(self, cursor: Cursor | None, size: int, *, first: bool) -> int:
        if cursor is not None:
            offset = int(cursor.get("offset") or 0)
            return offset if offset <= size else 0  # shorter than before: truncated
        if first and size > self.initial_bytes:
            return size - self.initial_bytes  # the partial first line is skipped below
        return 0

    def _rotated_away(self, cursor: Cursor) -> Path | None:
        """The old file (same device and inode) under another name in the same folder."""
        try:
            siblings = list(os.scandir(self.path.parent))
        except OSError:
            return None
        for item in siblings:
            try:
                stat = item.stat(follow_symlinks=False)
            except OSError:
                continue
            if (
                stat.st_ino == cursor.get("inode")
                and stat.st_dev == cursor.get("device")
                and item.path != str(self.path)
                and _head(Path(item.path), cursor.get("head_len", 0)) == cursor.get("head")
            ):
                return Path(item.path)
        return None


def _same_file(cursor: Cursor, stat: os.stat_result, path: Path) -> bool:
    return (
        cursor.get("inode") == stat.st_ino
        and cursor.get("device") == stat.st_dev
        and cursor.get("head") == _head(path, cursor.get("head_len", 0))
    )


def _head(path: Path, length: int = _HEAD_BYTES) -> str:
    """Hash of the file's first ``length`` bytes (tells a rewritten file from an appended
    one; the length is remembered because a young file is shorter than ``_HEAD_BYTES``)."""
    with path.open("rb") as handle:
        return hashlib.blake2b(handle.read(length), digest_size=8).hexdigest()


def _read_lines(path: Path, start: int, max_bytes: int) -> tuple[bytes, int]:
    """Complete lines from ``start`` (at most ``max_bytes``) and the offset after them.

    Reading from the middle of a line (a first start near the end of a big file) skips
    to the next line start.
    """
    with path.open("rb") as handle:
        if start > 0:
            handle.seek(start - 1)
            if handle.read(1) != b"\n":
                skipped = handle.readline()
                start += len(skipped)
        data = handle.read(max_bytes)
    cut = data.rfind(b"\n") + 1
    return data[:cut], start + cut


def _hold_unfinished_traceback(data: bytes, end: int) -> tuple[bytes, int]:
    """``data`` without a traceback still being written at its end (read again next time
    from the returned offset)."""
    lines = data.splitlines(keepends=True)
    start = unfinished_traceback_start(
        [line.decode("utf-8", errors="replace").rstrip("\r\n") for line in lines]
    )
    if start is None:
        return data, end
    kept = b"".join(lines[:start])
    return kept, end - (len(data) - len(kept))


def _read_rest(path: Path, offset: int, max_bytes: int) -> bytes:
    """Everything after ``offset`` in a rotated file, a final unterminated line included."""
    with path.open("rb") as handle:
        handle.seek(offset)
        return handle.read(max_bytes)


def _default_parser(fallback_time: datetime) -> Any:
    from monitoring.parsing.parser import RecordParser

    return RecordParser(fallback_time=fallback_time)
