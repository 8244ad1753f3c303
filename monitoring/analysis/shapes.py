"""Log analysis: the shape of a masked message, the tokens that template grouping compares.

:func:`shape_of` turns a masked message (``monitoring/analysis/templates.py``: ``mask``)
into a tuple of tokens in which every variable part is one ``<*>``. It goes further than
the masked form shown to people, with rules that hold whatever system wrote the log (no
rule names a system, and none is tuned per log):

* typed placeholders (``<NUM>``, ``<NUM>ms``, ``<IP>``, ``<HEX>``, ``<UUID>``, ``<ID>``);
* host:port pairs (``github.com:443``), absolute paths and URLs with two segments or more
  (``/var/www/html/``, ``hdfs://10.0.0.1:9000/a/b``), relative paths with a dot
  (``com.tencent.mm/.ui.LauncherUI``), dotted names with three parts or more
  (``com.android.phone``);
* quantities: a number with its unit as a separate word (``1.16 KB``, ``350 ms``,
  ``30 seconds``), a comparison before a number (``<1 sec``), clock times and any other
  word made of variables and punctuation only (``00:02``, ``10.0.0.1:80,``);
* a month or weekday name right before a variable (dates written out in a message);
* empty brackets or quotes (``()``, ``""``) hold an empty variable, and a bracketed group
  that holds nothing but one variable (``(1.16 KB)``, ``[0x1f]``) is an annotation that
  some lines have and others lack: it is left out;
* tokens are split at ``= : , ; | ( ) [ ] { } " '`` so that in ``tag="View Lock",`` or
  ``(uid=0)`` only the value varies; consecutive variables become one ``<*>`` (a list of
  ids of any length is one variable).

Whitespace is not kept: shapes are for comparing, not for showing. No errors are raised.
"""

from __future__ import annotations

import re

#: The one variable token of a shape.
WILDCARD = "<*>"
#: Longest shape (tokens) kept; the rest of a very long message does not decide its group.
MAX_SHAPE_TOKENS = 96

_MONTHS_DAYS = (
    "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|January|February|March|April|June"
    "|July|August|September|October|November|December|Mon|Tue|Wed|Thu|Fri|Sat|Sun|Monday"
    "|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
)
_UNITS = (
    r"[KMGTP]i?B|[KMGTP]|B|bytes?|[mun]s|µs|s|secs?|seconds?|mins?|minutes?|h|hrs?|hours?"
    r"|days?"
)
# Applied in this order to the masked message, each only when its guard (a substring) is in
# the text; each replaces a variable with <*> (or drops it).
_RULES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("<", re.compile(r"<(?:NUM|IP|HEX|UUID|ID)>[a-zA-Z%]*"), WILDCARD),
    # URLs: scheme://anything up to a space, a quote, a bracket, a comma or a semicolon
    (
        "://",
        re.compile(
            r"\b[A-Za-z][\w+.-]*://[^\s,;\"'(){}\[\]<>]*"
            r"(?:<\*>[^\s,;\"'(){}\[\]<>]*)*(?<![.:])"
        ),
        WILDCARD,
    ),
    # host:port (the port already masked)
    (":<*>", re.compile(r"(?<![\w.<>*-])[A-Za-z][\w-]*(?:\.[\w-]+)+:<\*>"), WILDCARD),
    # relative paths with a dot in a segment: pkg/.Activity, a.b/c.d
    ("/", re.compile(r"(?<![\w<>*])[\w.$-]*(?:\.[\w$-]*/|/[\w$-]*\.)[\w./$-]*"), WILDCARD),
    # absolute paths and URLs with two segments or more
    ("/", re.compile(r"(?<![\w<>*.-])(?:[\w.*<>-]+:/)?(?:/[\w.*<>@%+~-]*){2,}"), WILDCARD),
    # dotted names with three parts or more: com.android.phone, host.example.org
    (".", re.compile(r"(?<![\w.<>*/-])[A-Za-z_][\w-]*(?:\.[\w-]+){2,}(?![\w<>*-])"), WILDCARD),
    (
        "<*>",
        re.compile(rf"\b(?:{_MONTHS_DAYS}),?(?=(?: +(?:{_MONTHS_DAYS}),?)* +<\*>)"),
        WILDCARD,
    ),
    ("<*>", re.compile(rf"<\*> ?(?:{_UNITS})\b"), WILDCARD),
    # a comparison before a number: <1 sec, >=5
    ("<*>", re.compile(r"(?<![\w>])[<>~]=?(?=<\*>)"), ""),
    # a word made of variables and punctuation only: 00:02, <*>:<*>, <*>/<*>
    (
        "<*>",
        re.compile(r"(?<![^\s(\[{\"'=,])[^\s\w]*<\*>(?:[^\s\w]*<\*>)*(?=[)\]}\"',;.]*(?:\s|$))"),
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


def shape_of(masked: str) -> tuple[str, ...]:
    """The grouping tokens of a masked message (see the module docstring).

    Args:
        masked: a message as ``monitoring.analysis.templates.mask`` returns it.

    Returns:
        At most :data:`MAX_SHAPE_TOKENS` tokens, each variable part one ``<*>``; never
        empty (an empty message has the shape ``("<empty>",)``).
    """
    text = masked
    for guard, pattern, replacement in _RULES:
        if guard in text:
            text = pattern.sub(replacement, text)
    if _HAS_EMPTY(text):  # empty brackets or quotes hold an empty value
        text = _EMPTY.sub(WILDCARD, text)
    if "<*>)" in text or "<*>]" in text or "<*>}" in text:
        text = " ".join(_absorb(word) if "<*>" in word else word for word in text.split())
    if "<*>" in text and ("(" in text or "[" in text):
        text = _ANNOTATION.sub("", text)
    tokens: list[str] = []
    for token in _TOKEN.findall(text):
        if token == WILDCARD and tokens and tokens[-1] == WILDCARD:
            continue
        tokens.append(token)
        if len(tokens) >= MAX_SHAPE_TOKENS:
            break
    return tuple(tokens) if tokens else ("<empty>",)
