"""Operational signals: the one shape every signal takes on its way to a proposal.

A :class:`Signal` is an anomaly that is *firing* (something is wrong) or *clearing* (it
stopped: an alert resolved, a health check passing again). Its ``episode`` tells one
occurrence from the next: repeats of an episode (Alertmanager's ``repeat_interval``, the
second delivery of an HA pair, a health check still failing) are counted on the
episode's one proposal; a new episode of the same fingerprint may be proposed again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from core.models import Anomaly


@dataclass(frozen=True)
class Signal:
    """One firing or clearing of an operational anomaly.

    Attributes:
        anomaly: kind ``alert``, ``service_down`` or ``resource_pressure``; its
            ``fingerprint`` is stable across deliveries, processes and restarts.
        state: ``firing`` or ``clearing``.
        episode: the occurrence, e.g. the alert's ``startsAt`` (ISO 8601 UTC).
        source: ``alert`` or ``health`` (said in the thread when it clears).
    """

    anomaly: Anomaly
    state: Literal["firing", "clearing"]
    episode: str
    source: Literal["alert", "health"]

    @property
    def once_key(self) -> str:
        """The key claimed once per episode (``signal:<fingerprint>:<episode>``)."""
        return f"signal:{self.anomaly.fingerprint}:{self.episode}"[:255]


def fingerprint(*parts: str) -> str:
    """A 16-hex fingerprint of ``parts`` (SHA-256 prefix, as the log analyzer's)."""
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:16]
