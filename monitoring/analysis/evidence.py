"""Log analysis: the evidence gathered per template in one window, for the rules to judge.

The analyzer (``monitoring/analysis/analyzer.py``) feeds every record of a window into a
:class:`Group`: one per template cluster, or per exception signature
(:func:`traceback_key`) for tracebacks. A group counts the records by level and keeps
their time span, the newest record, the last ``MAX_SAMPLES`` raw lines (each cut to
:data:`MAX_SAMPLE_CHARS`) and how often each masked form was seen (up to
:data:`MAX_FORMS` forms). What a form's constant words say (:class:`FormFlags`: output
cut, slowness, duplicates or retries, a measured duration) decides what else is gathered:
durations in seconds (``took 1.2s``, ``in 350 ms``) with how many exceed the slow
threshold, and the ``key=number`` ranges of a truncation message (``max_tokens=3000``).

:meth:`Group.canonical` comes from canonical forms only (exception type + innermost in-app
frame ``file:function``, or the masked forms merged), never from cluster ids, so it
is the same in every cycle, process and host. No errors are raised here.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from core.frames import app_frame, basename
from core.models import MAX_SAMPLES, LogRecord

#: Longest sample kept, in characters (a huge traceback is cut, with a marker).
MAX_SAMPLE_CHARS = 16_000
#: Distinct masked forms remembered per group (the rest are counted, not kept).
MAX_FORMS = 64
#: The signature of the one group that holds a window's records beyond its limit of groups
#: (distinct templates); its canonical template is this sentence.
OVERFLOW_SIGNATURE = ("Distinct messages beyond the window's limit of templates", "", "")

_TRUNCATION = re.compile(
    r"truncat|max_tokens|max[ _-]?(?:output[ _-]?)?tokens|context[ _-](?:length|window)"
    r"|token limit|finish_reason\W{0,3}length|(?:output|response|message) (?:was |is )?cut",
    re.I,
).search
_SLOW = re.compile(
    r"\bslow|timed? ?out\b|timeout|latency|took too long|deadline exceeded", re.I
).search
_DUPLICATE = re.compile(
    r"duplicate|\bretr(?:y|ied|ying|ies)\b|redeliver|already (?:processed|handled|seen)"
    r"|\bresen[dt]\b|replay",
    re.I,
).search
# A duration that measures how long something took ("took 2.1s", "in 350 ms",
# "latency=1.2s", "(1.20s)"), not a wait or a window ("slept 5 seconds", "over 60 seconds").
_DURATION_FORM = re.compile(
    r"(?:\b(?:took|in|after|elapsed|duration|latency|time|spent|taking)\W{0,3}|[(=:] ?)"
    r"<NUM> ?(?:[mun]?s|sec|secs|seconds?|min|minutes?)\b",
    re.I,
).search
_DURATION = re.compile(
    r"(?<![\w.])(\d+(?:\.\d+)?) ?(ns|us|µs|ms|s|sec|secs|seconds?|min|minutes?)\b"
)
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "sec": 1.0,
    "secs": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "min": 60.0,
    "minute": 60.0,
    "minutes": 60.0,
}
_KEY_NUMBER = re.compile(r"([A-Za-z_][\w.-]*)[=:] ?(-?\d+(?:\.\d+)?)\b")


#: Any of the four: one search rules them all out for most forms.
_ANY_FLAG = re.compile(
    "|".join(
        f"(?:{search.__self__.pattern})"  # type: ignore[attr-defined]
        for search in (_TRUNCATION, _SLOW, _DUPLICATE, _DURATION_FORM)
    ),
    re.I,
).search


@dataclass(frozen=True, slots=True)
class FormFlags:
    """What a masked form's constant words say (computed once per distinct form)."""

    truncation: bool
    slow: bool
    duplicate: bool
    duration: bool


_flags_cache: dict[str, FormFlags] = {}


def flags_of(masked: str) -> FormFlags:
    """The :class:`FormFlags` of a masked message (cached)."""
    flags = _flags_cache.get(masked)
    if flags is None and _ANY_FLAG(masked) is None:
        flags = _NO_FLAGS  # one search for the common case: a form that says none of them
    elif flags is None:
        flags = FormFlags(
            bool(_TRUNCATION(masked)),
            bool(_SLOW(masked)),
            bool(_DUPLICATE(masked)),
            bool(_DURATION_FORM(masked)),
        )
        if len(_flags_cache) > 100_000:
            _flags_cache.clear()
        _flags_cache[masked] = flags
    return flags


_NO_FLAGS = FormFlags(False, False, False, False)


def traceback_key(record: LogRecord) -> tuple[str, str, str]:
    """A traceback's signature: (exception type, in-app file basename, function)."""
    frame = app_frame(record.frames)
    if frame is None:
        return (record.exception_type or "", "", "")
    return (record.exception_type or "", basename(frame.file), frame.function)


@dataclass(slots=True)
class Group:
    """Evidence for one template (or exception signature) in one window."""

    signature: tuple[str, str, str] | None
    first: datetime
    last: datetime
    newest: LogRecord
    count: int = 0
    errors: int = 0
    warnings: int = 0
    top_rank: int = 0
    forms: dict[str, int] = field(default_factory=dict)
    flags: FormFlags = _NO_FLAGS
    samples: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_SAMPLES))
    durations: list[float] = field(default_factory=list)
    over_threshold: int = 0
    limits: dict[str, list[float]] = field(default_factory=dict)

    def add(self, record: LogRecord, masked: str | None, rank: int, threshold: float) -> None:
        """Count one record.

        Args:
            record: the record, which must belong to this group.
            masked: its masked message (``monitoring/analysis/templates.py``); None for tracebacks.
            rank: its level's number (``Level.rank``: 10 DEBUG up to 50 CRITICAL).
            threshold: the slow-operation threshold in seconds (a duration above it counts
                in :attr:`over_threshold`).
        """
        self.count += 1
        if rank >= 40:
            self.errors += 1
        elif rank == 30:
            self.warnings += 1
        if rank > self.top_rank:
            self.top_rank = rank
        stamp = record.timestamp
        if stamp < self.first:
            self.first = stamp
        elif stamp > self.last:
            self.last = stamp
        raw = record.raw
        self.samples.append(raw if len(raw) <= MAX_SAMPLE_CHARS else _cap(raw))
        self.newest = record
        if masked is None:
            return
        forms = self.forms  # the masked form, inline: this runs for every record
        seen = forms.get(masked)
        if seen is not None:
            forms[masked] = seen + 1
        else:
            if len(forms) < MAX_FORMS:
                forms[masked] = 1
            flags = flags_of(masked)
            if flags != self.flags:
                self.flags = _merge_flags(self.flags, flags)
        flags = self.flags
        if flags is not _NO_FLAGS:
            if flags.duration:
                self._add_durations(record.message, threshold)
            if flags.truncation:
                self._add_limits(record.message)

    def _add_durations(self, message: str, threshold: float) -> None:
        seconds = [float(n) * _UNIT_SECONDS[u] for n, u in _DURATION.findall(message)]
        if seconds:
            longest = max(seconds)
            if len(self.durations) < 10_000:
                self.durations.append(longest)
            if longest > threshold:
                self.over_threshold += 1

    def _add_limits(self, message: str) -> None:
        for key, number in _KEY_NUMBER.findall(message):
            value = float(number)
            span = self.limits.get(key)
            if span is None:
                if len(self.limits) < 10:
                    self.limits[key] = [value, value]
            else:
                span[0], span[1] = min(span[0], value), max(span[1], value)

    def merge(self, other: Group) -> None:
        """Fold ``other`` (the same template's evidence from the same window) into this group.

        Counts add up, the time span widens, forms and ``key=number`` ranges are combined
        within their bounds. Samples: those of the group whose newest record is older come
        first, then the other's, the last :data:`~core.models.MAX_SAMPLES` kept (arrival
        order across two groups is not kept per record: that would cost every record).
        """
        self.count += other.count
        self.errors += other.errors
        self.warnings += other.warnings
        self.top_rank = max(self.top_rank, other.top_rank)
        self.first, self.last = min(self.first, other.first), max(self.last, other.last)
        for form, seen in other.forms.items():
            if form in self.forms:
                self.forms[form] += seen
            elif len(self.forms) < MAX_FORMS:
                self.forms[form] = seen
        self.flags = _merge_flags(self.flags, other.flags)
        if other.newest.timestamp >= self.newest.timestamp:
            self.newest = other.newest
            self.samples.extend(other.samples)
        elif (room := MAX_SAMPLES - len(self.samples)) > 0:
            self.samples.extendleft(reversed(list(other.samples)[-room:]))
        self.durations.extend(other.durations[: max(0, 10_000 - len(self.durations))])
        self.over_threshold += other.over_threshold
        for key, (low, high) in other.limits.items():
            span = self.limits.get(key)
            if span is not None:
                span[0], span[1] = min(span[0], low), max(span[1], high)
            elif len(self.limits) < 10:
                self.limits[key] = [low, high]

    def canonical(self) -> str:
        """The group's message template, from its masked forms only (arrival-independent)."""
        if self.signature is not None:
            kind, file, function = self.signature
            return f"{kind} in {function} ({file})" if function else kind
        return merge_forms(self.forms)

    def bases(self) -> list[str]:
        """Keys under which this group's errors are remembered in the baseline."""
        if self.signature is not None:
            return ["tb|" + "|".join(self.signature)]
        return ["tpl|" + form for form in self.forms]


def _merge_flags(a: FormFlags, b: FormFlags) -> FormFlags:
    return FormFlags(
        a.truncation or b.truncation,
        a.slow or b.slow,
        a.duplicate or b.duplicate,
        a.duration or b.duration,
    )


def merge_forms(forms: dict[str, int]) -> str:
    """Merge masked forms token by token: where they differ, the varying part becomes ``<*>``.

    Only forms with as many tokens as the most frequent one take part (a template's lines
    have equal-length forms); the result does not depend on their order. In a token that
    differs, punctuation-delimited parts common to all forms are kept: ``tag="a",`` and
    ``tag="b",`` merge to ``tag="<*>",``, ``user=root`` and ``user=guest`` to ``user=<*>``.
    """
    if not forms:
        return ""
    if len(forms) == 1:
        return next(iter(forms))
    top = max(forms.items(), key=lambda item: (item[1], item[0]))[0].split(" ")
    columns: list[set[str]] = [{token} for token in top]
    for form in forms:
        tokens = form.split(" ")
        if len(tokens) == len(top):
            for column, token in zip(columns, tokens, strict=True):
                column.add(token)
    return " ".join(next(iter(c)) if len(c) == 1 else _merge_token(c) for c in columns)


def _merge_token(tokens: set[str]) -> str:
    """``<*>`` framed by the prefix and suffix that all ``tokens`` share up to punctuation."""
    words = sorted(tokens)
    prefix = _common_start(words[0], words[-1])  # sorted: the extremes bound the rest
    backwards = sorted(w[::-1] for w in words)
    suffix = _common_start(backwards[0], backwards[-1])[::-1]
    shortest = min(len(w) for w in words)
    if prefix.rfind("<") > prefix.rfind(">"):  # never cut into a placeholder
        prefix = prefix[: prefix.rfind("<")]
    closing = suffix.find(">")
    if closing != -1 and not 0 <= suffix.find("<") < closing:
        suffix = suffix[closing + 1 :]
    prefix = prefix[: _last_cut(prefix) + 1]
    suffix = suffix[_first_cut(suffix) :]
    if len(prefix) + len(suffix) > shortest:
        suffix = ""
    return f"{prefix}<*>{suffix}"


def _common_start(a: str, b: str) -> str:
    size = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        size += 1
    return a[:size]


def _last_cut(text: str) -> int:
    """Index of the last non-alphanumeric character of ``text`` (-1: none)."""
    for index in range(len(text) - 1, -1, -1):
        if not text[index].isalnum() and text[index] != "_":
            return index
    return -1


def _first_cut(text: str) -> int:
    """Index of the first non-alphanumeric character of ``text`` (its length: none)."""
    for index, char in enumerate(text):
        if not char.isalnum() and char != "_":
            return index
    return len(text)


def _cap(sample: str) -> str:
    if len(sample) <= MAX_SAMPLE_CHARS:
        return sample
    return sample[:MAX_SAMPLE_CHARS] + f"\n... [{len(sample) - MAX_SAMPLE_CHARS} chars cut]"
