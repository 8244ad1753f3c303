"""Tests for bot.slack.notifier against a fake Slack Web API speaking the real protocol."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from bot.slack.config import configured_notifier, make_web_client, slack_config
from bot.slack.notifier import (
    SlackDeliveryError,
    SlackNotifier,
    api_base_url,
    parse_thread_ref,
)
from core.notifier import NullNotifier, ProposalEvent
from core.proposals import FixProposal, ProposalStatus
from tests.fakes.slack import BOT_TOKEN, FakeSlack
from tests.fakes.slack_proposals import make_proposal

ID = "fix_20261121_023300"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def notifier(slack: FakeSlack) -> SlackNotifier:
    return SlackNotifier(client=WebClient(token=BOT_TOKEN, base_url=slack.api_url), channel="#ops")


def _posted(notifier: SlackNotifier, **overrides: object) -> FixProposal:
    proposal = make_proposal(id=ID, **overrides)
    return proposal.model_copy(update={"thread_ref": notifier.post_proposal(proposal)})


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, "https://slack.com/api/"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/api/"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/api/"),
        ("https://proxy.example/slack/api", "https://proxy.example/slack/api/"),
        ("https://proxy.example/slack/api/", "https://proxy.example/slack/api/"),
    ],
)
def test_api_base_url_is_what_slack_sdk_expects(given: str | None, expected: str) -> None:
    assert api_base_url(given) == expected


def test_client_from_settings_reaches_slack_api_url(slack: FakeSlack, make_settings) -> None:
    settings = make_settings(
        slack_bot_token=BOT_TOKEN, slack_channel="#ops", slack_api_url=slack.server.url
    )
    assert make_web_client(slack_config(settings)).auth_test()["user_id"] == "U0MENDBOT"
    notifier = configured_notifier(settings)
    assert isinstance(notifier, SlackNotifier) and notifier.channel == "#ops"
    assert notifier.outbox.posts_per_second == 100.0  # the test settings' pace
    paced = configured_notifier(settings.model_copy(update={"slack_posts_per_second": 1.0}))
    assert isinstance(paced, SlackNotifier) and paced.outbox.posts_per_second == 1.0
    assert isinstance(configured_notifier(make_settings(slack_bot_token=BOT_TOKEN)), NullNotifier)


def test_post_proposal_returns_channel_and_ts_and_sends_blocks(slack, notifier) -> None:
    ref = notifier.post_proposal(make_proposal(id=ID))
    [call] = slack.received("chat.postMessage")
    assert call.headers["authorization"] == f"Bearer {BOT_TOKEN}"
    assert call.args["channel"] == "#ops"
    assert ref == f"C0OPS:{call.response['ts']}"
    assert parse_thread_ref(ref) == ("C0OPS", call.response["ts"])
    assert call.action_ids() == ["mendbot_approve", "mendbot_reject"]
    assert f"To approve: @mendbot implement {ID}" in call.text


def test_refused_or_unreachable_slack_is_a_delivery_error_without_the_token(slack) -> None:
    wrong = SlackNotifier(
        client=WebClient(token="xoxb-wrong-0000000000", base_url=slack.api_url), channel="#ops"
    )
    with pytest.raises(SlackDeliveryError, match="invalid_auth") as caught:
        wrong.post_proposal(make_proposal(id=ID))
    assert "xoxb" not in str(caught.value)
    unknown = SlackNotifier(
        client=WebClient(token=BOT_TOKEN, base_url=slack.api_url), channel="#nowhere"
    )
    with pytest.raises(SlackDeliveryError, match="channel_not_found"):
        unknown.post_proposal(make_proposal(id=ID))
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/api/"
    down = SlackNotifier(
        client=WebClient(token=BOT_TOKEN, base_url=dead, timeout=2), channel="#ops"
    )
    with pytest.raises(SlackDeliveryError, match="could not post"):
        down.post_proposal(make_proposal(id=ID))


def test_events_go_to_the_thread_and_refresh_the_parent(slack, notifier) -> None:
    proposal = _posted(notifier)
    channel, ts = parse_thread_ref(proposal.thread_ref)  # type: ignore[misc]
    rejected = proposal.model_copy(
        update={"status": ProposalStatus.REJECTED, "decided_by": "U0ALICE"}
    )
    notifier.post_event(
        rejected,
        ProposalEvent(kind="rejected", actor="U0ALICE", details={"reason": "hides the bug"}),
    )
    [reply] = slack.thread(channel, ts)
    assert reply.text == ":no_entry_sign: Rejected by <@U0ALICE>: hides the bug"
    [update] = slack.received("chat.update")
    assert (update.args["channel"], update.args["ts"]) == (channel, ts)
    assert update.action_ids() == []  # the buttons are gone
    assert slack.message(channel, ts)["blocks"] == update.args["blocks"]
    assert "rejected" in update.blocks_json()


def test_validation_events_do_not_rewrite_the_parent(slack, notifier) -> None:
    proposal = _posted(notifier, status=ProposalStatus.APPLYING)
    notifier.post_event(
        proposal,
        ProposalEvent(
            kind="validation_failed",
            details={"check": "pytest", "output": "E   assert 1 == 2\n<!here> token=hunter2secret"},
        ),
    )
    [reply] = slack.thread(*parse_thread_ref(proposal.thread_ref))  # type: ignore[misc]
    assert "Validation failed (pytest)" in reply.text and "assert 1 == 2" in reply.text
    assert "<!here>" not in reply.text and "hunter2secret" not in reply.text
    assert slack.received("chat.update") == []


def test_applied_links_the_commit_and_is_broadcast(slack, notifier) -> None:
    proposal = _posted(notifier, status=ProposalStatus.APPLIED, commit_sha="a1b2c3d4e5f6a7b8")
    notifier.post_event(
        proposal,
        ProposalEvent(
            kind="applied",
            details={
                "commit_sha": "a1b2c3d4e5f6a7b8",
                "branch": "main",
                "commit_url": "https://github.com/acme/shop/commit/a1b2c3d4e5f6a7b8",
            },
        ),
    )
    [reply] = slack.thread(*parse_thread_ref(proposal.thread_ref))  # type: ignore[misc]
    assert "<https://github.com/acme/shop/commit/a1b2c3d4e5f6a7b8|`a1b2c3d4e5f6`>" in reply.text
    assert reply.args["reply_broadcast"] is True
    [update] = slack.received("chat.update")
    assert "a1b2c3d4e5f6" in update.blocks_json()


def test_an_unposted_proposal_gets_its_events_in_the_channel(slack, notifier) -> None:
    proposal = make_proposal(id=ID, thread_ref=None)
    notifier.post_event(
        proposal, ProposalEvent(kind="seen_again", details={"count": 3, "total": 7})
    )
    [call] = slack.received("chat.postMessage")
    assert "thread_ts" not in call.args
    assert call.text == f"`{ID}`: :eyes: Seen again: 3 more time(s) (7 in all since posted)."
    assert slack.received("chat.update") == []


def test_events_and_alerts_never_raise_when_slack_fails(slack) -> None:
    wrong = SlackNotifier(
        client=WebClient(token="xoxb-wrong-0000000000", base_url=slack.api_url), channel="#ops"
    )
    proposal = make_proposal(id=ID, thread_ref="C0OPS:1700000000.000001")
    wrong.post_event(proposal, ProposalEvent(kind="approved", actor="U0ALICE"))
    wrong.post_alert("Railway is down")
    assert {c.response["error"] for c in slack.received()} == {"invalid_auth"}


def test_alerts_are_masked_and_escaped(slack, notifier) -> None:
    notifier.post_alert("Loki said 401 for Authorization: Bearer abcdefgh12345678 <!channel>")
    [call] = slack.received("chat.postMessage")
    assert "abcdefgh12345678" not in call.text and "<!channel>" not in call.text
    assert call.text.startswith(":rotating_light: Loki said 401")
