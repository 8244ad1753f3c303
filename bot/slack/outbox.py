"""Slack bot stage: the one door to Slack's chat methods: payloads defused, posts paced.

Every message mendbot sends (proposals, thread replies, alerts, answers to mentions,
ephemeral refusals) goes through :meth:`SlackOutbox.send`, so what a new field or a new
call site forgets is still done here, at the boundary:

- **defused**: the top-level ``text`` and every ``mrkdwn`` text in the blocks go through
  :func:`bot.slack.mrkdwn.defuse` (no ``<!channel>``, ``<!here>``, mention or link that
  mendbot's helpers did not write survives), and every string in the payload through
  :func:`core.text.printable` (no control or invisible character reaches Slack raw);
  ``chat.postMessage`` never unfurls links or media a log line carried;
- **paced**: ``chat.postMessage`` to one channel waits for a token of a small bucket
  (Slack allows about one message per second per channel, with short bursts): at most
  :data:`BURST` at once, then one every ``1 / posts_per_second`` seconds, one post at a
  time per channel;
- **rate limits honoured**: an HTTP 429 is waited out for its ``Retry-After`` and
  retried by slack_sdk's ``RateLimitErrorRetryHandler`` (installed on the client), after
  which the channel has no burst left; one that outlasts the retries holds the channel
  for ``Retry-After`` seconds and is raised to the caller as the ``SlackApiError`` it is.

Errors: whatever ``WebClient`` raises (``SlackApiError``, ``SlackClientError``,
``OSError``); callers decide whether a failure matters (see :mod:`bot.slack.notifier`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Literal

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web import SlackResponse

from bot.slack.mrkdwn import defuse
from core.text import printable

ChatMethod = Literal["chat_postMessage", "chat_update", "chat_postEphemeral"]

#: Sustained ``chat.postMessage`` rate per channel (Slack: "1 message per second").
POSTS_PER_SECOND = 1.0
#: Messages a quiet channel may take at once before pacing starts.
BURST = 3
#: Retries of a rate-limited (HTTP 429) call, each after its ``Retry-After``.
RATE_LIMIT_RETRIES = 2


class SlackOutbox:
    """Sends chat messages to Slack, defused and paced (see the module docstring).

    Thread-safe: the Slack app's listeners, the apply worker and the monitor share one.
    Posts to one channel go one at a time (each waits for its token, then is sent), and
    the time a call takes earns no tokens, so posts reach Slack no faster than the pace
    even when a call is slow or waits out a 429.

    Args:
        client: the Web API client; its ``RateLimitErrorRetryHandler`` (added when it has
            none) is replaced by one that also tells this outbox when it waited.
        posts_per_second: sustained ``chat.postMessage`` rate per channel.
        burst: posts a quiet channel takes at once.
        clock: monotonic seconds (tests).
        sleep: waits that many seconds (tests).
    """

    def __init__(
        self,
        *,
        client: WebClient,
        posts_per_second: float = POSTS_PER_SECOND,
        burst: int = BURST,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.rate_limits = _install_rate_limit_handler(client)
        self.posts_per_second = posts_per_second
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._paces: dict[str, _Pace] = {}
        self._ids: dict[str, str] = {}  # channel name as configured -> id Slack answered

    def send(self, method: ChatMethod, **arguments: Any) -> SlackResponse:
        """Call ``client.<method>(**arguments)`` with the payload defused, after pacing.

        Args:
            method: ``chat_postMessage``, ``chat_update`` or ``chat_postEphemeral``.
            **arguments: the Web API arguments (``channel``, ``text``, ``blocks``, ...);
                None values are left out.

        Returns:
            Slack's response.

        Raises:
            slack_sdk.errors.SlackApiError: Slack answered ``ok: false`` (a 429 after the
                retries included).
            slack_sdk.errors.SlackClientError, OSError: Slack could not be reached.
        """
        payload = defuse_payload({k: v for k, v in arguments.items() if v is not None})
        if method != "chat_postMessage":
            return self._call(method, payload)
        payload.setdefault("unfurl_links", False)
        payload.setdefault("unfurl_media", False)
        channel = str(payload.get("channel", ""))
        pace = self._pace(channel)
        with pace.lock:
            self._sleep(pace.wait())
            pace.take()
            try:
                response = self._call(method, payload)
            except SlackApiError as error:
                if error.response.status_code == 429:
                    pace.hold(_retry_after(error))
                raise
            finally:
                pace.settle(limited=self.rate_limits.waited())
        self._learn_id(channel, response, pace)
        return response

    def _call(self, method: ChatMethod, payload: dict[str, Any]) -> SlackResponse:
        response: SlackResponse = getattr(self.client, method)(**payload)
        return response

    def _pace(self, channel: str) -> _Pace:
        with self._lock:
            key = self._ids.get(channel, channel)
            pace = self._paces.get(key)
            if pace is None:
                pace = _Pace(self.posts_per_second, self.burst, self._clock)
                self._paces[key] = pace
            return pace

    def _learn_id(self, channel: str, response: SlackResponse, pace: _Pace) -> None:
        """``"#ops"`` and the id Slack answered (``C0OPS``) are one channel: one pace."""
        answered = response.get("channel")
        if isinstance(answered, str) and answered != channel:
            with self._lock:
                self._ids[channel] = answered
                self._paces.setdefault(answered, pace)


class _Pace:
    """A channel's token bucket: ``burst`` tokens, refilled at ``rate`` per second.

    Callers hold :attr:`lock` from :meth:`wait` to :meth:`settle`, so one post at a time.
    """

    def __init__(self, rate: float, burst: int, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.tokens = float(burst)
        self.stamp = clock()  # tokens are counted up to here (in the future while held)
        self.lock = threading.Lock()

    def wait(self) -> float:
        """Seconds until a token is there."""
        self._refill()
        ahead = max(self.stamp - self.clock(), 0.0)
        return ahead + max(1.0 - self.tokens, 0.0) / self.rate

    def take(self) -> None:
        """Use a token (after :meth:`wait`'s seconds have passed)."""
        self._refill()
        self.tokens -= 1

    def settle(self, *, limited: bool) -> None:
        """After the call: its duration earns nothing; after a 429 no token is left."""
        self.stamp = max(self.stamp, self.clock())
        if limited:
            self.tokens = min(self.tokens, 0.0)

    def hold(self, seconds: float) -> None:
        """Slack said to wait ``seconds``: the next token comes then, and no earlier."""
        self.tokens = min(self.tokens, 1.0)
        self.stamp = max(self.stamp, self.clock() + seconds)

    def _refill(self) -> None:
        now = self.clock()
        if now > self.stamp:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now


class _RateLimitHandler(RateLimitErrorRetryHandler):
    """slack_sdk's 429 handling (wait ``Retry-After``, retry), noting per thread that it
    waited, so the outbox slows the channel down after a call Slack throttled."""

    def __init__(self) -> None:
        super().__init__(max_retry_count=RATE_LIMIT_RETRIES)
        self._seen = threading.local()

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        self._seen.limited = True
        super().prepare_for_next_attempt(
            state=state, request=request, response=response, error=error
        )

    def waited(self) -> bool:
        """True when this thread's last call waited out a 429 (then forgets it)."""
        limited = bool(getattr(self._seen, "limited", False))
        self._seen.limited = False
        return limited


def _install_rate_limit_handler(client: WebClient) -> _RateLimitHandler:
    """The client's :class:`_RateLimitHandler`, put in place of a plain one if needed."""
    for handler in client.retry_handlers:
        if isinstance(handler, _RateLimitHandler):
            return handler
    ours = _RateLimitHandler()
    client.retry_handlers[:] = [
        h for h in client.retry_handlers if not isinstance(h, RateLimitErrorRetryHandler)
    ] + [ours]
    return ours


def defuse_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """A copy of a chat payload with nothing in it that could act in Slack.

    The top-level ``text`` and every ``{"type": "mrkdwn", "text": ...}`` object go through
    :func:`bot.slack.mrkdwn.defuse`; every string anywhere (block texts, plain-text
    headers, button labels, values) through :func:`core.text.printable`.

    Args:
        payload: Web API arguments; ``blocks`` as dicts (``SlackMessage.payload()``).

    Returns:
        The defused copy; the input is not changed.
    """
    cleaned = {key: _clean(value) for key, value in payload.items()}
    if isinstance(cleaned.get("text"), str):
        cleaned["text"] = defuse(cleaned["text"])
    return cleaned


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, dict):
        cleaned = {key: _clean(item) for key, item in value.items()}
        if cleaned.get("type") == "mrkdwn" and isinstance(cleaned.get("text"), str):
            cleaned["text"] = defuse(cleaned["text"])
        return cleaned
    if hasattr(value, "to_dict"):  # a Block Kit model passed as it is
        return _clean(value.to_dict())
    return value


def _retry_after(error: SlackApiError) -> float:
    """The ``Retry-After`` of a 429, in seconds (1 when Slack sent none)."""
    headers = getattr(error.response, "headers", None) or {}
    for name, value in headers.items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                return max(float(raw), 0.0)
            except (TypeError, ValueError):
                break
    return 1.0
