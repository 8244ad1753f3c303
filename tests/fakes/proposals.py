"""Test support: fix proposals for a small real service, and byte-exact tree snapshots.

``SERVICE`` is a tiny stdlib-only web handler module with the KeyError bug of the real
log (``../shared/data/applogs/asgi_service.log``); ``KEYERROR_FIX`` is the edit that
fixes it. ``tree_hashes(work)`` hashes every file outside ``.git`` so a test can assert
that a rollback restored the checkout byte for byte.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from core.models import Anomaly, Diagnosis, FrameModel, Severity
from core.proposals import Edit, FixProposal, Risk

APP = '''"""Orders service."""
import json

STATS = {"orders": [], "users": {}}


def orders(body):
    STATS["orders"].append(body["amount"])
    user = STATS["users"][body["user_id"]]   # bug: unknown users raise KeyError
    return {"ok": True, "user": user}


def average():
    return {"avg": sum(STATS["orders"]) / len(STATS["orders"])}
'''

UTIL = '''"""Helpers."""


def parse(text):
    return text.strip().split(",")
'''

#: A module that needs a third-party package the test environment does not have.
WEB = '''"""The ASGI app (needs fastapi, which is not installed where mendbot runs)."""
from fastapi import FastAPI

from app import orders

api = FastAPI()
LIMIT = 10
'''

SERVICE = {
    "app.py": APP,
    "lib/__init__.py": "",
    "lib/util.py": UTIL,
    "web.py": WEB,
    "README.md": "# orders\n",
}

KEYERROR_FIX = Edit(
    path="app.py",
    old_text='    user = STATS["users"][body["user_id"]]   # bug: unknown users raise KeyError\n',
    new_text='    user = STATS["users"].get(body["user_id"])\n'
    "    if user is None:\n"
    '        return {"ok": False, "error": "unknown user"}\n',
)

NOW = datetime(2026, 11, 21, 2, 33, 0, tzinfo=UTC)


def make_proposal(
    edits: list[Edit] | None = None,
    *,
    fingerprint: str = "3f2a9c0d1e4b5a69",
    title: str = "KeyError in orders()",
    created_at: datetime | None = None,
    root_cause: str = "orders() looks up users that were never registered.",
) -> FixProposal:
    """A proposal (not stored yet) for the KeyError anomaly, by default with the fix."""
    when = created_at or datetime.now(UTC)
    anomaly = Anomaly(
        kind="repeated_error",
        fingerprint=fingerprint,
        template="KeyError at /app/app.py:orders",
        count=19,
        first_seen=NOW,
        last_seen=NOW,
        severity=Severity.HIGH,
        exception_type="KeyError",
        exception_message="'u42'",
        frames=[FrameModel(file="/app/app.py", line=9, function="orders")],
        summary="KeyError in orders (app.py:9), 19 times",
    )
    diagnosis = Diagnosis(
        root_cause=root_cause,
        severity_assessment=Severity.HIGH,
        affected_components=["app.py:orders"],
        confidence=0.85,
    )
    return FixProposal(
        fingerprint=fingerprint,
        anomaly=anomaly,
        diagnosis=diagnosis,
        title=title,
        edits=[KEYERROR_FIX] if edits is None else edits,
        reasoning="Unknown users get a clear error instead of a 500.",
        risk=Risk.LOW,
        created_at=when,
    )


def tree_hashes(root: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root`` except inside ``.git``, by relative path."""
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(root).parts
    }
