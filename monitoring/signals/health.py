"""Operational signals: health checks of the service's URLs (``MENDBOT_HEALTH_URLS``).

Each check is one ``GET`` (``MENDBOT_HEALTH_TIMEOUT_SECONDS``). What it can show:

- **down**: no answer, or an answer that is not 2xx -> ``service_down``;
- **slow**: an answer after more than ``MENDBOT_HEALTH_SLOW_SECONDS`` -> ``service_down``
  (``details.reason`` says ``slow``);
- **resource pressure**: a JSON body with memory or disk use over its threshold
  (``MENDBOT_MEMORY_THRESHOLD_PERCENT``, 80; ``MENDBOT_DISK_THRESHOLD_PERCENT``, 85) ->
  ``resource_pressure`` (``details.resource``: ``memory`` or ``disk``). The figures are
  read from the keys ``memory_percent`` / ``disk_percent`` (also ``mem_percent``,
  ``*_used_percent``, or ``{"memory": {"percent": ...}}``), in percent.

A problem fires once it has been seen ``MENDBOT_HEALTH_FAILURES`` checks in a row (2: one
blip is not an incident), and keeps firing while it lasts (counted as repeats); the first
check without it clears it. The state lives in the key/value store, so a restart neither
forgets a failing URL nor reports it as new. While any URL fails, checks run every
``MENDBOT_HEALTH_FAILING_INTERVAL_SECONDS`` (10) instead of every
``MENDBOT_HEALTH_INTERVAL_SECONDS`` (30), so a failure becomes an anomaly within 60 s.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from core.models import Anomaly, Severity
from core.state import KeyValueStore
from monitoring.signals.base import Signal, fingerprint

#: Bytes of a health body read at most.
MAX_BODY_BYTES = 64 * 1024
_STATE_PREFIX = "health:"
_FIGURE_KEYS = {
    "memory": ("memory_percent", "memory_used_percent", "mem_percent", "mem_used_percent"),
    "disk": ("disk_percent", "disk_used_percent"),
}


@dataclass(frozen=True)
class Reading:
    """One health check's answer.

    Attributes:
        url: the checked URL.
        status: the HTTP status, None when nothing answered.
        seconds: how long the answer took (wall clock).
        error: why nothing usable answered (connection refused, timeout...), or None.
        figures: resource use in percent found in a JSON body, e.g. ``{"memory": 91.5}``.
    """

    url: str
    status: int | None
    seconds: float
    error: str | None = None
    figures: dict[str, float] = field(default_factory=dict)


def check(client: httpx.Client, url: str) -> Reading:
    """``GET url`` once and read what it says (never raises for the service's trouble)."""
    started = time.monotonic()
    try:
        with client.stream("GET", url) as response:
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) >= MAX_BODY_BYTES:
                    break
    except httpx.HTTPError as error:
        seconds = time.monotonic() - started
        return Reading(url, None, seconds, error=f"{error.__class__.__name__}: {error}"[:300])
    seconds = time.monotonic() - started
    return Reading(url, response.status_code, seconds, figures=figures_in(body))


def figures_in(body: bytes) -> dict[str, float]:
    """Memory and disk use in percent from a JSON health body (see the module docstring)."""
    import json

    try:
        data = json.loads(body[:MAX_BODY_BYTES].decode("utf-8", errors="replace"))
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    found: dict[str, float] = {}
    for resource, keys in _FIGURE_KEYS.items():
        nested = data.get(resource)
        candidates = [data.get(k) for k in keys]
        if isinstance(nested, dict):
            candidates += [nested.get("percent"), nested.get("used_percent")]
        for value in candidates:
            if (
                isinstance(value, (int, float))
                and not isinstance(value, bool)
                and 0 <= value <= 100
            ):
                found[resource] = float(value)
                break
    return found


class HealthWatch:
    """Turns readings into firing and clearing signals, one state per URL.

    Args:
        state: where each URL's failing problems are kept (survives restarts).
        slow_seconds: answers slower than this count as down (slow).
        memory_percent, disk_percent: thresholds of resource pressure.
        failures_to_fire: checks in a row a problem must show before it fires.
    """

    def __init__(
        self,
        *,
        state: KeyValueStore,
        slow_seconds: float = 2.0,
        memory_percent: float = 80.0,
        disk_percent: float = 85.0,
        failures_to_fire: int = 2,
    ) -> None:
        self.state = state
        self.slow_seconds = slow_seconds
        self.limits = {"memory": memory_percent, "disk": disk_percent}
        self.failures_to_fire = failures_to_fire

    def observe(self, reading: Reading, *, now: datetime) -> list[Signal]:
        """Record one reading; returns the signals it fires or clears."""
        key = _STATE_PREFIX + reading.url
        failing: dict[str, Any] = dict(self.state.get(key) or {})
        problems = self._problems(reading)
        signals = []
        for name, (reason, figure) in problems.items():
            entry = failing.get(name) or {"since": now.isoformat(), "count": 0}
            entry["count"] = int(entry["count"]) + 1
            failing[name] = entry
            if entry["count"] >= self.failures_to_fire:
                entry["fired"] = True
                signals.append(self._signal(reading, name, reason, figure, entry, now, "firing"))
        for name in [n for n in failing if n not in problems]:
            entry = failing.pop(name)
            if entry.get("fired"):
                signals.append(
                    self._signal(reading, name, "recovered", None, entry, now, "clearing")
                )
        self.state.set(key, failing)
        return signals

    def failing(self, urls: list[str]) -> bool:
        """True while any of ``urls`` shows a problem (then checks run more often)."""
        return any(self.state.get(_STATE_PREFIX + url) for url in urls)

    def _problems(self, reading: Reading) -> dict[str, tuple[str, float | None]]:
        problems: dict[str, tuple[str, float | None]] = {}
        if reading.status is None:
            problems["service_down"] = (f"no answer ({reading.error})", None)
        elif not 200 <= reading.status < 300:
            problems["service_down"] = (f"HTTP {reading.status}", None)
        elif reading.seconds > self.slow_seconds:
            problems["service_down"] = (f"slow: {reading.seconds:.1f} s", reading.seconds)
        for resource, limit in self.limits.items():
            value = reading.figures.get(resource)
            if value is not None and value > limit:
                problems[f"resource_pressure:{resource}"] = (
                    f"{resource} at {value:g} % (over {limit:g} %)",
                    value,
                )
        return problems

    def _signal(
        self,
        reading: Reading,
        name: str,
        reason: str,
        figure: float | None,
        entry: dict[str, Any],
        now: datetime,
        state: str,
    ) -> Signal:
        kind, _, resource = name.partition(":")
        since = datetime.fromisoformat(str(entry["since"]))
        host = urlsplit(reading.url).netloc or reading.url
        what = f"{resource} pressure" if resource else "down"
        details: dict[str, Any] = {"url": reading.url, "reason": reason, "checks": entry["count"]}
        if resource:
            details |= {"resource": resource, "percent": figure}
        elif reason.startswith("slow"):
            details |= {"reason": "slow", "seconds": figure}
        anomaly = Anomaly(
            kind=kind,  # type: ignore[arg-type]
            fingerprint=fingerprint(kind, reading.url, resource),
            template=f"health check {reading.url}: {what}",
            count=max(1, int(entry["count"])),
            first_seen=since,
            last_seen=max(since, now),
            severity=Severity.CRITICAL if kind == "service_down" else Severity.HIGH,
            samples=[f"GET {reading.url}: {reason}"],
            service=host,
            summary=f"{host} is {what}: {reason}"[:500],
            details=details,
        )
        return Signal(
            anomaly=anomaly,
            state="firing" if state == "firing" else "clearing",
            episode=str(entry["since"]),
            source="health",
        )
