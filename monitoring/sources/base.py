"""Log sources: the one small protocol every source implements, its errors, and cursors.

A source turns "what is new since the cursor" into :class:`~core.models.LogRecord`s.
It is pure with respect to storage: :meth:`LogSource.fetch` takes the cursor stored after
the previous cycle and returns the records plus the cursor to store once they have been
processed. :class:`CursoredSource` keeps that cursor in the database's
:class:`~core.state.KeyValueStore`, and only :meth:`CursoredSource.commit` moves it, so a
crash between fetch and commit re-reads the same records instead of losing them.

Errors raised by sources (third-party errors are translated where they enter)::

    LogSourceError            bad answer, bad configuration: not retried
    ├── LogSourceAuthError    credentials refused; the message names the variable
    └── LogSourceUnavailable  network failure, 429, 5xx: retried with backoff

:func:`is_retryable` is the one place that decides what is retried.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from core.clock import parse_retry_after
from core.models import Level, LogRecord
from core.state import KeyValueStore

Cursor = dict[str, Any]
"""A source's JSON-serialisable position; its shape is private to the source."""


class LogSourceError(Exception):
    """A log source failed in a way that retrying will not fix (bad answer, bad config)."""


class LogSourceAuthError(LogSourceError):
    """The log backend refused our credentials; the message says which variable to fix."""


class LogSourceUnavailable(LogSourceError):
    """The log backend could not be reached or asked us to slow down (retryable).

    Attributes:
        retry_after_seconds: the server's ``Retry-After``, when it sent one.
    """

    def __init__(self, message: str, *, retry_after_seconds: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


def is_retryable(error: BaseException) -> bool:
    """True for errors worth another try: :class:`LogSourceUnavailable` only."""
    return isinstance(error, LogSourceUnavailable)


def translate_http_error(error: httpx.HTTPError, *, backend: str) -> LogSourceError:
    """Map an httpx transport error to :class:`LogSourceUnavailable` (timeouts, refused
    connections, protocol errors are all worth a retry)."""
    return LogSourceUnavailable(
        f"{backend} could not be reached: {error.__class__.__name__}: {error}"
    )


def check_http_status(response: httpx.Response, *, backend: str, auth_hint: str) -> None:
    """Raise the matching :class:`LogSourceError` for a non-2xx response.

    Args:
        response: the HTTP response.
        backend: ``"Railway"``, ``"Loki"`` (for the message).
        auth_hint: which variable to check on 401/403, e.g. ``"RAILWAY_API_TOKEN"``.

    Raises:
        LogSourceUnavailable: 429 or 5xx (``retry_after_seconds`` from ``Retry-After``).
        LogSourceAuthError: 401 or 403.
        LogSourceError: any other non-2xx status.
    """
    status = response.status_code
    if status < 300:
        return
    if status == 429 or status >= 500:
        raise LogSourceUnavailable(
            f"{backend} answered HTTP {status}",
            retry_after_seconds=parse_retry_after(response.headers.get("Retry-After")),
        )
    if status in (401, 403):
        raise LogSourceAuthError(
            f"{backend} refused the credentials (HTTP {status}); check {auth_hint}"
        )
    raise LogSourceError(f"{backend} answered HTTP {status}: {response.text[:200]}")


@dataclass
class Batch:
    """What one fetch returned.

    Attributes:
        records: new records, oldest first, never returned by an earlier committed fetch.
        cursor: the position to store once ``records`` are processed.
        notes: short remarks for the operator (e.g. a window that had to be split).
    """

    records: list[LogRecord]
    cursor: Cursor
    notes: list[str] = field(default_factory=list)


class LogSource(Protocol):
    """Where a service's logs come from (Railway, Loki, a file, a command, memory).

    Attributes:
        name: the registry name (``railway``, ``loki``, ``file``, ``command``, ``static``).
        cursor_key: the :class:`~core.state.KeyValueStore` key of this source's cursor;
            distinct per backend identity (service, query, path, command).
    """

    name: str
    cursor_key: str

    def fetch(self, cursor: Mapping[str, Any] | None, *, now: datetime) -> Batch:
        """Records that arrived after ``cursor`` and up to ``now`` (aware UTC).

        ``cursor`` None means a first start: sources read a bounded look-back (or the
        whole file) rather than everything ever logged.

        Raises:
            LogSourceError: (or a subclass) when the backend fails; nothing is consumed.
        """
        ...

    def check(self) -> str:
        """A cheap reachability check; returns a short description of what it found.

        Raises:
            LogSourceError: the backend is unreachable or refuses us.
        """
        ...

    def close(self) -> None:
        """Release connections and files (idempotent)."""
        ...


class CursoredSource:
    """A :class:`LogSource` whose cursor lives in the database.

    Args:
        source: the source.
        state: where cursors live; the key is ``source.cursor_key``.
        clock: the current aware UTC time.
    """

    def __init__(
        self,
        source: LogSource,
        *,
        state: KeyValueStore,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.source = source
        self.state = state
        self.clock = clock or (lambda: datetime.now(UTC))

    @property
    def name(self) -> str:
        """The wrapped source's registry name."""
        return self.source.name

    def fetch(self) -> Batch:
        """New records since the stored cursor (which is not moved yet).

        Raises:
            LogSourceError: as :meth:`LogSource.fetch`.
        """
        return self.source.fetch(self.state.get(self.source.cursor_key), now=self.clock())

    def commit(self, batch: Batch) -> None:
        """Store ``batch.cursor``: its records will not be returned again."""
        self.state.set(self.source.cursor_key, batch.cursor)

    def check(self) -> str:
        """The wrapped source's health check (raises :class:`LogSourceError`)."""
        return self.source.check()

    def close(self) -> None:
        """Close the wrapped source."""
        self.source.close()


# --- helpers shared by the windowed sources (Railway, Loki, command) ------------------------

LEVEL_WORDS: dict[str, Level] = {
    "debug": Level.DEBUG,
    "trace": Level.DEBUG,
    "info": Level.INFO,
    "notice": Level.INFO,
    "warn": Level.WARNING,
    "warning": Level.WARNING,
    "error": Level.ERROR,
    "err": Level.ERROR,
    "fatal": Level.CRITICAL,
    "critical": Level.CRITICAL,
    "crit": Level.CRITICAL,
    "alert": Level.CRITICAL,
    "emerg": Level.CRITICAL,
    "panic": Level.CRITICAL,
}


def level_from_word(word: str | None) -> Level | None:
    """A :class:`Level` for a backend's severity word (``"error"``, ``"WARN"``...), or None."""
    return LEVEL_WORDS.get(word.strip().lower()) if word else None


def parse_iso_timestamp(text: str) -> datetime:
    """An aware UTC datetime from an RFC 3339 string (``...Z`` or ``+00:00``; digits past
    microseconds, as Railway sends nanoseconds, are dropped).

    Raises:
        ValueError: not an RFC 3339 timestamp.
    """
    value = text.strip().replace("Z", "+00:00").replace("z", "+00:00")
    head, dot, rest = value.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        frac, zone = rest[:digits], rest[digits:]
        value = f"{head}.{(frac + '000000')[:6]}{zone}"
    parsed = datetime.fromisoformat(value)
    if parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def iso(moment: datetime) -> str:
    """``2026-11-21T02:33:00.123456Z`` (UTC, microseconds)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def occurrence_keys(items: Iterable[tuple[str, str]]) -> list[str]:
    """Stable identities for entries given as ``(timestamp, text)``, in order.

    Equal pairs get ``#2``, ``#3``... so two identical lines in the same instant stay two
    entries; the same window fetched twice yields the same keys (used to drop entries at
    a window's overlapping edge).
    """
    seen: dict[str, int] = {}
    keys = []
    for stamp, text in items:
        digest = hashlib.blake2b(f"{stamp}\0{text}".encode(), digest_size=8).hexdigest()
        seen[digest] = seen.get(digest, 0) + 1
        keys.append(digest if seen[digest] == 1 else f"{digest}#{seen[digest]}")
    return keys


@dataclass(frozen=True)
class RetryPolicy:
    """How a source retries a retryable error (:func:`is_retryable`).

    Attributes:
        attempts: total calls at most (1 = no retry).
        base_delay_seconds: first backoff; doubles per attempt.
        max_delay_seconds: longest single wait (a longer ``Retry-After`` is capped).
    """

    attempts: int = 4
    base_delay_seconds: float = 1.0
    max_delay_seconds: float = 30.0


def call_with_retries(fn: Callable[[], Any], policy: RetryPolicy) -> Any:
    """Call ``fn()``; on a retryable error wait and call again, as ``policy`` says.

    The wait is the server's ``Retry-After`` when it sent one, else exponential from
    ``policy.base_delay_seconds``; either is capped at ``policy.max_delay_seconds``.

    Returns:
        What ``fn`` returned.

    Raises:
        LogSourceError: the last error, once attempts are exhausted or it is not retryable.
    """
    from tenacity import Retrying, retry_if_exception, stop_after_attempt

    def wait(state: Any) -> float:
        error = state.outcome.exception() if state.outcome else None
        hinted = getattr(error, "retry_after_seconds", None)
        delay = (
            hinted
            if hinted is not None
            else policy.base_delay_seconds * 2 ** (state.attempt_number - 1)
        )
        return float(min(delay, policy.max_delay_seconds))

    retrying = Retrying(
        retry=retry_if_exception(is_retryable),
        stop=stop_after_attempt(max(1, policy.attempts)),
        wait=wait,
        reraise=True,
    )
    return retrying(fn)
