"""Operational actions in Slack: the proposal message, the thread replies, and the mention
verbs ``resume <target>`` and ``stats`` through the running app (signed requests, fake Slack
Web API, Railway GraphQL checked against the schema)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.slack.commands import parse_mention
from bot.slack.proposal_message import proposal_message
from bot.slack.thread_events import event_text
from core.actions import Action
from core.notifier import ProposalEvent
from core.proposals import ProposalStatus
from tests.bot.test_slack_app import ALICE, MALLORY, running_bot
from tests.fakes.railway import FakeRailway
from tests.fakes.slack import mention_envelope
from tests.fakes.slack_proposals import make_proposal

RESTART = Action(kind="restart", target="svc-1", trust="ask", rule="alert-down-restart")


def action_proposal(**overrides):
    proposal = make_proposal(id="fix_20261121_023300", edits=[], **overrides)
    details = {
        "labels": {"alertname": "InstanceDown"},
        "metrics": {"error_rate": "0.8 (max 2.1, mean 0.9 over 15 min)"},
    }
    anomaly = proposal.anomaly.model_copy(update={"kind": "alert", "details": details})
    diagnosis = proposal.diagnosis.model_copy(
        update={"evidence": ["log 02:33:01 ERROR: db pool exhausted <!channel>"]}
    )
    return proposal.model_copy(
        update={"action": RESTART, "anomaly": anomaly, "diagnosis": diagnosis}
    )


def test_an_action_proposal_shows_the_action_the_figures_and_the_logs() -> None:
    message = proposal_message(action_proposal())
    blocks = json.dumps(message.payload()["blocks"])
    assert "restart the Railway service svc-1" in blocks and "alert-down-restart" in blocks
    assert "error_rate" in blocks and "db pool exhausted" in blocks
    assert "&lt;!channel&gt;" in blocks and "<!channel>" not in blocks  # log text defused
    assert "Run this action?" in blocks  # the confirm dialog says what a yes does
    assert "Proposed change" not in blocks


@pytest.mark.parametrize(
    ("event", "words"),
    [
        (ProposalEvent(kind="approved", actor="mendbot:auto"), "Acting on its own"),
        (ProposalEvent(kind="approved", actor=ALICE), f"Approved by <@{ALICE}>"),
        (
            ProposalEvent(
                kind="applied", details={"action_detail": "restarted dep-1", "watch_seconds": 300}
            ),
            "Done: restarted dep-1. Watching",
        ),
        (ProposalEvent(kind="failed", details={"reason": "Railway said: no"}), "action failed"),
        (ProposalEvent(kind="resolved", details={"source": "alert", "seconds": 42}), "verified"),
        (ProposalEvent(kind="resolved", details={"source": "health"}), "closing this proposal"),
        (
            ProposalEvent(kind="not_cleared", details={"waited_seconds": 300}),
            "A person needs to look",
        ),
        (ProposalEvent(kind="action_queued", details={"reason": "HTTP 503"}), "queued"),
        (ProposalEvent(kind="action_refused", details={"reason": "breaker open"}), "Not acted on"),
    ],
)
def test_the_thread_tells_the_actions_story(event: ProposalEvent, words: str) -> None:
    assert words in event_text(action_proposal(), event)


def test_resume_takes_a_checked_target() -> None:
    assert parse_mention("<@U0BOT> resume svc-1").target == "svc-1"
    assert parse_mention("<@U0BOT> resume").target is None  # monitoring, as before
    assert parse_mention("<@U0BOT> resume <!channel>").name == "help"
    assert parse_mention("<@U0BOT> stats").name == "stats"


@pytest.fixture
def railway():
    with FakeRailway() as fake:
        fake.deploy("dep-1", created_at=datetime.now(UTC) - timedelta(hours=1))
        yield fake


def test_approve_runs_the_action_and_resume_and_stats_answer(
    tmp_path, make_settings, railway
) -> None:
    with running_bot(
        tmp_path,
        make_settings,
        railway_api_url=railway.api_url,
        railway_api_token="team-token",
        railway_environment_id="env-1",
        railway_service_id="svc-1",
    ) as harness:
        proposal, channel, ts = harness.post(action_proposal())
        harness.sender.event(mention_envelope(f"implement {proposal.id}", user=ALICE, thread_ts=ts))
        harness.wait_thread(channel, ts, "Done: restarted deployment dep-1")
        assert harness.runtime.store.get(proposal.id).status is ProposalStatus.APPLIED
        assert railway.actions == [("deploymentRestart", {"id": "dep-1"})]

        harness.sender.event(mention_envelope("resume svc-1", user=MALLORY))
        harness.slack.wait_for("chat.postEphemeral", where=lambda c: "Only approvers" in c.text)
        harness.sender.event(mention_envelope("resume svc-1", user=ALICE))
        harness.slack.wait_for("chat.postMessage", where=lambda c: "was not open" in c.text)
        # A word that names no action's target still means: resume monitoring.
        harness.sender.event(mention_envelope("resume please", user=ALICE))
        harness.slack.wait_for("chat.postMessage", where=lambda c: "Monitoring is off" in c.text)
        harness.sender.event(mention_envelope("stats", user=MALLORY))
        # The restart still waits for its signal to clear: no outcome yet.
        harness.slack.wait_for("chat.postMessage", where=lambda c: "no outcomes to show" in c.text)
        assert not railway.invalid
