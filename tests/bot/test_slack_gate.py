"""Commands only in the command channels; a button only on the proposal of its own message.

End to end: signed requests to the running app (as ``mendbot run`` composes it), a fake
Slack Web API, a real repository with a bare remote. Attacks as an attacker would try
them: every command from another channel and from a DM, buttons whose value names
another proposal, a replayed payload pointing at another message, a proposal that was
never posted, and channel names that must be resolved to the ids Slack's events carry.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.slack.app import SlackBot, SlackConfigError
from bot.slack.commands import APPROVE_ACTION, REJECT_ACTION
from bot.slack.config import slack_config
from core.proposals import ProposalStatus
from monitoring.runtime import build_runtime
from tests.bot.test_slack_app import ALICE, Harness, running_bot
from tests.fakes.slack import (
    BOT_TOKEN,
    SIGNING_SECRET,
    FakeSlack,
    block_actions_payload,
    mention_envelope,
)
from tests.fakes.slack_proposals import make_proposal

COMMANDS = ["implement {id}", "reject {id} nope", "show {id}", "list", "status", "pause", "help"]


def _refusals(harness: Harness, reason: str) -> list[dict]:
    return [
        e.details
        for e in harness.runtime.store.audit_trail()
        if e.action == "refused" and e.details.get("reason") == reason
    ]


def _settle(harness: Harness) -> None:
    assert harness.bot.wait_idle(timeout=30)
    time.sleep(0.3)  # a wrongly accepted request would show by now


@pytest.mark.parametrize("where", ["C0RANDOM", "D0ALICEDM", "G0PRIVATE"])
def test_no_command_is_taken_outside_the_command_channel(
    tmp_path: Path, make_settings, where: str
) -> None:
    with running_bot(tmp_path, make_settings) as harness:
        proposal, _, _ = harness.post()
        head = harness.repo.remote_head()
        for command in COMMANDS:
            envelope = mention_envelope(command.format(id=proposal.id), user=ALICE, channel=where)
            assert harness.sender.event(envelope).status_code == 200
        harness.slack.wait_for("chat.postEphemeral", count=len(COMMANDS))
        _settle(harness)

        texts = harness.ephemerals(ALICE)
        assert len(texts) == len(COMMANDS)
        assert all("mendbot takes commands in <#C0OPS> only" in t for t in texts)
        assert {c.args["channel"] for c in harness.slack.received("chat.postEphemeral")} == {where}
        posted = harness.slack.received("chat.postMessage")
        assert [c.args["channel"] for c in posted] == ["#ops"]  # only the proposal itself
        assert harness.runtime.store.get(proposal.id).status is ProposalStatus.PROPOSED
        assert harness.repo.remote_head() == head
        refused = _refusals(harness, "wrong_channel")
        assert sorted(d["command"] for d in refused) == sorted(c.split()[0] for c in COMMANDS)
        assert {d["channel"] for d in refused} == {where}


def test_command_channels_setting_moves_mentions_but_not_buttons(
    tmp_path: Path, make_settings
) -> None:
    with running_bot(tmp_path, make_settings, slack_command_channels="C0INC") as harness:
        first, _, _ = harness.post()
        second, channel, ts = harness.post(make_proposal(fingerprint="b" * 32))
        harness.sender.event(mention_envelope(f"reject {first.id}", user=ALICE))  # in #ops
        [refusal] = harness.slack.wait_for("chat.postEphemeral")
        assert "takes commands in <#C0INC> only" in refusal.text
        harness.sender.event(mention_envelope(f"reject {first.id}", user=ALICE, channel="C0INC"))
        harness.sender.action(
            block_actions_payload(REJECT_ACTION, second.id, user=ALICE, message_ts=ts)
        )
        harness.wait_thread(channel, ts, "Rejected by")
        _settle(harness)
        store = harness.runtime.store
        assert store.get(first.id).status is ProposalStatus.REJECTED
        assert store.get(second.id).status is ProposalStatus.REJECTED


def test_a_button_acts_only_on_the_proposal_of_its_message(tmp_path: Path, make_settings) -> None:
    with running_bot(tmp_path, make_settings) as harness:
        target, channel, target_ts = harness.post(make_proposal(fingerprint="a" * 32))
        bait, _, bait_ts = harness.post(make_proposal(fingerprint="b" * 32))
        never = harness.runtime.store.add(make_proposal(fingerprint="c" * 32))  # not posted
        head = harness.repo.remote_head()
        forged = [
            # Approve on the bait's message, its value edited to name the target
            block_actions_payload(APPROVE_ACTION, target.id, user=ALICE, message_ts=bait_ts),
            # the target's payload replayed against another message's ts
            block_actions_payload(APPROVE_ACTION, target.id, user=ALICE, message_ts="1.000001"),
            # the right message ts, from another channel
            block_actions_payload(
                APPROVE_ACTION, target.id, user=ALICE, message_ts=target_ts, channel="C0RANDOM"
            ),
            # a proposal never posted has no message a button could be on
            block_actions_payload(REJECT_ACTION, never.id, user=ALICE, message_ts=bait_ts),
        ]
        for payload in forged:
            assert harness.sender.action(payload).status_code == 200
        harness.slack.wait_for("chat.postEphemeral", count=len(forged))
        _settle(harness)

        store = harness.runtime.store
        assert [store.get(p.id).status for p in (target, bait, never)] == [
            ProposalStatus.PROPOSED
        ] * 3
        assert harness.repo.remote_head() == head
        assert all("does not belong" in t for t in harness.ephemerals(ALICE))
        refused = _refusals(harness, "button_mismatch")
        assert len(refused) == len(forged)
        assert harness.slack.received("chat.update") == []
        assert harness.slack.thread(channel, target_ts) == []

        # the genuine press on the target's own message works
        harness.sender.action(
            block_actions_payload(REJECT_ACTION, target.id, user=ALICE, message_ts=target_ts)
        )
        harness.wait_thread(channel, target_ts, "Rejected by")
        assert store.get(target.id).status is ProposalStatus.REJECTED
        assert store.get(bait.id).status is ProposalStatus.PROPOSED


def test_channel_names_are_resolved_to_ids_at_start(tmp_path: Path, make_settings) -> None:
    with FakeSlack(
        channels={f"c{n:03d}": f"C{n:07d}" for n in range(250)} | {"ops": "C0OPS"}
    ) as slack:
        base = {
            "slack_bot_token": BOT_TOKEN,
            "slack_signing_secret": SIGNING_SECRET,
            "slack_api_url": slack.server.url,
        }
        runtime = build_runtime(make_settings(**base))
        try:
            bot = SlackBot(
                config=slack_config(make_settings(**base, slack_channel="#ops")), runtime=runtime
            )
            assert bot.gate.command_channels == {"C0OPS"}
            pages = slack.received("conversations.list")
            assert len(pages) == 2 and pages[1].args["cursor"] == "200"  # paginated
            bot.close()

            by_id = make_settings(**base, slack_channel="C0OPS", slack_command_channels="C0A,#c007")
            bot = SlackBot(config=slack_config(by_id), runtime=runtime)
            assert bot.gate.command_channels == {"C0A", "C0000007"}
            bot.close()

            with pytest.raises(SlackConfigError, match="no channel #nowhere is visible"):
                SlackBot(
                    config=slack_config(make_settings(**base, slack_channel="#nowhere")),
                    runtime=runtime,
                )
            slack.channels["secret"] = "G0SECRET"
            slack.private_channels.add("secret")
            bot = SlackBot(
                config=slack_config(make_settings(**base, slack_channel="#secret")),
                runtime=runtime,
            )
            assert bot.gate.command_channels == {"G0SECRET"}  # public first, then private
            bot.close()

            slack.scopes.discard("groups:read")  # a public channel needs only channels:read
            bot = SlackBot(
                config=slack_config(make_settings(**base, slack_channel="#ops")), runtime=runtime
            )
            assert bot.gate.command_channels == {"C0OPS"}
            bot.close()
            with pytest.raises(SlackConfigError, match=r"missing_scope.*the groups:read scope"):
                SlackBot(
                    config=slack_config(make_settings(**base, slack_channel="#secret")),
                    runtime=runtime,
                )
            slack.scopes.discard("channels:read")
            with pytest.raises(SlackConfigError, match=r"missing_scope.*channel ids \(C…\)"):
                SlackBot(
                    config=slack_config(make_settings(**base, slack_channel="#ops")),
                    runtime=runtime,
                )
            calls = len(slack.received("conversations.list"))
            bot = SlackBot(
                config=slack_config(make_settings(**base, slack_channel="C0OPS")), runtime=runtime
            )
            assert len(slack.received("conversations.list")) == calls  # ids need no lookup
            bot.close()
        finally:
            runtime.close()
