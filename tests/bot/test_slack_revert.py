"""Reverting from Slack: the Revert button on a regressed fix and ``@mendbot revert fix_ID``.

Signed requests to the running HTTP app, the fake Slack Web API, the real implementor on a
real repository with a bare remote (as in ``test_slack_app``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.slack.commands import REVERT_ACTION, parse_mention
from bot.slack.thread_events import event_text
from core.notifier import ProposalEvent
from core.proposals import FixProposal, ProposalStatus
from tests.bot.test_slack_app import ALICE, MALLORY, Harness, running_bot
from tests.fakes.git import git
from tests.fakes.slack import block_actions_payload, mention_envelope
from tests.fakes.slack_proposals import ORDERS_PY, make_proposal


@pytest.fixture
def harness(tmp_path: Path, make_settings, database_url: str) -> Iterator[Harness]:
    with running_bot(tmp_path, make_settings, database_url=database_url) as running:
        yield running


def _regressed(harness: Harness) -> tuple[FixProposal, str, str]:
    """A posted fix, applied and pushed, then judged regressed (its message re-rendered)."""
    proposal, channel, ts = harness.post()
    applied = harness.runtime.decisions.implement(proposal.id, actor=ALICE)
    assert applied.status is ProposalStatus.APPLIED, applied.error
    facts = {"commit_sha": applied.commit_sha, "count_before": 19, "count_after": 4}
    regressed = harness.runtime.store.transition(
        proposal.id, ProposalStatus.REGRESSED, actor="mendbot", details=facts
    )
    window = {**facts, "window_seconds": 900.0}
    harness.bot.notifier.post_event(regressed, ProposalEvent(kind="regressed", details=window))
    return regressed, channel, ts


def test_the_revert_button_on_a_regressed_fix_reverts_it(harness: Harness) -> None:
    fix, channel, ts = _regressed(harness)
    parent = harness.slack.message(channel, ts)
    assert REVERT_ACTION in str(parent["blocks"]) and "regressed" in str(parent["blocks"])
    assert f"To revert: @mendbot revert {fix.id}" in parent["text"]
    regressed = harness.wait_thread(channel, ts, "regressed: still 4 occurrence(s) in 15 min")
    assert regressed.args.get("reply_broadcast") is True

    response = harness.sender.action(
        block_actions_payload(REVERT_ACTION, fix.id, user=ALICE, channel=channel, message_ts=ts)
    )
    assert response.status_code == 200

    reverted = harness.wait_thread(channel, ts, "Reverted by")
    assert harness.bot.wait_idle(timeout=30)
    stored = harness.runtime.store.get(fix.id)
    assert stored.status is ProposalStatus.REVERTED
    assert git(harness.repo.bare, "show", "main:orders.py") == ORDERS_PY.rstrip("\n")
    assert f"Reverts-Fix-Id: {fix.id}" in harness.repo.remote_message()
    assert f"Approved-by: {ALICE}" in harness.repo.remote_message()
    assert harness.repo.remote_head()[:12] in reverted.text
    assert any(t.startswith(":rewind: Reverting commit") for t in harness.thread_texts(channel, ts))
    parent = harness.slack.message(channel, ts)
    assert REVERT_ACTION not in str(parent["blocks"]) and "reverted" in str(parent["blocks"])


def test_a_mention_reverts_with_the_reason_in_the_commit(harness: Harness) -> None:
    fix, channel, ts = _regressed(harness)
    response = harness.sender.event(
        mention_envelope(f"revert {fix.id} errors went up", user=ALICE, channel=channel)
    )
    assert response.status_code == 200
    harness.wait_thread(channel, ts, "Reverted by")
    assert harness.bot.wait_idle(timeout=30)
    assert "Why: errors went up" in harness.repo.remote_message()
    replies = [c.text for c in harness.slack.received("chat.postMessage")]
    assert f":rewind: Reverting {fix.id}; progress is in its thread." in replies


def test_only_approvers_may_revert(harness: Harness) -> None:
    fix, channel, ts = _regressed(harness)
    head = harness.repo.remote_head()
    harness.sender.action(
        block_actions_payload(REVERT_ACTION, fix.id, user=MALLORY, channel=channel, message_ts=ts)
    )
    harness.sender.event(mention_envelope(f"revert {fix.id}", user=MALLORY, channel=channel))
    harness.slack.wait_for("chat.postEphemeral", count=2)
    assert harness.bot.wait_idle(timeout=30)
    assert all("Only approvers may `revert`" in t for t in harness.ephemerals(MALLORY))
    assert harness.runtime.store.get(fix.id).status is ProposalStatus.REGRESSED
    assert harness.repo.remote_head() == head
    refused = [e for e in harness.runtime.store.audit_trail(fix.id) if e.action == "refused"]
    assert [e.details["command"] for e in refused] == ["revert", "revert"]


def test_a_fix_that_was_never_pushed_cannot_be_reverted(harness: Harness) -> None:
    proposal, channel, _ts = harness.post()
    harness.sender.event(mention_envelope(f"revert {proposal.id}", user=ALICE, channel=channel))
    [note] = harness.slack.wait_for("chat.postEphemeral")
    assert f"{proposal.id} is proposed: only an applied, verified or regressed fix" in note.text
    assert harness.runtime.store.get(proposal.id).status is ProposalStatus.PROPOSED


def test_a_revert_that_no_longer_applies_is_refused_to_the_requester(
    harness: Harness, tmp_path: Path
) -> None:
    fix, channel, ts = _regressed(harness)
    fixed = git(harness.repo.bare, "show", "main:orders.py")
    head = harness.repo.push_from_elsewhere(
        tmp_path, {"orders.py": fixed.replace("not found", "missing") + "\n"}, "wording"
    )
    harness.sender.action(
        block_actions_payload(REVERT_ACTION, fix.id, user=ALICE, channel=channel, message_ts=ts)
    )
    [note] = harness.slack.wait_for("chat.postEphemeral", timeout=30)
    assert "later commits changed the lines this fix changed (orders.py)" in note.text
    assert harness.bot.wait_idle(timeout=30)
    assert harness.repo.remote_head() == head
    assert harness.runtime.store.get(fix.id).status is ProposalStatus.REGRESSED
    refused = harness.runtime.store.audit_trail(fix.id)[-1]
    assert (refused.action, refused.details["reason"]) == ("refused", "cannot_revert")


def test_a_forged_revert_button_is_ignored(harness: Harness) -> None:
    fix, channel, ts = _regressed(harness)
    head = harness.repo.remote_head()
    for value in ("../../etc", f"{fix.id} extra", ""):
        response = harness.sender.action(
            block_actions_payload(REVERT_ACTION, value, user=ALICE, channel=channel, message_ts=ts)
        )
        assert response.status_code == 200
    assert harness.bot.wait_idle(timeout=30)
    assert harness.repo.remote_head() == head
    assert harness.runtime.store.get(fix.id).status is ProposalStatus.REGRESSED


def test_revert_words_are_parsed_like_reject() -> None:
    command = parse_mention("<@U0BOT> *revert* fix_20261121_023300 it made *things* worse")
    assert (command.name, command.proposal_id) == ("revert", "fix_20261121_023300")
    assert command.reason == "it made *things* worse" and command.privileged
    assert parse_mention("<@U0BOT> revert").problem is not None


def test_after_the_push_thread_words() -> None:
    proposal = make_proposal(id="fix_20261121_023300")
    sha = "4f1c2a9be07d35c8e1f0a6b2c3d4e5f60718293a"
    facts = {"commit_sha": sha, "count_before": 19, "count_after": 0, "window_seconds": 900.0}
    verified = event_text(proposal, ProposalEvent(kind="verified", details=facts))
    assert verified == (
        ":white_check_mark: verified: 0 occurrences in 15 min after deploy `4f1c2a9be07d` "
        "went live (19 before the fix)."
    )
    failed = event_text(
        proposal,
        ProposalEvent(
            kind="deploy_failed",
            details={"commit_sha": sha, "deploy_id": "dep-9", "deploy_status": "CRASHED"},
        ),
    )
    assert "crashed (deployment `dep-9`)" in failed
    assert "`@mendbot revert fix_20261121_023300`" in failed
    caused = event_text(
        proposal,
        ProposalEvent(
            kind="probably_caused",
            details={"commit_sha": sha, "frame": "orders.py:6 in get_order", "summary": "<!here>"},
        ),
    )
    assert "`orders.py:6 in get_order`" in caused and "<!here>" not in caused
    automatic = event_text(
        proposal,
        ProposalEvent(
            kind="reverted",
            actor="mendbot",
            details={"revert_sha": "a" * 40, "automatic": True, "why": "deploy failed"},
        ),
    )
    assert automatic.startswith(":rewind: Reverted automatically (deploy failed): `aaaaaaaaaaaa`")
