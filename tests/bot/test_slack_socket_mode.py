"""Socket Mode end to end: the bot connects to a fake Socket Mode WebSocket, receives
envelopes, acknowledges them at once, and decides as over HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.slack.app import SlackBot, SlackStartError
from bot.slack.commands import REJECT_ACTION
from bot.slack.config import configured_notifier, slack_config
from bot.slack.notifier import parse_thread_ref
from bot.slack.socket_mode import SocketModeConnection, start_socket_mode
from core.proposals import ProposalStatus
from monitoring.runtime import Runtime, build_runtime
from tests.fakes.git import RepoPair, git, make_repo
from tests.fakes.slack import (
    APP_TOKEN,
    BOT_TOKEN,
    FakeSlack,
    block_actions_payload,
    mention_envelope,
)
from tests.fakes.slack_proposals import ORDERS_NEW, ORDERS_PY, make_proposal
from tests.fakes.slack_socket_mode import FakeSocketMode, socket_envelope

ALICE = "U0ALICE"


@pytest.fixture
def slack() -> Iterator[tuple[FakeSlack, FakeSocketMode]]:
    with FakeSlack() as fake, FakeSocketMode() as socket_mode:
        fake.socket_url = socket_mode.url
        yield fake, socket_mode


@pytest.fixture
def parts(tmp_path: Path, make_settings, slack) -> Iterator[tuple[Runtime, SlackBot, RepoPair]]:
    fake, _ = slack
    repo = make_repo(tmp_path, {"orders.py": ORDERS_PY})
    settings = make_settings(
        slack_bot_token=BOT_TOKEN,
        slack_app_token=APP_TOKEN,
        slack_channel="#ops",
        slack_approvers=ALICE,
        slack_api_url=fake.server.url,
        target_repo_path=repo.work,
    )
    runtime = build_runtime(settings, notifier=configured_notifier(settings))
    bot = SlackBot(config=slack_config(settings), runtime=runtime)
    yield runtime, bot, repo
    bot.close()
    runtime.close()


@pytest.fixture
def connection(parts, slack) -> Iterator[SocketModeConnection]:
    _, bot, _ = parts
    connection = start_socket_mode(bot)
    slack[1].wait_connected()
    yield connection
    connection.stop()


def test_socket_mode_mention_applies_once_and_button_rejects(slack, parts, connection) -> None:
    fake, socket_mode = slack
    runtime, bot, repo = parts
    assert bot.socket_mode and connection.is_connected()
    [opened] = fake.received("apps.connections.open")
    assert opened.headers["authorization"] == f"Bearer {APP_TOKEN}"
    stored = runtime.store.add(make_proposal())
    ref = bot.notifier.post_proposal(stored)
    runtime.store.set_thread_ref(stored.id, ref)
    channel, ts = parse_thread_ref(ref)  # type: ignore[misc]

    event = mention_envelope(f"implement {stored.id}", user=ALICE)
    first = socket_envelope("events_api", event)
    started = time.monotonic()
    socket_mode.send(first)
    socket_mode.wait_ack(first["envelope_id"])
    assert time.monotonic() - started < 3.0
    retry = socket_envelope("events_api", event, retry_attempt=1)  # same event_id
    socket_mode.send(retry)
    socket_mode.wait_ack(retry["envelope_id"])

    fake.wait_for(
        "chat.postMessage",
        timeout=30,
        where=lambda c: c.args.get("thread_ts") == ts and "Applied and pushed" in c.text,
    )
    assert bot.wait_idle(timeout=30)
    assert runtime.store.get(stored.id).status is ProposalStatus.APPLIED
    assert ORDERS_NEW in git(repo.bare, "show", "main:orders.py")
    assert sum("Approved by" in c.text for c in fake.thread(channel, ts)) == 1
    assert fake.received("chat.postEphemeral") == []  # the retry was dropped, not refused

    other = runtime.store.add(make_proposal(fingerprint="beef" * 8))
    other_ref = bot.notifier.post_proposal(other)
    runtime.store.set_thread_ref(other.id, other_ref)
    press = socket_envelope(
        "interactive",
        block_actions_payload(
            REJECT_ACTION, other.id, user=ALICE, message_ts=other_ref.split(":")[1]
        ),
    )
    socket_mode.send(press)
    socket_mode.wait_ack(press["envelope_id"])
    fake.wait_for("chat.postMessage", where=lambda c: "Rejected by" in c.text)
    assert runtime.store.get(other.id).status is ProposalStatus.REJECTED


def test_a_refused_app_token_fails_at_start(slack, parts) -> None:
    fake, _ = slack
    _, bot, _ = parts
    with pytest.raises(SlackStartError, match="invalid_auth"):
        start_socket_mode(bot, app_token="xapp-1-wrong-token")
    fake.socket_url = None
    with pytest.raises(SlackStartError, match="socket_mode_disabled"):
        start_socket_mode(bot)
