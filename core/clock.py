"""Shared contracts: the one clock (aware UTC) that every stage stamps times with."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)
