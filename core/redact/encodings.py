"""Shared contracts (masking): the decoded forms of a text in which secrets also hide.

A secret written inside a JSON string (``\\"password\\": \\"x\\"``, ``\\u0073k_live_…``),
URL-encoded (``token%3Dabc``, ``p%40ss``) or both is found by scanning a decoded
:class:`View` of the text; a span found there maps back to the exact characters of the
original (an escape sequence is never cut in half). A base64 blob is decoded and scanned
as a whole (:func:`base64_blobs`): if what it wraps holds a secret, the blob is masked.

:func:`canonical` gives the decoded value of a secret, so the same secret written plainly
and escaped gets the same placeholder. No errors are raised: text that does not decode
is simply not scanned again.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

_JSON_ESCAPE = re.compile(r"\\(?:u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|[\"\\/'bfnrt])")
_URL_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_SIMPLE_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_BASE64 = re.compile(
    r"(?<![\w+/-])(?:[A-Za-z0-9+/]{16,}={0,2}|[A-Za-z0-9_-]{16,}={0,2})(?![\w+/=-])"
)
#: Base64 blobs decoded per text, at most (the rest are left as they are).
MAX_BLOBS = 200
MAX_BLOB_CHARS = 16_384


def _unescape_json(match: re.Match[str]) -> str:
    escape = match.group(0)
    kind = escape[1]
    if kind in "ux":
        return chr(int(escape[2:], 16))
    return _SIMPLE_ESCAPES.get(kind, kind)


def _unescape_url(match: re.Match[str]) -> str:
    return chr(int(match.group(0)[1:], 16))


#: (the character a text must hold to be worth decoding, escape pattern, replacement)
_DECODERS = (("\\", _JSON_ESCAPE, _unescape_json), ("%", _URL_ESCAPE, _unescape_url))


@dataclass(frozen=True)
class View:
    """``text`` decoded from its parent's text (the original when ``parent`` is None).

    Attributes:
        text: the decoded text.
        parent: the view it was decoded from, None for the original's first decoding.
    """

    text: str
    parent: View | None
    _starts: tuple[int, ...]  # view offset where each segment starts
    _segments: tuple[tuple[int, int, bool], ...]  # (source start, source end, literal)

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """The original text's span for ``self.text[start:end]`` (``end > start``)."""
        first, last = self._source(start), self._source(end - 1)
        span = (first[0], last[1])
        return self.parent.to_original(*span) if self.parent else span

    def _source(self, index: int) -> tuple[int, int]:
        k = bisect.bisect_right(self._starts, index) - 1
        source_start, source_end, literal = self._segments[k]
        if not literal:
            return source_start, source_end
        offset = source_start + index - self._starts[k]
        return offset, offset + 1


def _decode(
    text: str,
    pattern: re.Pattern[str],
    replace: Callable[[re.Match[str]], str],
    parent: View | None,
) -> View | None:
    """A :class:`View` with every ``pattern`` match replaced, or None when none occurs."""
    starts: list[int] = []
    segments: list[tuple[int, int, bool]] = []
    parts: list[str] = []
    position = length = 0
    for match in pattern.finditer(text):
        if match.start() > position:
            starts.append(length)
            segments.append((position, match.start(), True))
            parts.append(text[position : match.start()])
            length += match.start() - position
        decoded = replace(match)
        starts.append(length)
        segments.append((match.start(), match.end(), False))
        parts.append(decoded)
        length += len(decoded)
        position = match.end()
    if not segments:
        return None
    if position < len(text):
        starts.append(length)
        segments.append((position, len(text), True))
        parts.append(text[position:])
    return View("".join(parts), parent, tuple(starts), tuple(segments))


def views(text: str) -> list[View]:
    """The decoded forms of ``text`` worth scanning: JSON-unescaped or URL-decoded, then
    either once more (a JSON string inside a JSON string, a URL-encoded URL inside a query
    string...); each only when the text has such escapes. At most six views."""
    found: list[View] = []
    for first in _DECODERS:
        view = _decode_with(first, text, None)
        if view is None:
            continue
        found.append(view)
        for second in _DECODERS:
            twice = _decode_with(second, view.text, view)
            if twice is not None:
                found.append(twice)
    return found


def _decode_with(
    decoder: tuple[str, re.Pattern[str], Callable[[re.Match[str]], str]],
    text: str,
    parent: View | None,
) -> View | None:
    trigger, pattern, replace = decoder
    return _decode(text, pattern, replace, parent) if trigger in text else None


def canonical(secret: str) -> str:
    """The decoded value of a secret as written (JSON escapes, then URL escapes)."""
    if "\\" in secret:
        secret = _JSON_ESCAPE.sub(_unescape_json, secret)
    if "%" in secret:
        secret = _URL_ESCAPE.sub(_unescape_url, secret)
    return secret


def base64_blobs(text: str) -> Iterator[tuple[int, int, str]]:
    """Base64 blobs in ``text`` that decode to printable UTF-8 text.

    Yields:
        ``(start, end, decoded text)`` per blob, at most :data:`MAX_BLOBS` blobs tried.
    """
    for tried, match in enumerate(_BASE64.finditer(text)):
        if tried >= MAX_BLOBS:
            return
        blob = match.group(0)
        if len(blob) > MAX_BLOB_CHARS:
            continue
        decoded = _printable(blob)
        if decoded is not None:
            yield match.start(), match.end(), decoded


def _printable(blob: str) -> str | None:
    padded = blob.rstrip("=")
    padded += "=" * (-len(padded) % 4)
    try:
        if "-" in blob or "_" in blob:
            raw = base64.urlsafe_b64decode(padded)
        else:
            raw = base64.b64decode(padded, validate=True)
        decoded = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    printable = sum(c.isprintable() or c in "\n\r\t" for c in decoded)
    return decoded if decoded and printable == len(decoded) else None
