"""Log sources: overlapping time windows with an edge set, so no entry is read twice.

Backends that are queried by time (Railway, Loki) index entries as they arrive, and an
entry can arrive a little after its own timestamp. Each window therefore starts
``overlap_seconds`` before the previous window's end, and the cursor remembers the
identities of the entries already read inside that overlap (the "edge"): a late entry is
picked up, an entry read before is dropped, and several entries sharing one timestamp at
the boundary are each read exactly once.

Cursor shape (JSON)::

    {"until": "2026-11-21T02:33:00.000000Z",   # end of the last window read
     "edge": ["9f2c...", "9f2c...#2", ...]}     # keys of entries at or after until - overlap
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
        self, cursor: Mapping[str, Any] | None, entries: Sequence[Entry], *, end: datetime
    ) -> tuple[list[Entry], Cursor]:
        """Drop entries already read; return the new ones (oldest first) and the cursor.

        Args:
            cursor: this stream's cursor from the previous window, or None.
            entries: everything the backend returned for ``[start, end]``, any order.
            end: the end of the window just queried (aware UTC).
        """
        ordered = sorted(entries, key=lambda e: e.timestamp)
        keys = occurrence_keys((e.stamp, e.text) for e in ordered)
        known = set((cursor or {}).get("edge") or ())
        fresh = [entry for entry, key in zip(ordered, keys, strict=True) if key not in known]
        edge_from = end - self.overlap
        edge = [key for entry, key in zip(ordered, keys, strict=True)
                if entry.timestamp >= edge_from]
        return fresh, {"until": iso(end), "edge": edge[-MAX_EDGE_KEYS:]}
