"""Log analysis: the shape of a masked message, the tokens that template grouping compares.

:func:`shape_of` turns a masked message (``monitoring/analysis/templates.py``: ``mask``)
into a tuple of tokens in which every variable part is one ``<*>``. It goes further than
the masked form shown to people, with rules that hold whatever system wrote the log (no
rule names a system, and none is tuned per log):

* typed placeholders (``<NUM>``, ``<NUM>ms``, ``<IP>``, ``<HEX>``, ``<UUID>``, ``<ID>``);
* host:port pairs (``github.com:443``), absolute paths and URLs with two segments or more
  (``/var/www/html/``, ``s3://10.0.0.1:9000/a/b``), relative paths with a dot
  (``com.example.app/.ui.MainView``), dotted names with three parts or more
  (``com.example.app``), but not a qualified constant (``app.intent.action.SCREEN_ON``);
* quantities: a number with its unit as a separate word (``1.16 KB``, ``350 ms``,
  ``30 seconds``), a comparison before a number (``<1 sec``), clock times and any other
  word made of variables and punctuation only (``00:02``, ``10.0.0.1:80,``);
* a month or weekday name right before a variable (dates written out in a message);
* empty brackets or quotes (``()``, ``""``) hold an empty variable, and a bracketed group
  that holds nothing but one variable (``(1.16 KB)``, ``[0x1f]``) is an annotation that
  some lines have and others lack: it is left out;
* tokens are split at ``= : , ; | ( ) [ ] { } " '`` so that in ``tag="RILJ",`` or
  ``(uid=0)`` only the value varies; a double-quoted value with spaces stays one token
  (``tag="View Lock"``); consecutive variables become one ``<*>`` (a list of ids of any
  length is one variable).

Whitespace is not kept: shapes are for comparing, not for showing. No errors are raised.
"""

from __future__ import annotations

import re

#: The one variable token of a shape.
WILDCARD = "<*>"
#: Longest shape (tokens) kept; the rest of a very long message does not decide its group.
MAX_SHAPE_TOKENS = 96

_MONTHS_DAYS = frozenset(
    [
        "Jan",
        "Feb",
        "Mar",
        "Apr",
        "May",
        "Jun",
        "Jul",
        "Aug",
        "Sep",
        "Sept",
        "Oct",
        "Nov",
        "Dec",
        "January",
        "February",
        "March",
        "April",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
        "Mon",
        "Tue",
        "Wed",
        "Thu",
        "Fri",
        "Sat",
        "Sun",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ]
)
_UNITS = frozenset(
    [
        "KB",
        "MB",
        "GB",
        "TB",
        "PB",
        "KiB",
        "MiB",
        "GiB",
        "TiB",
        "PiB",
        "K",
        "M",
        "G",
        "T",
        "P",
        "B",
        "byte",
        "bytes",
        "ns",
        "us",
        "ms",
        "µs",
        "s",
        "sec",
        "secs",
        "second",
        "seconds",
        "min",
        "mins",
        "minute",
        "minutes",
        "h",
        "hr",
        "hrs",
        "hour",
        "hours",
        "day",
        "days",
    ]
)
# Applied in this order to each word (whitespace-free) of the masked message, each only
# when one of its guards (substrings) is in the word; each replaces a variable with <*>.
_RULES: tuple[tuple[tuple[str, ...], re.Pattern[str], str], ...] = (
    (("<",), re.compile(r"<(?:NUM|IP|HEX|UUID|ID)>[a-zA-Z%]*"), WILDCARD),
    # URLs: scheme://anything up to a space, a quote, a bracket, a comma or a semicolon
    (
        ("://",),
        re.compile(
            r"\b[A-Za-z][\w+.-]*://[^\s,;\"'(){}\[\]<>]*"
            r"(?:<\*>[^\s,;\"'(){}\[\]<>]*)*(?<![.:])"
        ),
        WILDCARD,
    ),
    # host:port (the port already masked)
    ((":<*>",), re.compile(r"(?<![\w.<>*-])[A-Za-z][\w-]*(?:\.[\w-]+)+:<\*>"), WILDCARD),
    # absolute paths and URLs with two segments or more
    (("/",), re.compile(r"(?<![\w<>*.-])(?:[\w.*<>-]+:/)?(?:/[\w.*<>@%+~-]*){2,}"), WILDCARD),
    # then relative paths with a dot in a segment: pkg/.Activity, a.b/c.d
    (("/",), re.compile(r"(?<![\w<>*])[\w.$-]*(?:\.[\w$-]*/|/[\w$-]*\.)[\w./$-]*"), WILDCARD),
    # dotted names with three parts or more: com.example.app, host.example.org; not a
    # qualified constant, whose last part is UPPER_SNAKE: app.intent.action.SCREEN_ON
    (
        (".",),
        re.compile(
            r"(?<![\w.<>*/-])(?![\w.-]*\.[A-Z][A-Z0-9]*_[A-Z0-9_]*(?![\w.<>*-]))"
            r"[A-Za-z_][\w-]*(?:\.[\w-]+){2,}(?![\w<>*-])"
        ),
        WILDCARD,
    ),
    # a comparison before a number: <1 sec, >=5
    (
        ("<<*>", "><*>", "~<*>", "<=<*>", ">=<*>", "~=<*>"),
        re.compile(r"(?<![\w>])[<>~]=?(?=<\*>)"),
        "",
    ),
    # a word made of variables and punctuation only: 00:02, <*>:<*>, <*>/<*>
    (
        ("<*>",),
        re.compile(
            r"(?<![^\s(\[{\"'=,])[^\s\w(\[{\"']*<\*>(?:[^\s\w]*<\*>)*"
            r"(?=[)\]}\"',;.]*(?:\s|$))"
        ),
        WILDCARD,
    ),
)
_EMPTY = re.compile(r"(?<=[(\[{\"'])(?=[)\]}\"'])")
_HAS_EMPTY = re.compile(r"[(\[{\"'][)\]}\"']").search
_ABSORB = (("(", ")"), ("[", "]"), ("{", "}"))
_ANNOTATION = re.compile(r" ?\((?:\s*<\*>\s*)?\)| ?\[(?:\s*<\*>\s*)?\]")
_TOKEN = re.compile(r"<\*>|[=:,;()\[\]{}\"'|]|[^\s=:,;()\[\]{}\"'|<]+|<")


def _absorb(word: str) -> str:
    """Drop closing brackets right after a variable that the word never opened: ``<*>)``."""
    for opening, closing in _ABSORB:
        extra = word.count(closing) - word.count(opening)
        if extra > 0:
            word = word.replace(WILDCARD + closing, WILDCARD, extra)
    return word


class Shaper:
    """:func:`shape_of` with its own cache of word tokens (each template miner has one)."""

    def __init__(self) -> None:
        self._words: dict[str, tuple[str, ...]] = {}

    def shape(self, masked: str) -> tuple[str, ...]:
        """The grouping tokens of a masked message (see the module docstring).

        Args:
            masked: a message as ``monitoring.analysis.templates.mask`` returns it.

        Returns:
            At most :data:`MAX_SHAPE_TOKENS` tokens, each variable part one ``<*>``; never
            empty (an empty message has the shape ``("<empty>",)``).
        """
        tokens: list[str] = []
        words = self._words
        if '"' in masked and " " in masked:
            masked = _QUOTED.sub(_join_quoted, masked)
        for word in masked.split():
            part = words.get(word)
            if part is None:
                part = _word_tokens(word)
                if len(words) >= _WORD_CACHE_SIZE:
                    words.clear()
                words[word] = part
            tokens.extend(part)
        tokens = _across_words(tokens)
        return tuple(tokens[:MAX_SHAPE_TOKENS]) if tokens else ("<empty>",)


#: Words whose tokens a :class:`Shaper` remembers (cleared when full).
_WORD_CACHE_SIZE = 100_000


def shape_of(masked: str) -> tuple[str, ...]:
    """:meth:`Shaper.shape` with a fresh cache (for one-off use and tests)."""
    return Shaper().shape(masked)


_QUOTED = re.compile(r'(?<![\w"])"([^"\s]+(?: [^"\s]+)+)"')


def _join_quoted(match: re.Match[str]) -> str:
    """A double-quoted value with spaces in it stays one token (``tag="View Lock"``)."""
    return '"' + match[1].replace(" ", "\u2423") + '"'


_PLAIN = re.compile(r"[A-Za-z_]+").fullmatch


def _word_tokens(word: str) -> tuple[str, ...]:
    """The tokens of one whitespace-free word after the word-level rules."""
    if _PLAIN(word):
        return (word,)
    text = word
    for guard, pattern, replacement in _RULES:
        found = guard[0] in text if len(guard) == 1 else any(g in text for g in guard)
        if found and (guard != (".",) or text.count(".") > 1):
            text = pattern.sub(replacement, text)
    if _HAS_EMPTY(text):  # empty brackets or quotes hold an empty value
        text = _EMPTY.sub(WILDCARD, text)
    if "<*>)" in text or "<*>]" in text or "<*>}" in text:
        text = _absorb(text)
    if "<*>)" in text or "<*>]" in text:
        text = _ANNOTATION.sub("", text)
    return tuple(_TOKEN.findall(text))


def _across_words(tokens: list[str]) -> list[str]:
    """Rules that span words: a unit after a number, a date's names, an annotation, runs."""
    out: list[str] = []
    for index, token in enumerate(tokens):
        if token in _UNITS and out and out[-1] == WILDCARD:
            continue  # 1.16 KB, 350 ms
        if token in _MONTHS_DAYS and _date_follows(tokens, index + 1):
            token = WILDCARD
        if token in ")]" and len(out) >= 2 and out[-1] == WILDCARD and out[-2] == _OPEN[token]:
            del out[-2:]  # (<*>) or [<*>]: an annotation some lines have and others lack
            continue
        if token == WILDCARD and out and out[-1] == WILDCARD:
            continue
        out.append(token)
    return out


_OPEN = {")": "(", "]": "["}


def _date_follows(tokens: list[str], start: int) -> bool:
    """Whether, past commas and more month or day names, a variable comes next."""
    for token in tokens[start:]:
        if token == WILDCARD:
            return True
        if token != "," and token not in _MONTHS_DAYS:
            return False
    return False
