"""Tests for bot.slack.thread_events: every thread event has words, untrusted text is defused."""

from __future__ import annotations

from typing import get_args

import pytest

from bot.slack.thread_events import event_text
from core.notifier import EventKind, ProposalEvent
from tests.fakes.slack_proposals import make_proposal


@pytest.mark.parametrize("kind", get_args(EventKind))
def test_every_event_kind_has_a_thread_message(kind: str) -> None:
    text = event_text(
        make_proposal(id="fix_20261121_023300"), ProposalEvent(kind=kind, actor="U0ALICE")
    )  # type: ignore[arg-type]
    assert text.startswith(":") and len(text) < 500


def test_event_details_are_shown_and_defused() -> None:
    proposal = make_proposal(id="fix_20261121_023300")
    rolled = event_text(
        proposal,
        ProposalEvent(
            kind="rolled_back", details={"reason": "validation failed <!channel> password=hunter22"}
        ),
    )
    assert "&lt;!channel&gt;" in rolled and "hunter22" not in rolled
    assert "nothing was pushed" in rolled
    failed = event_text(
        proposal,
        ProposalEvent(
            kind="failed",
            details={"reason": "push refused", "kept_branch": "mendbot/fix_20261121_023300"},
        ),
    )
    assert "`mendbot/fix_20261121_023300`" in failed
    seen = event_text(proposal, ProposalEvent(kind="seen_again", details={"count": 4}))
    assert seen == ":eyes: Seen again: 4 more time(s)."
    output = event_text(
        proposal,
        ProposalEvent(
            kind="validation_failed", details={"check": "pytest", "output": "```\nboom```"}
        ),
    )
    assert output.count("```") == 2


@pytest.mark.parametrize(
    ("proven", "expected"),
    [
        (True, "Proven by a test that failed before the fix and passes after it."),
        (False, "No proof: the regression test did not reproduce the failure"),
        (None, "No proof: the evidence did not show how to reach the failure"),
    ],
)
def test_the_applied_reply_says_whether_a_test_proves_the_fix(proven, expected) -> None:
    details = {"commit_sha": "ab" * 20, "proven": proven}
    text = event_text(
        make_proposal(id="fix_20261121_023300"), ProposalEvent(kind="applied", details=details)
    )
    assert expected in text
