"""bot.slack.outbox: posts paced per channel, Slack's 429 ``Retry-After`` honoured, against a
fake Slack Web API that answers 429 as Slack does."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.slack.config import SlackConfig, make_web_client
from bot.slack.notifier import SlackDeliveryError, SlackNotifier
from bot.slack.outbox import BURST, SlackOutbox
from tests.fakes.slack import BOT_TOKEN, FakeSlack
from tests.fakes.slack_proposals import make_proposal


class FakeTime:
    """A monotonic clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += max(seconds, 0.0)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def _client(slack: FakeSlack) -> WebClient:
    return WebClient(token=BOT_TOKEN, base_url=slack.api_url)


def test_a_burst_then_one_post_a_second_per_channel(slack: FakeSlack) -> None:
    fake = FakeTime()
    outbox = SlackOutbox(client=_client(slack), clock=fake.clock, sleep=fake.sleep)
    for n in range(6):
        outbox.send("chat_postMessage", channel="#ops", text=f"message {n}")
    assert fake.slept == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    outbox.send("chat_postMessage", channel="C0OTHER", text="another channel")
    assert fake.slept[-1] == 0.0  # a channel of its own: its own bucket
    fake.now += 60  # a quiet minute refills the burst, no more
    for n in range(BURST + 1):
        outbox.send("chat_postMessage", channel="#ops", text=f"later {n}")
    assert fake.slept[-(BURST + 1) :] == [0.0] * BURST + [1.0]


def test_a_channel_named_and_its_id_share_one_pace(slack: FakeSlack) -> None:
    fake = FakeTime()
    outbox = SlackOutbox(client=_client(slack), clock=fake.clock, sleep=fake.sleep)
    outbox.send("chat_postMessage", channel="#ops", text="proposal")  # Slack answers C0OPS
    outbox.send("chat_postMessage", channel="C0OPS", text="reply 1")
    outbox.send("chat_postMessage", channel="C0OPS", text="reply 2")
    outbox.send("chat_postMessage", channel="#ops", text="next proposal")
    assert fake.slept == [0.0, 0.0, 0.0, 1.0]


def test_updates_and_ephemerals_are_not_paced_as_posts(slack: FakeSlack) -> None:
    fake = FakeTime()
    outbox = SlackOutbox(client=_client(slack), clock=fake.clock, sleep=fake.sleep)
    response = outbox.send("chat_postMessage", channel="C0OPS", text="x")
    for _ in range(5):
        outbox.send("chat_update", channel="C0OPS", ts=response["ts"], text="y")
        outbox.send("chat_postEphemeral", channel="C0OPS", user="U0ALICE", text="z")
    assert fake.slept == [0.0]


def test_a_429_is_waited_out_for_its_retry_after_and_posted_once(slack: FakeSlack) -> None:
    notifier = SlackNotifier(client=_client(slack), channel="#ops")
    slack.rate_limit("chat.postMessage", times=1, retry_after_seconds=1)
    started = time.monotonic()
    ref = notifier.post_proposal(make_proposal(id="fix_20261121_023300"))
    limited, posted = slack.received("chat.postMessage")
    assert (limited.status, limited.response["error"]) == (429, "ratelimited")
    assert posted.ok and ref == f"C0OPS:{posted.response['ts']}"
    assert posted.at - limited.at >= 1.0  # Retry-After: 1
    assert len(slack.messages) == 1 and time.monotonic() - started < 5


def test_a_429_that_outlasts_the_retries_holds_the_channel(slack: FakeSlack) -> None:
    fake = FakeTime()
    client = _client(slack)
    outbox = SlackOutbox(client=client, clock=fake.clock, sleep=fake.sleep)
    client.retry_handlers.clear()  # no retry in the client: the outbox's own hold is tested
    slack.rate_limit("chat.postMessage", times=1, retry_after_seconds=30)
    with pytest.raises(SlackApiError):
        outbox.send("chat_postMessage", channel="C0OPS", text="refused")
    outbox.send("chat_postMessage", channel="C0OPS", text="after the hold")
    assert fake.slept == [0.0, 30.0]
    assert [c.status for c in slack.received("chat.postMessage")] == [429, 200]


def test_a_proposal_slack_keeps_refusing_is_a_delivery_error(slack: FakeSlack) -> None:
    notifier = SlackNotifier(client=_client(slack), channel="#ops")
    slack.rate_limit("chat.postMessage", times=3, retry_after_seconds=0)
    with pytest.raises(SlackDeliveryError, match="ratelimited"):
        notifier.post_proposal(make_proposal(id="fix_20261121_023300"))
    assert [c.status for c in slack.received("chat.postMessage")] == [429, 429, 429]
    assert slack.messages == {}


def test_a_throttled_call_leaves_the_channel_no_burst(slack: FakeSlack) -> None:
    fake = FakeTime()
    outbox = SlackOutbox(client=_client(slack), clock=fake.clock, sleep=fake.sleep)
    slack.rate_limit("chat.postMessage", times=1, retry_after_seconds=0)
    outbox.send("chat_postMessage", channel="C0OPS", text="throttled, then retried by the client")
    outbox.send("chat_postMessage", channel="C0OPS", text="waits a full interval")
    assert fake.slept == [0.0, 1.0]  # without the 429 the burst would have let it go at once
    assert [c.status for c in slack.received("chat.postMessage")] == [429, 200, 200]


def test_one_rate_limit_handler_per_client(slack: FakeSlack) -> None:
    client = make_web_client(
        SlackConfig(bot_token=BOT_TOKEN, channel="#ops", api_url=slack.api_url)
    )
    first, second = SlackOutbox(client=client), SlackOutbox(client=client)
    handlers = [h for h in client.retry_handlers if isinstance(h, RateLimitErrorRetryHandler)]
    assert handlers == [first.rate_limits] and second.rate_limits is first.rate_limits
