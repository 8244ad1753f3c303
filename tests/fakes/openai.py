"""Test support: an OpenAI-compatible chat-completions server built on :class:`FakeServer`.

It answers ``POST /v1/chat/completions`` with scripted replies, in order, and records every
request so tests can assert on what went over the wire (and on what never did)::

    with FakeOpenAI() as llm:
        llm.reply(chat_fields(root_cause="...", ...), Scripted(delay_seconds=5))
        settings = make_settings(lm="openai/fake-model", openai_base_url=llm.base_url,
                                 openai_api_key="sk-test")
        ...
        assert "hunter2" not in llm.all_text()

A reply is a string (the assistant message content), a :class:`Scripted` (content plus
status, delay, or a raw non-JSON body), or, with :meth:`FakeOpenAI.respond_with`, whatever
a function of the request body returns. With nothing scripted the server answers 500.
:func:`chat_fields` writes content in the format DSPy's ChatAdapter parses.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.fakes.server import FakeServer, Reply, Request

PATH = "/v1/chat/completions"


@dataclass
class Scripted:
    """One reply: ``content`` for the assistant, or an HTTP ``status`` error, after
    ``delay_seconds``; ``raw_body`` replaces the JSON body entirely (garbage)."""

    content: str | None = None
    status: int = 200
    delay_seconds: float = 0.0
    raw_body: bytes | None = None


Responder = Callable[[dict[str, Any]], "str | Scripted"]


def chat_fields(**fields: Any) -> str:
    """Assistant content in ChatAdapter's format: ``[[ ## name ## ]]`` blocks, then
    ``[[ ## completed ## ]]``; non-string values are written as JSON."""
    parts = []
    for name, value in fields.items():
        text = value if isinstance(value, str) else json.dumps(value)
        parts.append(f"[[ ## {name} ## ]]\n{text}")
    parts.append("[[ ## completed ## ]]")
    return "\n\n".join(parts)


def system_prompt(body: dict[str, Any]) -> str:
    """The system message of a recorded request body ("" when there is none)."""
    return next(
        (m.get("content", "") for m in body.get("messages", []) if m.get("role") == "system"), ""
    )


def is_fix_request(body: dict[str, Any]) -> bool:
    """True for a GenerateFix request (its output fields include ``risk_assessment``)."""
    return "`risk_assessment`" in system_prompt(body)


class FakeOpenAI:
    """A chat-completions server on 127.0.0.1 with scripted replies and a request log."""

    def __init__(self) -> None:
        self.server = FakeServer()
        self.server.route("POST", PATH, self._handle)
        self._queue: deque[str | Scripted] = deque()
        self._responder: Responder | None = None
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        """The value for ``OPENAI_BASE_URL``: ``http://127.0.0.1:<port>/v1``."""
        return f"{self.server.url}/v1"

    def __enter__(self) -> FakeOpenAI:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    def reply(self, *replies: str | Scripted) -> None:
        """Queue replies, answered in order (before any responder)."""
        with self._lock:
            self._queue.extend(replies)

    def respond_with(self, responder: Responder) -> None:
        """Answer every unscripted request with ``responder(request_body)``."""
        self._responder = responder

    @property
    def requests(self) -> list[Request]:
        """Recorded chat-completion requests, in arrival order."""
        return self.server.received(PATH, "POST")

    def bodies(self) -> list[dict[str, Any]]:
        """The recorded request bodies, parsed."""
        return [request.json() for request in self.requests]

    def all_text(self) -> str:
        """Every recorded request's headers and body, as one string (to search for leaks)."""
        return "\n".join(f"{r.headers}\n{r.text()}" for r in self.requests)

    def _handle(self, request: Request) -> Reply:
        body = request.json()
        with self._lock:
            scripted = self._queue.popleft() if self._queue else None
        if scripted is None and self._responder is not None:
            scripted = self._responder(body)
        if scripted is None:
            return Reply.json(
                {"error": {"message": "no scripted reply", "type": "server_error"}}, 500
            )
        if isinstance(scripted, str):
            scripted = Scripted(content=scripted)
        return self._render(scripted, body)

    def _render(self, scripted: Scripted, body: dict[str, Any]) -> Reply:
        if scripted.raw_body is not None:
            reply = Reply(scripted.status, scripted.raw_body, {"Content-Type": "text/html"})
        elif scripted.status != 200:
            reply = Reply.json(
                {"error": {"message": f"scripted {scripted.status}", "type": "server_error"}},
                scripted.status,
            )
        else:
            reply = Reply.json(_completion(body, scripted.content or ""))
        reply.delay_seconds = scripted.delay_seconds
        return reply


def _completion(body: dict[str, Any], content: str) -> dict[str, Any]:
    prompt_chars = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": body.get("model", "fake-model"),
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": content},
            }
        ],
        "usage": {
            "prompt_tokens": prompt_chars // 4,
            "completion_tokens": len(content) // 4,
            "total_tokens": (prompt_chars + len(content)) // 4,
        },
    }
