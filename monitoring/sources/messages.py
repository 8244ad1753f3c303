"""Log sources: the words the monitor uses about its log source (Slack alerts, status)."""

from __future__ import annotations


def source_down(source: str, failures: int, error: str, retry_seconds: float) -> str:
    """The one alert posted when the source has failed ``failures`` times in a row."""
    return (
        f":warning: mendbot cannot read the {source} logs ({failures} failures in a row): "
        f"{error}. Monitoring continues, retrying every {_duration(retry_seconds)}; "
        "proposals already posted can still be decided."
    )


def source_recovered(source: str, failures: int, down_seconds: float) -> str:
    """The one alert posted when the source works again after :func:`source_down`."""
    return (
        f":white_check_mark: mendbot reads the {source} logs again "
        f"(after {failures} failed attempts over {_duration(down_seconds)})."
    )


def cycle_failed(failures: int, error: str, retry_seconds: float) -> str:
    """The alert when cycles fail for another reason than the source (e.g. the database)."""
    return (
        f":warning: mendbot's monitoring cycle failed {failures} times in a row: {error}. "
        f"Retrying every {_duration(retry_seconds)}."
    )


def cycle_recovered(failures: int) -> str:
    """The alert when cycles succeed again after :func:`cycle_failed`."""
    return f":white_check_mark: mendbot's monitoring cycles work again (after {failures} failures)."


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:g} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
