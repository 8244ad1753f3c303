"""Diagnosis cache: LM diagnoses kept per (fingerprint, model) until the code changes.

One entry per fingerprint and model, under the key ``diagnosis:<sha256(model, fingerprint)
[:40]>`` in the :class:`~core.state.KeyValueStore` (or a dict when there is none). The entry
holds the digest of the code context it was made with (paths and contents of the evidence
files, plus :data:`PROMPT_VERSION`); a lookup with another digest is a miss, and the next
diagnosis overwrites the entry. Storage trouble never fails a diagnosis: it is logged and
the cache is skipped.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from monitoring.diagnosis.draft import Draft

if TYPE_CHECKING:  # the store pulls in SQLAlchemy; the diagnoser only calls it
    from core.state import KeyValueStore

logger = logging.getLogger("mendbot.diagnosis")

#: Bump when the signatures or inputs change so that old answers are not reused.
PROMPT_VERSION = "1"


class DiagnosisCache:
    """LM drafts by fingerprint and model, valid while the code digest matches.

    Args:
        state: where entries persist across restarts; None keeps them in memory.
    """

    def __init__(self, *, state: KeyValueStore | None = None) -> None:
        self._state = state
        self._memory: dict[str, Any] = {}

    def get(self, *, fingerprint: str, model: str, digest: str) -> Draft | None:
        """The cached draft for this code, or None (miss, stale, unreadable)."""
        key = _key(fingerprint, model)
        try:
            entry = self._state.get(key) if self._state else self._memory.get(key)
        except Exception as error:  # the database is down: diagnose without the cache
            logger.warning("diagnosis cache unreadable (%s); ignoring it", error)
            return None
        if not isinstance(entry, dict) or entry.get("digest") != _versioned(digest):
            return None
        try:
            return Draft.from_json(entry["draft"])
        except Exception as error:
            logger.warning("diagnosis cache entry %s is invalid (%s); ignoring it", key, error)
            return None

    def put(self, *, fingerprint: str, model: str, digest: str, draft: Draft) -> None:
        """Remember ``draft`` for this fingerprint, model and code digest."""
        key = _key(fingerprint, model)
        entry = {
            "fingerprint": fingerprint,
            "model": model,
            "digest": _versioned(digest),
            "at": datetime.now(UTC).isoformat(),
            "draft": draft.to_json(),
        }
        try:
            if self._state:
                self._state.set(key, entry)
            else:
                self._memory[key] = entry
        except Exception as error:
            logger.warning("diagnosis cache not written (%s)", error)


def _key(fingerprint: str, model: str) -> str:
    digest = hashlib.sha256(f"{model}\0{fingerprint}".encode()).hexdigest()[:40]
    return f"diagnosis:{digest}"


def _versioned(digest: str) -> str:
    return f"{PROMPT_VERSION}:{digest}"
