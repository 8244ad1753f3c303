"""Log analysis: the evidence gathered per template in a window, and the rules that turn it
into ``Anomaly``s (``repeated_error``, ``new_error``, ``truncation``, ``slow_operation``,
``duplicate_spike``).

The analyzer (``monitoring/analyzer.py``) feeds every record of a window into a
:class:`Group` (one per template cluster, or per exception signature for tracebacks), then
calls :func:`evaluate`. Rules claim groups in this order, so one problem is one anomaly:

1. ``truncation``: a template that says output was cut (truncated, max_tokens, context
   length...), at WARNING or above, :attr:`RuleConfig.truncation_min_count` times or more.
2. ``slow_operation``: a slow/timeout/latency template at WARNING, or durations in the
   message (``1.2s``, ``350 ms``) over the threshold, ``slow_min_count`` times or more.
3. ``repeated_error``: the same template or exception signature at ERROR or above,
   ``repeat_min_count`` times or more.
4. ``new_error``: an error seen fewer times than that, never seen in an earlier cycle.
5. ``duplicate_spike``: an INFO/WARNING template seen ``spike_min_count`` times or more
   whose share of the window is ``spike_factor`` times its usual share. A template never
   seen before has, as usual share, its current one (no spike), except one that speaks of
   duplicates or retries: those are presumed rare (usual share 0) until learned.

Fingerprints come from canonical forms only (exception type + innermost in-app frame
``file:function``, or the regex-masked message), never from drain3 cluster ids, so the same
problem gets the same fingerprint in every cycle, process and host. ``repeated_error`` and
``new_error`` share a fingerprint family: they are one problem seen more or less often.
No errors are raised here.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitoring.models import (
    MAX_SAMPLES,
    Anomaly,
    AnomalyKind,
    Frame,
    FrameModel,
    Level,
    LogRecord,
    Severity,
)

#: Longest sample kept, in characters (a huge traceback is cut, with a marker).
MAX_SAMPLE_CHARS = 16_000
#: Distinct masked forms remembered per group (the rest are counted, not kept).
MAX_FORMS = 64

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
_LIBRARY_FILE = re.compile(
    r"site-packages|dist-packages|[/\\]lib[/\\]python\d[\d.]*[/\\]|[/\\]python\d*[/\\]lib[/\\]"
    r"|^<frozen |^<string>",
    re.I,
).search

_SUMMARIES: dict[str, str] = {
    "repeated_error": "{what} happened {times} ({level}) between {first} and {last} UTC.",
    "new_error": "New {level}, not seen in earlier cycles: {what}, {times} at {first} UTC.",
    "truncation": "Output was cut {times} ({limits}) between {first} and {last} UTC: {what}.",
    "slow_operation": "{count} slow operations (max {max_seconds:.2f} s, mean "
    "{mean_seconds:.2f} s) between {first} and {last} UTC: {what}.",
    "duplicate_spike": "{what} logged {times} ({share:.1%} of the window, usually "
    "{usual_share:.1%}): duplicates or retries.",
}
_BASE_SEVERITY: dict[str, Severity] = {
    "repeated_error": Severity.HIGH,
    "new_error": Severity.MEDIUM,
    "truncation": Severity.MEDIUM,
    "slow_operation": Severity.LOW,
    "duplicate_spike": Severity.LOW,
}
#: A group this large (events) is one severity step more urgent.
ESCALATE_AT_COUNT = 50


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
    if flags is None:
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


def app_frame(frames: tuple[Frame, ...] | list[Frame]) -> Frame | None:
    """The innermost frame outside site-/dist-packages and the stdlib (else the innermost)."""
    for frame in reversed(frames):
        if not _LIBRARY_FILE(frame.file):
            return frame
    return frames[-1] if frames else None


def basename(path: str) -> str:
    """``/app/app.py`` -> ``app.py`` (POSIX or Windows separators)."""
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def traceback_key(record: LogRecord) -> tuple[str, str, str]:
    """A traceback's signature: (exception type, in-app file basename, function)."""
    frame = app_frame(record.frames)
    if frame is None:
        return (record.exception_type or "", "", "")
    return (record.exception_type or "", basename(frame.file), frame.function)


@dataclass(frozen=True, slots=True)
class RuleConfig:
    """Thresholds of the rules (counts are events in one window, durations seconds)."""

    slow_threshold_seconds: float = 1.0
    repeat_min_count: int = 3
    truncation_min_count: int = 2
    slow_min_count: int = 2
    spike_min_count: int = 10
    spike_factor: float = 3.0


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
        """Count one record (``rank``: its level's number; ``masked``: None for tracebacks)."""
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
        if masked is not None:
            self._add_form(record, masked, threshold)

    def _add_form(self, record: LogRecord, masked: str, threshold: float) -> None:
        seen = self.forms.get(masked)
        if seen is None:
            if len(self.forms) < MAX_FORMS:
                self.forms[masked] = 1
            flags = flags_of(masked)
            if flags != self.flags:
                self.flags = _merge_flags(self.flags, flags)
        else:
            self.forms[masked] = seen + 1
        if self.flags.duration:
            self._add_durations(record.message, threshold)
        if self.flags.truncation:
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
    """Merge masked forms token by token: positions where they differ become ``<*>``.

    Only forms with as many tokens as the most frequent one take part (drain3 clusters
    hold equal-length messages); the result does not depend on their order.
    """
    if not forms:
        return ""
    if len(forms) == 1:
        return next(iter(forms))
    top = max(forms.items(), key=lambda item: (item[1], item[0]))[0].split(" ")
    merged = list(top)
    for form in forms:
        tokens = form.split(" ")
        if len(tokens) == len(top):
            merged = [m if m == t else "<*>" for m, t in zip(merged, tokens, strict=True)]
    return " ".join(merged)


def fingerprint(family: str, basis: str) -> str:
    """Stable id: the first 16 hex digits of SHA-256 over family and canonical basis."""
    return hashlib.sha256(f"{family}\x1f{basis}".encode()).hexdigest()[:16]


def basis_hash(basis: str) -> str:
    """Short stable hash of a baseline key (what the state store keeps)."""
    return hashlib.sha256(basis.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Baseline:
    """What earlier cycles taught (read-only view for the rules).

    Attributes:
        errors: :func:`basis_hash` of every error basis seen in earlier cycles.
        shares: :func:`basis_hash` of a template -> its usual share of a window (0..1).
    """

    errors: Collection[str]
    shares: dict[str, float]


def evaluate(
    groups: list[Group], total: int, baseline: Baseline, config: RuleConfig
) -> list[Anomaly]:
    """Apply the rules to one window's groups (``total`` records), most severe first.

    Order: severity (CRITICAL first), then count (largest first), then fingerprint.
    """
    anomalies = [a for group in groups if (a := _judge(group, total, baseline, config))]
    anomalies.sort(key=lambda a: (-a.severity.rank, -a.count, a.fingerprint))
    return anomalies


def _judge(group: Group, total: int, baseline: Baseline, config: RuleConfig) -> Anomaly | None:
    flags = group.flags
    noisy = group.errors + group.warnings
    if flags.truncation and noisy >= config.truncation_min_count:
        return build(group, "truncation", noisy, {"limits": _limits(group)})
    if flags.slow and group.warnings >= config.slow_min_count:
        return build(group, "slow_operation", group.warnings, _slow_details(group, config))
    if group.errors == 0 and group.over_threshold >= config.slow_min_count:
        return build(group, "slow_operation", group.over_threshold, _slow_details(group, config))
    if group.errors >= config.repeat_min_count:
        return build(group, "repeated_error", group.errors, _error_details(group))
    if group.errors:
        if any(basis_hash(b) in baseline.errors for b in group.bases()):
            return None
        return build(group, "new_error", group.errors, _error_details(group))
    return _spike(group, total, baseline, config)


def _spike(group: Group, total: int, baseline: Baseline, config: RuleConfig) -> Anomaly | None:
    if group.count < config.spike_min_count or not total:
        return None
    share = group.count / total
    usual = usual_share(group, share, baseline)
    if share < config.spike_factor * usual:
        return None
    details = {
        "count": group.count,
        "share": round(share, 6),
        "usual_share": round(usual, 6),
        "window_records": total,
    }
    return build(group, "duplicate_spike", group.count, details)


def usual_share(group: Group, share: float, baseline: Baseline) -> float:
    """The group's usual share: learned, else 0 for retry/duplicate templates, else ``share``."""
    learned = baseline.shares.get(basis_hash(group.canonical()))
    if learned is not None:
        return learned
    return 0.0 if group.flags.duplicate else share


def _limits(group: Group) -> dict[str, Any]:
    """``{"max_tokens": 3000, "needed": {"min": 3450, "max": 8292}}`` from key=number pairs."""
    limits: dict[str, Any] = {}
    for key, (low, high) in group.limits.items():
        low_n, high_n = _number(low), _number(high)
        limits[key] = low_n if low == high else {"min": low_n, "max": high_n}
    return limits


def _number(value: float) -> int | float:
    return int(value) if value.is_integer() else value


def _slow_details(group: Group, config: RuleConfig) -> dict[str, Any]:
    durations = group.durations
    return {
        "max_seconds": round(max(durations), 6) if durations else None,
        "mean_seconds": round(sum(durations) / len(durations), 6) if durations else None,
        "threshold_seconds": config.slow_threshold_seconds,
        "over_threshold": group.over_threshold,
    }


def _error_details(group: Group) -> dict[str, Any]:
    details: dict[str, Any] = {"level": _level_name(group.top_rank)}
    frame = app_frame(group.newest.frames) if group.signature else None
    if frame is not None:
        details["app_frame"] = f"{frame.file}:{frame.line} in {frame.function}"
    return details


def _level_name(rank: int) -> str:
    return next((lvl.value for lvl in reversed(Level) if rank >= lvl.rank), "DEBUG")


def build(group: Group, kind: AnomalyKind, count: int, details: dict[str, Any]) -> Anomaly:
    """The :class:`Anomaly` for a group that a rule flagged."""
    template = group.canonical()
    family = "error" if kind in ("repeated_error", "new_error") else kind
    newest = group.newest
    traceback = group.signature is not None
    return Anomaly(
        kind=kind,
        fingerprint=fingerprint(family, template),
        template=template,
        count=count,
        first_seen=group.first,
        last_seen=group.last,
        severity=_severity(kind, count, group.top_rank),
        samples=list(group.samples),
        exception_type=newest.exception_type if traceback else None,
        exception_message=newest.exception_message if traceback else None,
        frames=[FrameModel.of(f) for f in newest.frames] if traceback else [],
        logger=newest.logger,
        service=newest.service,
        summary=_summary(kind, group, count, template, details),
        details=details,
    )


def _severity(kind: str, count: int, top_rank: int) -> Severity:
    rank = _BASE_SEVERITY[kind].rank
    if kind in ("repeated_error", "new_error") and top_rank >= Level.CRITICAL.rank:
        rank += 1
    if count >= ESCALATE_AT_COUNT:
        rank += 1
    return next(s for s in reversed(Severity) if s.rank <= min(rank, Severity.CRITICAL.rank))


def _cap(sample: str) -> str:
    if len(sample) <= MAX_SAMPLE_CHARS:
        return sample
    return sample[:MAX_SAMPLE_CHARS] + f"\n... [{len(sample) - MAX_SAMPLE_CHARS} chars cut]"


def _summary(kind: str, group: Group, count: int, template: str, details: dict[str, Any]) -> str:
    what = template if len(template) <= 160 else template[:157] + "..."
    frame = app_frame(group.newest.frames) if group.signature else None
    if frame is not None and group.signature is not None:
        what = f"{group.signature[0]} in {frame.function} ({basename(frame.file)}:{frame.line})"
    same_day = group.first.date() == group.last.date()
    facts = {
        **{k: v if v is not None else 0.0 for k, v in details.items()},
        "what": what,
        "count": count,
        "times": "once" if count == 1 else f"{count} times",
        "first": f"{group.first:%Y-%m-%d %H:%M:%S}",
        "last": f"{group.last:%H:%M:%S}" if same_day else f"{group.last:%Y-%m-%d %H:%M:%S}",
        "limits": ", ".join(_limit_text(k, v) for k, v in details.get("limits", {}).items())
        or "no limits given",
    }
    return _SUMMARIES[kind].format(**facts)


def _limit_text(key: str, value: Any) -> str:
    """``max_tokens=3000`` or ``needed=3450..8292``."""
    if isinstance(value, dict):
        return f"{key}={value['min']}..{value['max']}"
    return f"{key}={value}"
