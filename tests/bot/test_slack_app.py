"""End-to-end tests of the Slack app: signed requests to the running HTTP app, a fake Slack
Web API, the real implementor on a real repository with a bare remote.

Each test starts mendbot's pieces as ``mendbot run`` composes them (SlackNotifier ->
build_runtime -> SlackBot -> serve_http on port 0) and plays Slack's part with
:class:`tests.fakes.slack.SlackSender`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.http_server import HttpServer, serve_http
from bot.slack.app import SlackBot
from bot.slack.commands import APPROVE_ACTION, REJECT_ACTION
from bot.slack.config import configured_notifier, slack_config
from bot.slack.notifier import parse_thread_ref
from core.proposals import FixProposal, ProposalStatus
from monitoring.runtime import Runtime, build_runtime
from monitoring.status import MonitorControl
from tests.fakes.git import RepoPair, git, make_repo
from tests.fakes.slack import (
    BOT_TOKEN,
    SIGNING_SECRET,
    FakeSlack,
    SlackCall,
    SlackSender,
    block_actions_payload,
    mention_envelope,
)
from tests.fakes.slack_proposals import ORDERS_NEW, ORDERS_PY, make_proposal

ALICE = "U0ALICE"  # an approver
MALLORY = "U0MALLORY"  # not an approver
ACK_SECONDS = 3.0  # Slack's deadline for an answer


@dataclass
class Harness:
    """One running bot with its fake Slack, repository and sender."""

    slack: FakeSlack
    repo: RepoPair
    runtime: Runtime
    bot: SlackBot
    server: HttpServer
    sender: SlackSender

    def post(self, proposal: FixProposal | None = None) -> tuple[FixProposal, str, str]:
        """Store a proposal and post it as the monitor does; returns it, channel and ts."""
        stored = self.runtime.store.add(proposal or make_proposal())
        ref = self.bot.notifier.post_proposal(stored)
        self.runtime.store.set_thread_ref(stored.id, ref)
        channel, ts = parse_thread_ref(ref)  # type: ignore[misc]
        return self.runtime.store.get(stored.id), channel, ts

    def thread_texts(self, channel: str, ts: str) -> list[str]:
        return [call.text for call in self.slack.thread(channel, ts)]

    def wait_thread(self, channel: str, ts: str, fragment: str) -> SlackCall:
        [call] = self.slack.wait_for(
            "chat.postMessage",
            timeout=30,
            where=lambda c: c.args.get("thread_ts") == ts and fragment in c.text,
        )[:1]
        return call

    def ephemerals(self, user: str) -> list[str]:
        return [
            c.text for c in self.slack.received("chat.postEphemeral") if c.args.get("user") == user
        ]


@contextmanager
def running_bot(
    tmp_path: Path, make_settings, *, monitor: MonitorControl | None = None, **overrides: object
) -> Iterator[Harness]:
    """Start fake Slack, a repository, the runtime, the bot and its HTTP server."""
    repo = make_repo(tmp_path, {"orders.py": ORDERS_PY})
    with FakeSlack() as slack:
        values: dict[str, object] = {
            "slack_bot_token": BOT_TOKEN,
            "slack_channel": "#ops",
            "slack_signing_secret": SIGNING_SECRET,
            "slack_approvers": f"{ALICE}, @bob",
            "slack_api_url": slack.server.url,
            "target_repo_path": repo.work,
            **overrides,
        }
        settings = make_settings(**values)
        runtime = build_runtime(settings, notifier=configured_notifier(settings))
        bot = SlackBot(config=slack_config(settings), runtime=runtime, monitor=monitor)
        server = serve_http(
            port=0, host="127.0.0.1", slack=bot, health=lambda: {"ok": True, "service": "mendbot"}
        ).start()
        sender = SlackSender(f"{server.url}/slack/events")
        try:
            yield Harness(slack, repo, runtime, bot, server, sender)
        finally:
            sender.close()
            server.stop()
            bot.close()
            runtime.close()


@pytest.fixture
def harness(tmp_path: Path, make_settings, database_url: str) -> Iterator[Harness]:
    with running_bot(tmp_path, make_settings, database_url=database_url) as running:
        yield running


def _remote_file(repo: RepoPair, path: str) -> str:
    return git(repo.bare, "show", f"main:{path}")


def _commits_on_remote(repo: RepoPair) -> int:
    return int(git(repo.bare, "rev-list", "--count", "main"))


def _timed(call) -> tuple[object, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def test_approver_mention_applies_the_fix_and_reports_in_the_thread(harness: Harness) -> None:
    proposal, channel, ts = harness.post()
    [posted] = harness.slack.received("chat.postMessage")
    assert posted.action_ids() == ["mendbot_approve", "mendbot_reject"]
    assert proposal.id in posted.text and "HIGH" in posted.blocks_json()

    response, seconds = _timed(
        lambda: harness.sender.event(mention_envelope(f"implement {proposal.id}", user=ALICE))
    )
    assert response.status_code == 200 and seconds < ACK_SECONDS

    applied = harness.wait_thread(channel, ts, "Applied and pushed")
    assert harness.bot.wait_idle(timeout=30)
    stored = harness.runtime.store.get(proposal.id)
    assert stored.status is ProposalStatus.APPLIED and stored.decided_by == ALICE
    assert stored.commit_sha == harness.repo.remote_head()
    assert stored.commit_sha[:12] in applied.text
    assert ORDERS_NEW in _remote_file(harness.repo, "orders.py")  # the fix is on the remote
    texts = harness.thread_texts(channel, ts)
    assert texts[0] == f":white_check_mark: Approved by <@{ALICE}>. Applying it now."
    assert any(t.startswith(":gear: Applying") for t in texts)
    assert texts[-1] == applied.text
    parent = harness.slack.message(channel, ts)
    assert "mendbot_approve" not in str(parent["blocks"]) and "applied" in str(parent["blocks"])
    replies = [
        c.text
        for c in harness.slack.received("chat.postMessage")
        if c.args.get("channel") == "C0OPS" and c.args.get("thread_ts") != ts and c is not posted
    ]
    assert replies == [
        f":white_check_mark: Approved {proposal.id}; applying it now. Progress is in its thread."
    ]


def test_reject_by_button(harness: Harness) -> None:
    proposal, channel, ts = harness.post()
    head = harness.repo.remote_head()
    response, seconds = _timed(
        lambda: harness.sender.action(
            block_actions_payload(REJECT_ACTION, proposal.id, user=ALICE, message_ts=ts)
        )
    )
    assert response.status_code == 200 and seconds < ACK_SECONDS
    harness.wait_thread(channel, ts, f"Rejected by <@{ALICE}>")
    update = harness.slack.wait_for("chat.update")[-1]
    assert update.action_ids() == [] and "rejected" in update.blocks_json()
    assert harness.runtime.store.get(proposal.id).status is ProposalStatus.REJECTED
    assert harness.repo.remote_head() == head
    assert harness.ephemerals(ALICE) == []


def test_reject_by_mention_keeps_the_reason(harness: Harness) -> None:
    proposal, channel, ts = harness.post()
    harness.sender.event(
        mention_envelope(f"reject {proposal.id} masks the real bug", user=ALICE, thread_ts=ts)
    )
    harness.wait_thread(channel, ts, "masks the real bug")
    trail = harness.runtime.store.audit_trail(proposal.id)
    assert trail[-1].action == "rejected" and trail[-1].details["reason"] == "masks the real bug"
    # written in the proposal's own thread: no second reply besides the thread event
    assert len(harness.slack.thread(channel, ts)) == 1


def test_non_approver_is_refused_ephemerally_and_audited(harness: Harness) -> None:
    proposal, channel, ts = harness.post()
    harness.sender.event(mention_envelope(f"implement {proposal.id}", user=MALLORY))
    harness.sender.action(
        block_actions_payload(APPROVE_ACTION, proposal.id, user=MALLORY, message_ts=ts)
    )
    harness.sender.event(mention_envelope("pause", user=MALLORY))
    harness.slack.wait_for("chat.postEphemeral", count=3)
    refusals = harness.ephemerals(MALLORY)
    assert len(refusals) == 3 and all("Only approvers" in text for text in refusals)
    refused = [e for e in harness.runtime.store.audit_trail() if e.action == "refused"]
    assert sorted((e.actor, e.details["command"], e.details["via"]) for e in refused) == [
        (MALLORY, "implement", "button"),
        (MALLORY, "implement", "mention"),
        (MALLORY, "pause", "mention"),
    ]  # Bolt runs listeners on threads: any order
    assert harness.runtime.store.get(proposal.id).status is ProposalStatus.PROPOSED
    assert harness.slack.thread(channel, ts) == []
    assert harness.slack.received("chat.update") == []


@pytest.mark.parametrize(
    "tamper", ["wrong_secret", "old_timestamp", "bad_signature", "no_signature"]
)
def test_bad_or_old_signature_is_401_and_nothing_is_done(harness: Harness, tamper: str) -> None:
    proposal, channel, ts = harness.post()
    envelope = mention_envelope(f"implement {proposal.id}", user=ALICE)
    sender = harness.sender
    if tamper == "wrong_secret":
        sender = SlackSender(harness.sender.url, secret="not-the-signing-secret")
        response = sender.event(envelope)
        sender.close()
    elif tamper == "old_timestamp":
        response = sender.event(envelope, timestamp=int(time.time()) - 6 * 60)
    elif tamper == "bad_signature":
        response = sender.event(envelope, signature="v0=" + "0" * 64)
    else:
        response = sender.event(envelope, signature="")
    assert response.status_code == 401
    time.sleep(0.3)  # give a wrongly accepted request time to show
    calls = [c.method for c in harness.slack.received()]
    assert calls.count("chat.postMessage") == 1  # only the proposal itself
    assert "chat.update" not in calls and "chat.postEphemeral" not in calls
    assert harness.runtime.store.get(proposal.id).status is ProposalStatus.PROPOSED
    # the event id was not used up: Slack's genuine delivery still works
    assert harness.sender.event(envelope).status_code == 200
    harness.wait_thread(channel, ts, "Applied and pushed")


def test_the_same_event_delivered_three_times_is_applied_once(harness: Harness) -> None:
    proposal, channel, ts = harness.post()
    envelope = mention_envelope(f"implement {proposal.id}", user=ALICE)
    statuses: list[int] = []

    def deliver(retry: int | None) -> None:
        statuses.append(harness.sender.event(envelope, retry_num=retry).status_code)

    deliveries = [threading.Thread(target=deliver, args=(n,)) for n in (None, 1, 2)]
    for thread in deliveries:
        thread.start()
    for thread in deliveries:
        thread.join()
    assert statuses == [200, 200, 200]
    harness.wait_thread(channel, ts, "Applied and pushed")
    assert harness.bot.wait_idle(timeout=30)
    time.sleep(0.3)
    texts = harness.thread_texts(channel, ts)
    assert sum("Approved by" in t for t in texts) == 1
    assert sum("Applied and pushed" in t for t in texts) == 1
    assert _commits_on_remote(harness.repo) == 2  # the initial commit and one fix
    actions = [e.action for e in harness.runtime.store.audit_trail(proposal.id)]
    assert actions.count("approved") == 1 and actions.count("applied") == 1
    assert harness.ephemerals(ALICE) == []  # retries are dropped silently


def test_a_second_click_is_refused_politely_and_never_applies_twice(harness: Harness) -> None:
    proposal, channel, ts = harness.post()
    payload = block_actions_payload(APPROVE_ACTION, proposal.id, user=ALICE, message_ts=ts)
    assert harness.sender.action(payload).status_code == 200
    assert harness.sender.action(payload).status_code == 200
    harness.slack.wait_for("chat.postEphemeral")
    assert harness.bot.wait_idle(timeout=30)
    [second] = harness.ephemerals(ALICE)
    assert f"{proposal.id} is already" in second
    harness.wait_thread(channel, ts, "Applied and pushed")
    assert _commits_on_remote(harness.repo) == 2


def test_an_expired_proposal_is_refused_and_loses_its_buttons(harness: Harness) -> None:
    old = make_proposal(created_at=datetime.now(UTC) - timedelta(hours=25))
    proposal, channel, ts = harness.post(old)
    harness.sender.action(
        block_actions_payload(APPROVE_ACTION, proposal.id, user=ALICE, message_ts=ts)
    )
    [refusal] = [c.text for c in harness.slack.wait_for("chat.postEphemeral")]
    assert "expired" in refusal and "24 h" in refusal
    harness.wait_thread(channel, ts, "Expired")
    update = harness.slack.wait_for("chat.update")[-1]
    assert update.action_ids() == [] and "expired" in update.blocks_json()
    assert harness.runtime.store.get(proposal.id).status is ProposalStatus.EXPIRED
    refused = [e for e in harness.runtime.store.audit_trail(proposal.id) if e.action == "refused"]
    assert refused and refused[-1].details["reason"] == "expired"


def test_a_late_reject_is_refused_as_expired_too(harness: Harness) -> None:
    old = make_proposal(created_at=datetime.now(UTC) - timedelta(hours=25))
    proposal, _, _ = harness.post(old)
    harness.sender.event(mention_envelope(f"reject {proposal.id}", user=ALICE))
    [refusal] = [c.text for c in harness.slack.wait_for("chat.postEphemeral")]
    assert "expired" in refusal
    assert harness.runtime.store.get(proposal.id).status is ProposalStatus.EXPIRED


def test_health_and_unknown_paths(harness: Harness) -> None:
    http = harness.sender.http
    health = http.get(f"{harness.server.url}/health")
    assert health.status_code == 200 and health.json() == {"ok": True, "service": "mendbot"}
    assert http.get(f"{harness.server.url}/nope").status_code == 404
    assert http.post(f"{harness.server.url}/nope", content=b"x").status_code == 404
    big = http.post(f"{harness.server.url}/slack/events", content=b"x" * (1024 * 1024 + 1))
    assert big.status_code == 413


def test_slacks_url_verification_is_answered(harness: Harness) -> None:
    challenge = {
        "token": "legacy",
        "type": "url_verification",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
    }
    response = harness.sender.event(challenge)
    assert response.status_code == 200
    assert response.json() == {"challenge": challenge["challenge"]}
    assert harness.sender.event(challenge, signature="v0=" + "1" * 64).status_code == 401
