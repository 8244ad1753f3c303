"""Tests for bot.slack.messages: every thread event has words, untrusted text is defused."""

from __future__ import annotations

from typing import get_args

import pytest

from bot.slack import messages as msg
from core.notifier import EventKind, ProposalEvent
from monitoring.status import MonitorStatus
from tests.fakes.slack_proposals import make_proposal


@pytest.mark.parametrize("kind", get_args(EventKind))
def test_every_event_kind_has_a_thread_message(kind: str) -> None:
    text = msg.event_text(
        make_proposal(id="fix_20261121_023300"), ProposalEvent(kind=kind, actor="U0ALICE")
    )  # type: ignore[arg-type]
    assert text.startswith(":") and len(text) < 500


def test_event_details_are_shown_and_defused() -> None:
    proposal = make_proposal(id="fix_20261121_023300")
    rolled = msg.event_text(
        proposal,
        ProposalEvent(
            kind="rolled_back", details={"reason": "validation failed <!channel> password=hunter22"}
        ),
    )
    assert "&lt;!channel&gt;" in rolled and "hunter22" not in rolled
    assert "nothing was pushed" in rolled
    failed = msg.event_text(
        proposal,
        ProposalEvent(
            kind="failed",
            details={"reason": "push refused", "kept_branch": "mendbot/fix_20261121_023300"},
        ),
    )
    assert "`mendbot/fix_20261121_023300`" in failed
    seen = msg.event_text(proposal, ProposalEvent(kind="seen_again", details={"count": 4}))
    assert seen == ":eyes: Seen again: 4 more time(s)."
    output = msg.event_text(
        proposal,
        ProposalEvent(
            kind="validation_failed", details={"check": "pytest", "output": "```\nboom```"}
        ),
    )
    assert output.count("```") == 2


@pytest.mark.parametrize(
    ("actor", "shown"),
    [
        ("U0ALICE", "<@U0ALICE>"),
        ("W0GRID", "<@W0GRID>"),
        ("cli:alice", "`cli:alice`"),
        ("<!here>", "`&lt;!here&gt;`"),
        (None, "someone"),
    ],
)
def test_actors_are_mentioned_only_by_user_id(actor: str | None, shown: str) -> None:
    assert msg.actor(actor) == shown


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (45, "45 s"),
        (720, "12 min"),
        (86400, "24 h"),
        (12600, "3.5 h"),
        (3 * 86400, "3.0 d"),
    ],
)
def test_durations(seconds: float, shown: str) -> None:
    assert msg.duration(seconds) == shown


def test_status_when_monitoring_is_off_or_not_yet_run() -> None:
    off = msg.monitor_status(None, {"applied": 2})
    assert "Monitoring is off" in off and "2 applied" in off
    fresh = msg.monitor_status(MonitorStatus(enabled=True, source="file"), {})
    assert "No cycle has run yet." in fresh and "`file`: :white_check_mark: healthy" in fresh
