"""Log sources: overlapping time windows with an edge set, so no entry is read twice.

Backends that are queried by time (Railway, Loki) index entries as they arrive, and an
entry can arrive a little after its own timestamp. Each window therefore starts
``overlap_seconds`` before the previous window's end, and the cursor remembers the
identities of the entries already read inside that overlap (the "edge"): a late entry is
picked up, an entry read before is dropped, and several entries sharing one timestamp at
the boundary are each read exactly once.

A Python traceback still being written when a window ends is held back (left out of the
edge) so the next window reads it whole (:func:`unfinished_traceback`; the file source
applies the same rule to its last lines).

Cursor shape (JSON)::

    {"until": "2026-11-21T02:33:00.000000Z",   # end of the last window read
     "edge": ["9f2c...", "9f2c...#2", ...]}     # keys of entries at or after until - overlap
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from monitoring.sources.base import Cursor, iso, occurrence_keys, parse_iso_timestamp

#: At most this many keys are kept in the edge (newest kept); beyond it a burst of more
#: lines than this inside one overlap may be read twice, which is preferable to unbounded
#: state.
MAX_EDGE_KEYS = 5000


@dataclass(slots=True)
class Entry:
    """One backend log entry before parsing.

    Attributes:
        timestamp: aware UTC time of the entry.
        stamp: the backend's exact timestamp text (nanoseconds kept), for identity.
        text: the log line.
        extra: backend-specific facts (severity, attributes, labels), kept for parsing.
    """

    timestamp: datetime
    stamp: str
    text: str
    extra: Any = None


class EdgeWindow:
    """Computes window starts and filters re-read entries for one time-queried stream.

    Args:
        overlap_seconds: how far each window reaches back before the last one's end
            (longer = tolerates later-arriving entries; the edge set grows with it).
        lookback_seconds: how far back the first window (no cursor yet) starts.
    """

    def __init__(self, *, overlap_seconds: float, lookback_seconds: float) -> None:
        self.overlap = timedelta(seconds=overlap_seconds)
        self.lookback = timedelta(seconds=lookback_seconds)

    def start(self, cursor: Mapping[str, Any] | None, now: datetime) -> datetime:
        """Where the next window starts (aware UTC)."""
        if not cursor or not cursor.get("until"):
            return now - self.lookback
        return parse_iso_timestamp(cursor["until"]) - self.overlap

    def select(
        self,
        cursor: Mapping[str, Any] | None,
        entries: Sequence[Entry],
        *,
        end: datetime,
        hold: Callable[[Sequence[Entry]], set[int]] | None = None,
    ) -> tuple[list[Entry], Cursor]:
        """Drop entries already read; return the new ones (oldest first) and the cursor.

        Args:
            cursor: this stream's cursor from the previous window, or None.
            entries: everything the backend returned for ``[start, end]``, any order.
            end: the end of the window just queried (aware UTC).
            hold: given the ordered entries, the indices to leave for the next window
                (e.g. a traceback still being written); only entries in the second half
                of the overlap are held, so the next window surely reads them again.
        """
        ordered = sorted(entries, key=lambda e: e.timestamp)
        keys = occurrence_keys((e.stamp, e.text) for e in ordered)
        known = set((cursor or {}).get("edge") or ())
        held = self._held(ordered, hold, end)
        fresh = [
            entry
            for i, (entry, key) in enumerate(zip(ordered, keys, strict=True))
            if key not in known and i not in held
        ]
        edge_from = end - self.overlap
        edge = [
            key
            for i, (entry, key) in enumerate(zip(ordered, keys, strict=True))
            if entry.timestamp >= edge_from and i not in held
        ]
        return fresh, {"until": iso(end), "edge": edge[-MAX_EDGE_KEYS:]}

    def _held(
        self,
        ordered: Sequence[Entry],
        hold: Callable[[Sequence[Entry]], set[int]] | None,
        end: datetime,
    ) -> set[int]:
        if hold is None:
            return set()
        held = hold(ordered)
        if held and ordered[min(held)].timestamp >= end - self.overlap / 2:
            return held
        return set()  # too old to be sure the next window reads it: take it as it is


_TRACEBACK_START = "Traceback (most recent call last):"
_CHAIN_LINES = frozenset(
    {
        "During handling of the above exception, another exception occurred:",
        "The above exception was the direct cause of the following exception:",
    }
)


def unfinished_traceback_start(texts: Sequence[str]) -> int | None:
    """Index of the line that starts a Python traceback still being written at the end of
    ``texts`` (no exception line after its last ``Traceback (most recent call last):``
    yet), moved one line back for the header it may have (``logger.exception``'s
    message); None when the texts end complete."""
    for start in range(len(texts) - 1, -1, -1):
        if texts[start].startswith(_TRACEBACK_START):
            if any(
                t.strip() and not t[0].isspace() and t.strip() not in _CHAIN_LINES
                for t in texts[start + 1 :]
            ):
                return None
            return max(start - 1, 0)
    return None


def unfinished_traceback(entries: Sequence[Entry]) -> set[int]:
    """Indices of the entries :func:`unfinished_traceback_start` would hold back."""
    start = unfinished_traceback_start([e.text for e in entries])
    return set() if start is None else set(range(start, len(entries)))
