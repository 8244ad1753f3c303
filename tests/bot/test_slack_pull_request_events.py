"""Slack words for pull-request delivery: the link in the thread, and nothing from GitHub's
answer (URL, branch) can break out of its place in the message."""

from __future__ import annotations

from bot.slack.proposal_message import STATUS_LABEL, proposal_message
from bot.slack.thread_events import event_text
from core.notifier import ProposalEvent
from core.proposals import ProposalStatus
from tests.fakes.slack_proposals import make_proposal

PR = {
    "number": 12,
    "url": "https://github.com/acme/orders/pull/12",
    "branch": "mendbot/fix_20261121_023300",
    "base": "main",
}


def _text(kind: str, **details: object) -> str:
    proposal = make_proposal(id="fix_20261121_023300")
    return event_text(proposal, ProposalEvent(kind=kind, details=details))  # type: ignore[arg-type]


def test_opened_links_the_pull_request_and_names_branch_and_base() -> None:
    text = _text("pull_request_opened", pull_request=PR, commit_sha="a" * 40)

    assert "<https://github.com/acme/orders/pull/12|#12>" in text
    assert "`mendbot/fix_20261121_023300`" in text and "`main`" in text
    assert "`aaaaaaaaaaaa`" in text


def test_merged_shows_the_merge_commit_and_closed_the_rejection() -> None:
    merged = _text("pull_request_merged", pull_request={**PR, "merge_commit_sha": "b" * 40})
    closed = _text("pull_request_closed", pull_request=PR, reason="pull request closed")

    assert "merged into `main`: commit `bbbbbbbbbbbb`" in merged
    assert "closed without merging" in closed and "rejected" in closed
    assert "`mendbot/fix_20261121_023300` is left as it is" in closed


def test_a_hostile_url_or_branch_is_not_a_link_or_a_broadcast() -> None:
    hostile = {
        "number": "12>|<!channel",
        "url": "javascript:alert(1)|<!channel>",
        "branch": "x`<!here>`",
        "base": "<@U0BOSS>",
    }
    text = _text("pull_request_opened", pull_request=hostile)

    assert "javascript" not in text and "<!channel" not in text and "<!here>" not in text
    assert "<@U0BOSS>" not in text and "the pull request" in text
    bad_scheme = _text("pull_request_merged", pull_request={**PR, "url": "https://x|y"})
    assert "<https://x" not in bad_scheme


def test_the_waiting_status_has_a_label_and_keeps_the_full_message() -> None:
    proposal = make_proposal(id="fix_20261121_023300", status=ProposalStatus.AWAITING_MERGE)

    message = proposal_message(proposal)

    assert "pull request open" in STATUS_LABEL[ProposalStatus.AWAITING_MERGE]
    assert "pull request open" in str(message.blocks)
    assert "Approve" not in str(message.blocks)
