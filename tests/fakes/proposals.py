"""Test support: fix proposals for a small real service, and byte-exact tree snapshots.

``SERVICE`` is a tiny stdlib-only web handler module with the KeyError bug of the real
log (``../shared/data/applogs/asgi_service.log``); ``KEYERROR_FIX`` is the edit that
fixes it. ``make_proposal`` builds a proposal as diagnosis would have stored it: its
evidence (by default the traceback frame ``app.py:9 in orders``, checked against the code
by :func:`core.evidence.locate`) and an anomaly whose frames are that evidence's.
``frame_evidence`` makes evidence for other files. ``tree_hashes(work)`` hashes every file
outside ``.git`` so a test can assert that a rollback restored the checkout byte for byte.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from core.evidence import locate
from core.models import Anomaly, Diagnosis, FrameModel, Severity
from core.proposals import Edit, Evidence, FixProposal, Risk

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


def frame_evidence(source: str, path: str, line: int, function: str) -> Evidence:
    """The evidence a traceback frame ``/app/<path>``, line ``line``, in ``function`` gives
    when ``source`` is the file's text (fails the test if the code does not agree)."""
    item = locate(
        source, path=path, line=line, kind="frame", detail=f"/app/{path}", function=function
    )
    assert item is not None, f"{path}:{line} is not in {function}"
    return item


#: The KeyError's frame in SERVICE's app.py.
ORDERS_FRAME = frame_evidence(APP, "app.py", 9, "orders")


def make_proposal(
    edits: list[Edit] | None = None,
    *,
    fingerprint: str = "3f2a9c0d1e4b5a69",
    title: str = "KeyError in orders()",
    created_at: datetime | None = None,
    root_cause: str = "orders() looks up users that were never registered.",
    evidence: list[Evidence] | None = None,
    risk: Risk = Risk.LOW,
    risk_reasons: list[str] | None = None,
) -> FixProposal:
    """A proposal (not stored yet) for the KeyError anomaly, by default with the fix.

    ``evidence`` defaults to :data:`ORDERS_FRAME`; the anomaly's frames are the frame
    evidence given, so the two agree as they do in a proposal diagnosis built.
    """
    when = created_at or datetime.now(UTC)
    evidence = [ORDERS_FRAME] if evidence is None else evidence
    frames = [
        FrameModel(file=e.detail, line=e.line, function=e.function)
        for e in evidence
        if e.kind == "frame"
    ]
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
        frames=frames,
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
        evidence=evidence,
        risk=risk,
        risk_reasons=risk_reasons or [],
        created_at=when,
    )


def tree_hashes(root: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root`` except inside ``.git``, by relative path."""
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(root).parts
    }
