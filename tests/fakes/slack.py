"""Test support: a fake Slack Web API, and requests signed the way Slack signs them.

:class:`FakeSlack` runs on :class:`tests.fakes.server.FakeServer` (127.0.0.1, port 0) and
answers ``auth.test``, ``chat.postMessage``, ``chat.update``, ``chat.postEphemeral`` and
``conversations.list`` (paginated by ``cursor``; ``missing_scope`` when told to) as Slack
does: the bot token must come as ``Authorization: Bearer xoxb-...`` (else
``invalid_auth`` with HTTP 200, like Slack), channel names resolve to ids, each message gets
a fresh ``ts``, ``chat.update`` needs an existing message, and over-long messages are
refused (``msg_too_long``, ``invalid_blocks``). :meth:`FakeSlack.rate_limit` makes the next
calls of a method answer HTTP 429 ``ratelimited`` with a ``Retry-After`` header, as Slack
does. Every call is recorded, with its arrival time::

    with FakeSlack() as slack:
        client = WebClient(token=slack.bot_token, base_url=slack.api_url)
        ...
        [post] = slack.wait_for("chat.postMessage")
        assert post.args["channel"] == "#ops"

:class:`SlackSender` plays Slack's side towards the app: it signs requests
(``X-Slack-Request-Timestamp``, ``X-Slack-Signature: v0=HMAC-SHA256``) and posts Events
API envelopes and ``block_actions`` payloads to ``/slack/events``.

Socket Mode's side is in :mod:`tests.fakes.slack_socket_mode`.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from tests.fakes.server import FakeServer, Reply, Request

BOT_TOKEN = "xoxb-1111-2222-testtoken"
APP_TOKEN = "xapp-1-A0MENDBOT-3333-testtoken"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM_ID = "T0FAKETEAM"
BOT_USER_ID = "U0MENDBOT"
BOT_ID = "B0MENDBOT"
MAX_BLOCKS = 50
MAX_TEXT = 40_000
MAX_SECTION_TEXT = 3000


@dataclass
class SlackCall:
    """One Web API call as received: method name, arguments, and what the fake answered."""

    method: str
    args: dict[str, Any]
    response: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)
    status: int = 200

    @property
    def ok(self) -> bool:
        """True when the fake answered ``ok: true``."""
        return bool(self.response.get("ok"))

    @property
    def text(self) -> str:
        """The call's ``text`` argument, or empty."""
        return str(self.args.get("text") or "")

    def blocks_json(self) -> str:
        """The ``blocks`` argument as one JSON string (for substring assertions)."""
        return json.dumps(self.args.get("blocks") or [])

    def action_ids(self) -> list[str]:
        """The ``action_id`` of every button in the message's blocks."""
        blocks = self.args.get("blocks") or []
        return [
            element.get("action_id")
            for block in blocks
            if block.get("type") == "actions"
            for element in block.get("elements", [])
        ]


class FakeSlack:
    """A fake Slack Web API server (see the module docstring).

    Args:
        bot_token: the only token accepted (except by ``apps.connections.open``).
        app_token: the only token ``apps.connections.open`` accepts (Socket Mode); it
            answers with :attr:`socket_url` (set it to a :class:`FakeSocketMode`'s url).
        channels: channel name -> id (``#ops`` or ``ops`` both resolve).
    """

    def __init__(
        self,
        *,
        bot_token: str = BOT_TOKEN,
        app_token: str = APP_TOKEN,
        channels: dict[str, str] | None = None,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.socket_url: str | None = None
        self.channels = channels or {"ops": "C0OPS"}
        self.server = FakeServer()
        self.calls: list[SlackCall] = []
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Condition()
        self._ts = itertools.count(1)
        self._limited: dict[str, list[int]] = {}
        self.scopes: set[str] = {"channels:read", "groups:read", "chat:write"}
        self.private_channels: set[str] = set()
        handlers = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._ephemeral,
            "apps.connections.open": self._connections_open,
            "conversations.list": self._conversations_list,
        }
        for method, handler in handlers.items():
            self.server.route("POST", f"/api/{method}", self._wrap(method, handler))

    # --- lifecycle -------------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        """Base URL for ``WebClient(base_url=...)`` / ``SLACK_API_URL``: ``http://.../api/``."""
        return f"{self.server.url}/api/"

    def start(self) -> FakeSlack:
        """Start serving; returns self."""
        self.server.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self.server.stop()

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def rate_limit(self, method: str, *, times: int = 1, retry_after_seconds: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with HTTP 429 and ``Retry-After``."""
        with self._lock:
            self._limited.setdefault(method, []).extend([retry_after_seconds] * times)

    # --- assertions --------------------------------------------------------------------------
    def received(self, method: str | None = None) -> list[SlackCall]:
        """Calls so far (optionally of one method), in arrival order."""
        with self._lock:
            return [c for c in self.calls if method is None or c.method == method]

    def wait_for(
        self, method: str, count: int = 1, timeout: float = 10.0, where: Any = None
    ) -> list[SlackCall]:
        """Block until ``count`` calls of ``method`` (matching ``where(call)``) arrived.

        Raises:
            AssertionError: fewer arrived within ``timeout`` seconds (lists what came).
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = [
                    c for c in self.calls if c.method == method and (where is None or where(c))
                ]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [f"{c.method}: {c.text[:80]!r}" for c in self.calls]
                    raise AssertionError(
                        f"expected {count} {method} within {timeout}s, got "
                        f"{len(found)}; calls: {seen}"
                    )
                self._lock.wait(remaining)

    def thread(self, channel: str, ts: str) -> list[SlackCall]:
        """``chat.postMessage`` calls that replied in the thread of ``(channel, ts)``."""
        return [
            c
            for c in self.received("chat.postMessage")
            if c.args.get("thread_ts") == ts and c.response.get("channel") == channel
        ]

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        """The current content (``text``, ``blocks``) of a posted message."""
        with self._lock:
            return dict(self.messages[(channel, ts)])

    # --- handlers ------------------------------------------------------------------------------
    def _wrap(self, method: str, handler: Any) -> Any:
        def handle(request: Request) -> Reply:
            args = _arguments(request)
            auth = request.header("authorization") or ""
            token = self.app_token if method == "apps.connections.open" else self.bot_token
            with self._lock:
                limited = self._limited.get(method)
                retry_after = limited.pop(0) if limited else None
            status, headers = 200, {}
            if retry_after is not None:
                status, headers = 429, {"Retry-After": str(retry_after)}
                response = {"ok": False, "error": "ratelimited"}
            elif auth != f"Bearer {token}":
                response = {"ok": False, "error": "not_authed" if not auth else "invalid_auth"}
            else:
                response = handler(args)
            call = SlackCall(method, args, response, dict(request.headers), status=status)
            with self._lock:
                self.calls.append(call)
                self._lock.notify_all()
            return Reply.json(response, status, **headers)

        return handle

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake-team.slack.com/",
            "team": "Fake Team",
            "user": "mendbot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _conversations_list(self, args: dict[str, Any]) -> dict[str, Any]:
        types = str(args.get("types") or "public_channel").split(",")
        needed = {"public_channel": "channels:read", "private_channel": "groups:read"}
        lacking = [needed[t] for t in types if t in needed and needed[t] not in self.scopes]
        if lacking:
            return {"ok": False, "error": "missing_scope", "needed": ",".join(lacking)}
        listed = [
            {
                "id": cid,
                "name": name,
                "is_channel": True,
                "is_private": name in self.private_channels,
            }
            for name, cid in sorted(self.channels.items())
            if ("private_channel" if name in self.private_channels else "public_channel") in types
        ]
        start = int(args.get("cursor") or 0)
        limit = int(args.get("limit") or 100)
        page = listed[start : start + limit]
        after = start + limit if start + limit < len(listed) else ""
        return {
            "ok": True,
            "channels": page,
            "response_metadata": {"next_cursor": str(after)},
        }

    def _connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.socket_url is None:
            return {"ok": False, "error": "socket_mode_disabled"}
        return {"ok": True, "url": self.socket_url}

    def _post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve(args.get("channel"))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        problem = _check_content(args)
        if problem:
            return {"ok": False, "error": problem}
        ts = self._next_ts()
        message = {
            "text": args.get("text", ""),
            "blocks": args.get("blocks") or [],
            "thread_ts": args.get("thread_ts"),
            "ts": ts,
        }
        with self._lock:
            self.messages[(channel, ts)] = message
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "message": {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, **message},
        }

    def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        key = (str(args.get("channel")), str(args.get("ts")))
        problem = _check_content(args)
        with self._lock:
            if key not in self.messages:
                return {"ok": False, "error": "message_not_found"}
            if problem:
                return {"ok": False, "error": problem}
            self.messages[key].update(text=args.get("text", ""), blocks=args.get("blocks") or [])
        return {"ok": True, "channel": key[0], "ts": key[1], "text": args.get("text", "")}

    def _ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        if self._resolve(args.get("channel")) is None:
            return {"ok": False, "error": "channel_not_found"}
        if not args.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        problem = _check_content(args)
        if problem:
            return {"ok": False, "error": problem}
        return {"ok": True, "message_ts": self._next_ts()}

    def _resolve(self, channel: object) -> str | None:
        if not isinstance(channel, str) or not channel:
            return None
        name = channel.lstrip("#")
        if name in self.channels:
            return self.channels[name]
        if channel[0] in "CGD" and channel[1:].isalnum():
            return channel
        return None

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"


def _arguments(request: Request) -> dict[str, Any]:
    """A Web API call's arguments from a JSON body, a form body or the query string."""
    args: dict[str, Any] = {k: v[-1] for k, v in request.query.items()}
    content_type = request.header("content-type") or ""
    if request.body and "json" in content_type:
        args.update(request.json())
    elif request.body:
        args.update(request.form())
    if isinstance(args.get("blocks"), str):
        args["blocks"] = json.loads(args["blocks"])
    return args


def _check_content(args: dict[str, Any]) -> str | None:
    """Slack's error code for a message breaking its limits, else None."""
    blocks = args.get("blocks") or []
    if not args.get("text") and not blocks:
        return "no_text"
    if len(str(args.get("text") or "")) > MAX_TEXT:
        return "msg_too_long"
    if len(blocks) > MAX_BLOCKS:
        return "invalid_blocks"
    for block in blocks:
        text = (block.get("text") or {}).get("text", "") if isinstance(block, dict) else ""
        if block.get("type") == "section" and len(text) > MAX_SECTION_TEXT:
            return "invalid_blocks"
    return None


# --- Slack's side of the Events API ---------------------------------------------------------------


def signature_headers(
    body: bytes, secret: str = SIGNING_SECRET, *, timestamp: int | None = None
) -> dict[str, str]:
    """The headers Slack adds to a request: ``v0=hex(HMAC-SHA256(secret, "v0:ts:body"))``."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + ts.encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def mention_envelope(
    text: str,
    *,
    user: str,
    channel: str = "C0OPS",
    thread_ts: str | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """An Events API ``event_callback`` envelope carrying an ``app_mention``."""
    ts = f"{time.time():.6f}"
    event = {
        "type": "app_mention",
        "user": user,
        "text": f"<@{BOT_USER_ID}> {text}",
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        "team": TEAM_ID,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM_ID,
        "api_app_id": "A0MENDBOT",
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
    }


def block_actions_payload(
    action_id: str,
    value: str,
    *,
    user: str,
    channel: str = "C0OPS",
    message_ts: str = "1700000000.000100",
) -> dict[str, Any]:
    """An interactivity ``block_actions`` payload for one button press."""
    return {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "fake-team"},
        "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
        "api_app_id": "A0MENDBOT",
        "token": "legacy-verification-token",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "trigger_id": f"{int(time.time())}.1.{uuid.uuid4().hex[:8]}",
        "channel": {"id": channel, "name": "ops"},
        "message": {"type": "message", "ts": message_ts, "user": BOT_USER_ID, "text": "…"},
        "response_url": "https://hooks.slack.invalid/actions/T0/1/abc",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "mendbot_decision",
                "value": value,
                "text": {"type": "plain_text", "text": action_id},
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


class SlackSender:
    """Sends signed requests to an app's ``/slack/events``, as Slack does.

    Args:
        url: the app's events URL, e.g. ``http://127.0.0.1:PORT/slack/events``.
        secret: the signing secret to sign with (a wrong one tests rejection).
    """

    def __init__(self, url: str, *, secret: str = SIGNING_SECRET) -> None:
        self.url = url
        self.secret = secret
        self.http = httpx.Client(timeout=10.0)

    def close(self) -> None:
        """Close the HTTP client."""
        self.http.close()

    def event(
        self,
        envelope: dict[str, Any],
        *,
        retry_num: int | None = None,
        timestamp: int | None = None,
        signature: str | None = None,
    ) -> httpx.Response:
        """POST an Events API envelope as JSON (with ``X-Slack-Retry-Num`` for a retry)."""
        body = json.dumps(envelope).encode()
        headers = {"Content-Type": "application/json"}
        if retry_num:
            headers |= {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "timeout"}
        return self._post(body, headers, timestamp, signature)

    def action(self, payload: dict[str, Any], *, timestamp: int | None = None) -> httpx.Response:
        """POST an interactivity payload form-encoded (``payload=<json>``), as Slack does."""
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return self._post(
            body, {"Content-Type": "application/x-www-form-urlencoded"}, timestamp, None
        )

    def _post(
        self, body: bytes, headers: dict[str, str], timestamp: int | None, signature: str | None
    ) -> httpx.Response:
        signed = signature_headers(body, self.secret, timestamp=timestamp)
        if signature is not None:
            signed["X-Slack-Signature"] = signature
        return self.http.post(self.url, content=body, headers={**headers, **signed})
