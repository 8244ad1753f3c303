"""Shared contracts: untrusted text (logs, LM answers) made inert before a person sees it.

Anyone can write into the service's logs by sending it a request, and an LM repeats what
it read, so every string that came from either may carry characters that *act* on the
screen that shows them rather than being read: an ANSI clear-screen (``\\x1b[2J``), an OSC 8
hyperlink or window-title sequence (``\\x1b]0;pwned\\x07``), a carriage return that
overwrites what a line said, a bell, a NUL, bidi overrides that show code in another order
than it runs ("Trojan Source"), zero-width and tag characters that hide text. Every
place that prints or posts such text (the terminal, commit messages, Slack) passes it
through :func:`printable` (or :func:`one_line`), decided here once.

What is neutralised (:data:`UNSAFE`), each shown as a visible escape in Python's notation
(``\\x1b``, ``\\u202e``, ``\\U000e0041``) rather than deleted:

- C0 controls except TAB and LF (NUL, BEL, BS, CR, ESC, ...), DEL, and C1 controls
  U+0080-U+009F (U+009B is an 8-bit CSI, U+009D an 8-bit OSC);
- format characters (Unicode category ``Cf``): bidi embeddings, overrides and isolates
  U+202A-U+202E and U+2066-U+2069, the marks U+200E, U+200F and U+061C, zero-width space
  U+200B, word joiner U+2060 and the other invisible operators, the byte order mark
  U+FEFF, soft hyphen U+00AD, and the tag characters U+E0000-U+E007F (invisible ASCII
  that LMs read). Kept: ZWNJ U+200C and ZWJ U+200D, which emoji sequences and Persian and
  Indic scripts need and which neither reorder nor hide anything by themselves;
- line and paragraph separators U+2028 and U+2029 (line breaks to some terminals);
- lone surrogates U+D800-U+DFFF (left by undecodable bytes; printing one raises);
- the variation selectors supplement U+E0100-U+E01EF (hides bytes inside an emoji).

Why escapes and not deletion: nothing is lost (a reader sees that something was there,
itself a sign of an attack), and no escape-sequence parser is needed: once the ESC that
introduces a sequence is shown as ``\\x1b``, the rest (``[2J``) is plain text, so a
malformed or unknown sequence cannot slip past. Text that is already printable is
returned as it is (the same object), so the common case costs one regex search.

:func:`json_text` is the JSON counterpart for machine output (``--json``): the same
characters written as JSON ``\\u`` escapes, so the output is valid JSON that decodes to
the original text exactly, yet never carries a raw control character to a terminal.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: Every character :func:`printable` neutralises (see the module docstring).
UNSAFE = re.compile(
    "["
    "\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 except TAB and LF, DEL, C1
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"  # Cf, Latin to Mongolian
    "\u200b\u200e\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f"  # Cf (not ZWNJ/ZWJ), Zl, Zp
    "\ud800-\udfff"  # lone surrogates
    "\ufeff\ufff9-\ufffb"  # BOM, interlinear annotations
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e007f\U000e0100-\U000e01ef"  # tags, variation selectors supplement
    "]"
)
_WHITESPACE = re.compile(r"\s+")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: str) -> str:
    """``text`` with every :data:`UNSAFE` character shown as a visible escape.

    Line feeds and tabs are kept, so multi-line text (a traceback, a diff) keeps its
    shape. Carriage returns are not: ``"ok\\rFAKE"`` becomes ``"ok\\x0dFAKE"``.

    Args:
        text: untrusted text (a log line, an LM answer, an error string).

    Returns:
        ``text`` itself when nothing needed escaping, else the escaped copy (longer).
    """
    if UNSAFE.search(text) is None:
        return text
    return UNSAFE.sub(_visible, text)


def one_line(text: str, max_chars: int | None = None) -> str:
    """``text`` made :func:`printable` and flattened to one line (a table cell, a title).

    Runs of whitespace, line feeds included, become one space, so an untrusted value
    cannot start a line of its own (and pose as another row or field).

    Args:
        text: untrusted text.
        max_chars: cut to at most this many characters, ``…`` included (None: no cut).

    Returns:
        One line without leading or trailing whitespace.
    """
    flat = _WHITESPACE.sub(" ", printable(text)).strip()
    if max_chars is not None and len(flat) > max_chars:
        return flat[: max(max_chars - 1, 0)] + "…"
    return flat


def _json_escape(match: re.Match[str]) -> str:
    return json.dumps(match.group())[1:-1]  # "\u001b", or a surrogate pair for U+E0041


def json_text(obj: Any, **dumps_options: Any) -> str:
    """``json.dumps(obj, ensure_ascii=False)`` with every :data:`UNSAFE` character escaped.

    Readable for every script (non-ASCII letters stay as they are), valid JSON, and
    ``json.loads`` of the result equals ``obj`` exactly: the escaping is JSON's own
    (``\\u001b``), not :func:`printable`'s. Such characters can only occur inside JSON
    strings, so nothing else changes.

    Args:
        obj: anything ``json.dumps`` accepts.
        **dumps_options: passed to ``json.dumps`` (e.g. ``sort_keys``); not ``ensure_ascii``.

    Returns:
        One JSON document (one line unless ``indent`` is given).

    Raises:
        TypeError: ``obj`` holds something JSON cannot represent.
    """
    dumped = json.dumps(obj, ensure_ascii=False, **dumps_options)
    if UNSAFE.search(dumped) is None:
        return dumped
    return UNSAFE.sub(_json_escape, dumped)
