"""``POST /webhook/alerts`` over real HTTP: the bearer token, bad bodies, and what it takes."""

from __future__ import annotations

import json
import socket

import httpx
import pytest

from bot.http_server import MAX_BODY_BYTES, serve_http
from core.notifier import InMemoryNotifier
from monitoring.runtime import build_operations, build_pipeline, build_runtime

TOKEN = "am-token-7f3a9c"


def body(status: str = "firing") -> bytes:
    return json.dumps(
        {
            "version": "4",
            "status": status,
            "groupKey": "{}:{}",
            "alerts": [
                {
                    "status": status,
                    "labels": {"alertname": "HighLatency", "service": "api"},
                    "annotations": {},
                    "startsAt": "2026-11-21T02:33:00Z",
                    "fingerprint": "aa11bb22cc33dd44",
                }
            ],
        }
    ).encode()


@pytest.fixture
def serve(make_settings):
    started = []

    def factory(token: str | None = TOKEN):
        runtime = build_runtime(make_settings(alert_token=token), notifier=InMemoryNotifier())
        operations = build_operations(runtime, build_pipeline(runtime))
        server = serve_http(
            port=0, host="127.0.0.1", slack=None, health=lambda: {"ok": True}, alerts=operations
        ).start()
        started.append((server, runtime, operations))
        return server, runtime

    yield factory
    for server, runtime, operations in started:
        server.stop()
        operations.stop()
        runtime.close()


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        f"Bearer {TOKEN} {TOKEN}",
        f"Basic {TOKEN}",
        f"Bearer {TOKEN[:-1]}",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN.upper()}",
        f"Token {TOKEN}",
        f"Bearer{TOKEN}",
    ],
)
def test_a_bad_or_missing_bearer_token_is_refused(serve, authorization: str | None) -> None:
    server, runtime = serve()
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = httpx.post(server.url + "/webhook/alerts", content=body(), headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert runtime.store.list() == []  # nothing taken


def test_the_right_token_is_taken_and_the_answer_says_what_was_done(serve) -> None:
    server, runtime = serve()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    first = httpx.post(server.url + "/webhook/alerts", content=body(), headers=auth)
    again = httpx.post(server.url + "/webhook/alerts", content=body(), headers=auth)
    assert first.status_code == again.status_code == 200
    assert len(first.json()["new_proposals"]) == 1 and again.json()["repeats"] == 1
    assert len(runtime.store.list()) == 1


def test_without_a_configured_token_the_webhook_is_off(serve) -> None:
    server, _ = serve(token=None)
    response = httpx.post(
        server.url + "/webhook/alerts", content=body(), headers={"Authorization": "Bearer x"}
    )
    assert response.status_code == 404 and "MENDBOT_ALERT_TOKEN" in response.json()["error"]


def test_a_body_that_is_not_a_payload_gets_400_and_a_huge_one_413(serve) -> None:
    server, runtime = serve()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    bad = httpx.post(server.url + "/webhook/alerts", content=b'{"version": "2"}', headers=auth)
    assert bad.status_code == 400 and "version" in bad.json()["error"]
    with socket.create_connection(("127.0.0.1", server.port)) as raw:
        raw.sendall(
            b"POST /webhook/alerts HTTP/1.1\r\nHost: x\r\n"
            + f"Authorization: Bearer {TOKEN}\r\nContent-Length: {MAX_BODY_BYTES + 1}\r\n\r\n".encode()
        )
        assert b" 413 " in raw.recv(4096).split(b"\r\n")[0]
    with socket.create_connection(("127.0.0.1", server.port)) as raw:
        raw.sendall(
            b"POST /webhook/alerts HTTP/1.1\r\nHost: x\r\n"
            + f"Authorization: Bearer {TOKEN}\r\nContent-Length: abc\r\n\r\n".encode()
        )
        assert b" 413 " in raw.recv(4096).split(b"\r\n")[0]
    assert runtime.store.list() == []


def test_metrics_is_404_when_off(serve) -> None:
    server, _ = serve()
    assert httpx.get(server.url + "/metrics").status_code == 404
