"""Shared contracts: the one clock (aware UTC) that every stage stamps times with, and the
seconds an HTTP ``Retry-After`` asks to wait."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from an HTTP ``Retry-After`` header (RFC 9110, delta-seconds form only; a
    date or garbage gives None), never negative; None when there is no header."""
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
