"""Monitoring orchestration: counting a watched fingerprint's events in the records a cycle reads.

While a fix is verified (:mod:`monitoring.verification`), every record of a cycle passes
through one :class:`CycleWatch` on its way to the analyzer (the pipeline's tap, so a large
window is still streamed once). For each fix in its window, a :class:`FingerprintWatch`
counts the records stamped in ``[live_at, window_end)`` and, among them, the events of the
fix's anomaly, recognised record by record, below any rule's threshold too:

- a traceback anomaly: the same exception type at the same innermost in-app frame
  (file basename and function), as the analyzer groups tracebacks;
- any other anomaly: the masked message fits the anomaly's template token by token (``<*>``
  matches any text within a token), at the level its rule counts (ERROR and above for
  errors, WARNING and above for truncation and slowness, any level for spikes).

Each event is counted once, across cycles and restarts: its identity (timestamp, a digest
of its text, and its rank among equal lines) is kept with the verification, so a line read
again (after a crash before the log cursor moved, or at a window's overlapping edge) is
recognised; a line that arrives late still counts. Records that Railway tagged with
another deployment than the one followed (``railway.deployment``: the old code still
draining) are left out. No errors are raised here.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from datetime import datetime

from core.frames import app_frame, basename
from core.models import Anomaly, FrameModel, LogRecord
from core.verification import MAX_EVENT_KEYS, LineRange, Verification
from monitoring.analysis.evidence import traceback_key
from monitoring.analysis.templates import mask

Matcher = Callable[[LogRecord], bool]
#: The lowest level (``Level.rank``) at which each rule counts an event.
_MIN_RANK = {
    "repeated_error": 40,
    "new_error": 40,
    "truncation": 30,
    "slow_operation": 30,
    "duplicate_spike": 0,
}
_WILDCARD = "<*>"
DEPLOYMENT_ATTRIBUTE = "railway.deployment"


def matcher_for(anomaly: Anomaly) -> Matcher:
    """A predicate telling whether one record is an event of ``anomaly``'s problem."""
    if anomaly.exception_type:
        frame = app_frame(anomaly.frames)
        where = (basename(frame.file), frame.function) if frame is not None else ("", "")
        key = (anomaly.exception_type, *where)
        return lambda r: r.exception_type is not None and traceback_key(r) == key
    fits = template_matcher(anomaly.template)
    rank = _MIN_RANK.get(anomaly.kind, 0)
    return lambda r: r.exception_type is None and r.level.rank >= rank and fits(mask(r.message))


def template_matcher(template: str) -> Callable[[str], bool]:
    """A predicate on masked messages: same tokens as ``template``, where a token holding
    ``<*>`` matches any text in its place (``tag="<*>",`` matches ``tag="a",``)."""
    tokens = template.split(" ")
    patterns = [
        re.compile(".*".join(re.escape(part) for part in t.split(_WILDCARD)), re.S)
        if _WILDCARD in t
        else None
        for t in tokens
    ]

    def fits(masked: str) -> bool:
        words = masked.split(" ")
        if len(words) != len(tokens):
            return False
        for word, token, pattern in zip(words, tokens, patterns, strict=True):
            if pattern is None and word != token:
                return False
            if pattern is not None and pattern.fullmatch(word) is None:
                return False
        return True

    return fits


class FingerprintWatch:
    """One fix's window in one cycle: the records stamped in it and its anomaly's events.

    Args:
        verification: the fix's verification (``live_at`` set).
        matcher: see :func:`matcher_for`.

    Attributes:
        records: records stamped in the window this cycle (any kind).
        count: the anomaly's events this cycle.
        keys: the identities of the first :data:`~core.verification.MAX_EVENT_KEYS` of
            them (``<ISO stamp>|<digest of stamp and text>``, ``#n`` for the n-th equal
            line of the cycle): the same lines read again give the same keys.
    """

    def __init__(self, verification: Verification, *, matcher: Matcher) -> None:
        assert verification.live_at is not None and verification.window_end is not None
        self.verification = verification
        self.start = verification.live_at
        self.end = verification.window_end
        self.deployment = verification.deploy_id
        self.matcher = matcher
        self.records = 0
        self.count = 0
        self.keys: list[str] = []
        self._seen: dict[str, int] = {}

    def observe(self, record: LogRecord) -> None:
        """Note ``record`` if it is stamped in the window (and of the followed deployment)."""
        stamp = record.timestamp
        if stamp < self.start or stamp >= self.end:
            return
        tagged = record.attributes.get(DEPLOYMENT_ATTRIBUTE) if record.attributes else None
        if tagged and self.deployment and tagged != self.deployment:
            return
        self.records += 1
        if not self.matcher(record):
            return
        self.count += 1
        if len(self.keys) < MAX_EVENT_KEYS:  # beyond that it regressed anyway: just count
            iso = stamp.isoformat()
            digest = hashlib.blake2b(f"{iso}\0{record.raw}".encode(), digest_size=8).hexdigest()
            rank = self._seen[digest] = self._seen.get(digest, 0) + 1
            self.keys.append(f"{iso}|{digest}" + (f"#{rank}" if rank > 1 else ""))


class CycleWatch:
    """Every watched fix's :class:`FingerprintWatch` for one cycle; call it per record.

    Args:
        watches: the fixes in their window, each with its matcher.

    Attributes:
        watches: proposal id -> its watch.
        newest: the newest record timestamp of the cycle (any record), None if none came.
        notes: remarks for the operator gathered before the records (a deploy check that
            failed), returned with the cycle's.
    """

    def __init__(self, watches: Iterable[FingerprintWatch] = ()) -> None:
        self.watches = {w.verification.proposal_id: w for w in watches}
        self.newest: datetime | None = None
        self.notes: list[str] = []

    def __call__(self, record: LogRecord) -> None:
        stamp = record.timestamp
        if self.newest is None or stamp > self.newest:
            self.newest = stamp
        for watch in self.watches.values():
            watch.observe(record)


def in_changed_lines(frame: FrameModel, changed: dict[str, list[LineRange]]) -> str | None:
    """The repository path whose changed lines hold ``frame`` (its file is the path, or
    ends with ``/`` + the path, as a deployed ``/app/pkg/mod.py`` holds ``pkg/mod.py``),
    else None. The longest matching path wins."""
    file = frame.file.replace("\\", "/")
    paths = sorted(
        (p for p in changed if file == p or file.endswith("/" + p)), key=len, reverse=True
    )
    for path in paths[:1]:
        if any(first <= frame.line <= last for first, last in changed[path]):
            return path
    return None
