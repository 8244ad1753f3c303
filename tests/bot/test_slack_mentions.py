"""Tests of the Slack app's other words (show, list, status, pause, resume, help), of who
may decide when nobody is configured, and of start-up checks; over signed HTTP requests."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.http_server import serve_http
from bot.slack import replies
from bot.slack.app import SlackBot, SlackConfigError, SlackStartError, startup_warnings
from bot.slack.config import slack_config
from bot.slack.notifier import SlackNotifier
from monitoring.runtime import build_runtime
from monitoring.status import MonitorStatus
from tests.bot.test_slack_app import ALICE, MALLORY, Harness, running_bot
from tests.fakes.slack import BOT_TOKEN, FakeSlack, SlackCall, mention_envelope
from tests.fakes.slack_proposals import make_proposal


class FakeMonitor:
    """A tiny MonitorControl (the real monitor is an injected collaborator)."""

    def __init__(self) -> None:
        self.paused = False

    def status(self) -> MonitorStatus:
        return MonitorStatus(
            enabled=True,
            paused=self.paused,
            source="railway",
            source_healthy=False,
            source_detail="HTTP 401 from backboard.railway.com",
            interval_seconds=300,
            cycles=12,
            last_cycle_at=datetime(2026, 11, 21, 2, 33, tzinfo=UTC),
            last_cycle_summary="812 records, 2 anomalies, 1 new proposal",
        )

    def pause(self) -> bool:
        was, self.paused = self.paused, True
        return not was

    def resume(self) -> bool:
        was, self.paused = self.paused, False
        return was


def _say(harness: Harness, text: str, user: str = ALICE) -> SlackCall:
    """Mention the bot; return its (public) reply in the mention's thread."""
    envelope = mention_envelope(text, user=user)
    mention_ts = envelope["event"]["ts"]
    assert harness.sender.event(envelope).status_code == 200
    [reply] = harness.slack.wait_for(
        "chat.postMessage", where=lambda c: c.args.get("thread_ts") == mention_ts
    )
    return reply


@pytest.fixture
def monitor() -> FakeMonitor:
    return FakeMonitor()


@pytest.fixture
def harness(tmp_path: Path, make_settings, monitor: FakeMonitor):
    with running_bot(tmp_path, make_settings, monitor=monitor) as running:
        yield running


def test_status_tells_monitor_state_last_cycle_and_source_health(harness: Harness) -> None:
    harness.post()
    text = _say(harness, "status", user=MALLORY).text  # anyone may ask
    assert "running, every 5 min" in text
    assert "`railway`: :x: unhealthy (HTTP 401 from backboard.railway.com)" in text
    assert "812 records, 2 anomalies, 1 new proposal (12 since start)" in text
    assert "Proposals: 1 proposed" in text


def test_pause_and_resume_are_for_approvers(harness: Harness, monitor: FakeMonitor) -> None:
    assert _say(harness, "pause").text == replies.PAUSED.format(who=f"<@{ALICE}>")
    assert monitor.paused
    assert "paused" in _say(harness, "status").text
    assert _say(harness, "pause").text == replies.ALREADY_PAUSED
    assert _say(harness, "resume").text == replies.RESUMED.format(who=f"<@{ALICE}>")
    assert not monitor.paused
    actions = [(e.actor, e.action) for e in harness.runtime.store.audit_trail()]
    assert actions == [(ALICE, "paused"), (ALICE, "resumed")]


def test_list_and_show(harness: Harness) -> None:
    first, _, _ = harness.post()
    second, _, _ = harness.post(make_proposal(fingerprint="beef" * 8, title="Slow LM call"))
    listing = _say(harness, "list", user=MALLORY).text
    assert listing.index(f"`{second.id}`") < listing.index(f"`{first.id}`")  # newest first
    assert "— proposed" in listing
    shown = _say(harness, f"show {first.id}", user=MALLORY)
    assert shown.action_ids() == []  # a copy whose buttons could go stale has none
    assert "if order is None:" in shown.blocks_json()
    assert f"To approve: @mendbot implement {first.id}" in shown.blocks_json()
    missing = _say(harness, "show fix_20000101_000000").text
    assert missing == replies.not_found("fix_20000101_000000")


@pytest.mark.parametrize(
    ("words", "fragment"),
    [
        ("help", "*mendbot* watches"),
        ("", "*mendbot* watches"),
        ("deploy <!channel> now", "I don't know “deploy”"),
        ("implement", "needs a proposal id"),
    ],
)
def test_anything_else_gets_help(harness: Harness, words: str, fragment: str) -> None:
    text = _say(harness, words, user=MALLORY).text
    assert fragment in text and "`@mendbot implement fix_ID`" in text


def test_a_proposal_without_a_change_cannot_be_implemented(harness: Harness) -> None:
    proposal, channel, ts = harness.post(make_proposal(edits=[]))
    harness.sender.event(mention_envelope(f"implement {proposal.id}", user=ALICE))
    [refusal] = harness.slack.wait_for("chat.postEphemeral")
    assert "needs investigation" in refusal.text
    assert harness.slack.thread(channel, ts) == []


def test_with_no_approvers_nobody_may_decide(tmp_path: Path, make_settings) -> None:
    with running_bot(tmp_path, make_settings, slack_approvers="") as harness:
        proposal, _, _ = harness.post()
        harness.sender.event(mention_envelope(f"implement {proposal.id}", user=ALICE))
        [refusal] = harness.slack.wait_for("chat.postEphemeral")
        assert "SLACK_APPROVERS is not set" in refusal.text
        [audit] = [e for e in harness.runtime.store.audit_trail() if e.action == "refused"]
        assert audit.details["reason"] == "no_approvers_configured"


def test_startup_warnings_about_approvers(make_settings) -> None:
    assert startup_warnings(slack_config(make_settings(slack_approvers="U0ALICE"))) == []
    assert startup_warnings(slack_config(make_settings())) == [replies.no_approvers_warning()]
    assert replies.no_approvers_warning().startswith("SLACK_APPROVERS unset: nobody may decide")
    warnings = startup_warnings(slack_config(make_settings(slack_approvers="@alice,Bob")))
    assert warnings == [
        replies.invalid_approvers_warning(["@alice", "Bob"]),
        replies.no_approvers_warning(),
    ]


def test_without_a_repository_approval_is_refused(tmp_path: Path, make_settings) -> None:
    with running_bot(tmp_path, make_settings, target_repo_path=None) as harness:
        proposal, _, _ = harness.post()
        harness.sender.event(mention_envelope(f"implement {proposal.id}", user=ALICE))
        [refusal] = harness.slack.wait_for("chat.postEphemeral")
        assert "TARGET_REPO_PATH" in refusal.text


def test_start_up_checks(tmp_path: Path, make_settings) -> None:
    with FakeSlack() as slack:
        base = {
            "slack_bot_token": BOT_TOKEN,
            "slack_channel": "#ops",
            "slack_api_url": slack.server.url,
        }
        runtime = build_runtime(make_settings(**base))
        with pytest.raises(SlackConfigError, match="SLACK_SIGNING_SECRET"):
            SlackBot(config=slack_config(make_settings(**base)), runtime=runtime)
        socket_only = make_settings(**base, slack_app_token="xapp-1-A0-1-abc")
        bot = SlackBot(config=slack_config(socket_only), runtime=runtime)
        assert bot.socket_mode and not bot.verifies_signatures
        with pytest.raises(SlackConfigError, match="SLACK_SIGNING_SECRET"):
            serve_http(port=0, host="127.0.0.1", slack=bot, health=dict)
        wrong = make_settings(
            **{**base, "slack_bot_token": "xoxb-wrong-000000000"}, slack_signing_secret="s"
        )
        with pytest.raises(SlackStartError, match="refused the bot token"):
            SlackBot(config=slack_config(wrong), runtime=runtime)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
        down = make_settings(**{**base, "slack_api_url": dead}, slack_signing_secret="s")
        with pytest.raises(SlackStartError, match="could not be reached"):
            SlackBot(config=slack_config(down), runtime=build_runtime(down))
        bot.close()
        runtime.close()


def test_health_reports_503_when_the_check_says_so_or_fails() -> None:
    def broken() -> dict:
        raise RuntimeError("database gone")

    for health, status in (
        (lambda: {"ok": False, "database": False}, 503),
        (broken, 503),
        (lambda: {"ok": True}, 200),
    ):
        server = serve_http(port=0, host="127.0.0.1", slack=None, health=health).start()
        try:
            import httpx

            assert httpx.get(f"{server.url}/health").status_code == status
            off = httpx.post(f"{server.url}/slack/events", content=b"{}")
            assert off.status_code == 404 and "not configured" in off.json()["error"]
        finally:
            server.stop()


def test_notifier_is_shared_with_decisions(harness: Harness) -> None:
    assert isinstance(harness.bot.notifier, SlackNotifier)
    assert harness.runtime.decisions.notifier is harness.bot.notifier
    assert harness.bot.client is harness.bot.notifier.client
