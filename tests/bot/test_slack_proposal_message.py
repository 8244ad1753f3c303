"""Tests for bot.slack.proposal_message: the message within Slack's limits, in every form."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from slack_sdk.models.blocks import ActionsBlock, HeaderBlock

from bot.slack.block_kit import HEADER_MAX, MAX_BLOCKS, SECTION_MAX, SlackMessage
from bot.slack.proposal_message import detail_message, proposal_message
from core.proposals import Edit, ProposalStatus
from tests.fakes.slack_proposals import make_proposal

ID = "fix_20261121_023300"
HINT = f"To approve: @mendbot implement {ID} / To reject: @mendbot reject {ID}"


def _proposal(**overrides: object):
    return make_proposal(**{"id": ID, **overrides})


def _texts(message: SlackMessage) -> list[str]:
    out = []
    for block in message.payload()["blocks"]:
        if isinstance(block.get("text"), dict):
            out.append(block["text"]["text"])
        for element in block.get("elements", []):
            if "text" in element and isinstance(element["text"], str):
                out.append(element["text"])
    return out


def _action_ids(message: SlackMessage) -> list[str]:
    return [e.action_id for b in message.blocks if isinstance(b, ActionsBlock) for e in b.elements]


def _big_proposal():
    new_file = "".join(f"value_{i} = compute({i}, 'some argument text')\n" for i in range(300))
    head, tail = "Traceback (most recent call last):\n", "\nKeyError: 'ord_42'"
    body = "".join(f'  File "/app/x.py", line {i}, in <f{i}>\n' for i in range(400))
    sample = head + body[: 10_000 - len(head) - len(tail)] + tail
    return _proposal(
        edits=[Edit(path="generated.py", old_text="", new_text=new_file)],
        sample=sample,
        reasoning="r" * 5_000,
        title="T" * 400,
        risk_notes="n" * 4_000,
    )


@pytest.mark.parametrize("build", [proposal_message, detail_message])
def test_300_line_diff_and_10k_sample_fit_slacks_limits(build) -> None:
    proposal = _big_proposal()
    assert len(proposal.anomaly.samples[0]) == 10_000
    message = build(proposal)
    for block in message.blocks:
        block.validate_json()  # the Block Kit models' own limit checks
    assert len(message.blocks) <= MAX_BLOCKS
    header = next(b for b in message.blocks if isinstance(b, HeaderBlock))
    assert len(header.text.text) <= HEADER_MAX
    assert all(len(text) <= SECTION_MAX for text in _texts(message))
    joined = "\n".join(_texts(message))
    assert "value_0 = compute(0" in joined  # the diff starts where it starts
    if build is proposal_message:  # ... and is shortened with a note
        assert "value_299" not in joined
        assert "diff lines shown" in joined and f"@mendbot show {ID}" in joined
    assert "KeyError: 'ord_42'" in joined  # the sample keeps its end (the exception)
    assert "of 257 lines (the last ones) shown" in joined
    assert "r" * 2000 in joined and "T" * 90 in joined  # long texts cut, not dropped


def test_a_single_line_sample_is_cut_by_characters() -> None:
    joined = "\n".join(_texts(proposal_message(_proposal(sample="y" * 10_000))))
    assert "of 10,000 characters shown" in joined


def test_detail_message_shows_more_of_the_diff_than_the_proposal() -> None:
    proposal = _big_proposal()
    short = "\n".join(_texts(proposal_message(proposal)))
    long = "\n".join(_texts(detail_message(proposal)))
    assert long.count("= compute(") > 2 * short.count("= compute(")


def test_a_small_diff_is_shown_whole_without_a_note() -> None:
    joined = "\n".join(_texts(proposal_message(_proposal())))
    assert "+    if order is None:" in joined
    assert "Shortened" not in joined.split("*Proposed change*")[1].split("*Reasoning*")[0]


def test_proposed_message_has_both_buttons_and_the_words() -> None:
    message = proposal_message(_proposal())
    assert _action_ids(message) == ["mendbot_approve", "mendbot_reject"]
    assert HINT in message.text
    assert HINT in _texts(message)
    payload = json.dumps(message.payload())
    assert ID in payload and "HIGH" in payload and "19 event(s)" in payload
    assert "get_order indexes the orders dict" in payload  # root cause
    assert "Risk: LOW" in payload and "confirm" in payload  # Approve asks to confirm


def test_a_proposal_without_a_change_only_offers_reject() -> None:
    message = proposal_message(_proposal(edits=[]))
    assert _action_ids(message) == ["mendbot_reject"]
    assert "needs investigation" in "\n".join(_texts(message))


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (ProposalStatus.APPROVED, "approved, about to apply"),
        (ProposalStatus.APPLYING, "applying"),
        (ProposalStatus.APPLIED, "applied"),
        (ProposalStatus.ROLLED_BACK, "rolled back"),
        (ProposalStatus.FAILED, "failed"),
        (ProposalStatus.REJECTED, "rejected"),
        (ProposalStatus.EXPIRED, "expired"),
    ],
)
def test_once_decided_the_buttons_give_way_to_the_status(status, expected) -> None:
    proposal = _proposal(
        status=status,
        decided_by="U0ALICE",
        decided_at=datetime(2026, 11, 21, 3, 0, tzinfo=UTC),
        commit_sha="0123456789abcdef" if status is ProposalStatus.APPLIED else None,
    )
    message = proposal_message(proposal)
    assert _action_ids(message) == []
    joined = "\n".join(_texts(message))
    assert expected in joined
    assert "To approve" not in message.text
    if status is ProposalStatus.APPLIED:
        assert "`0123456789ab`" in joined and "<@U0ALICE>" in joined


def test_show_without_buttons_gives_the_words_instead() -> None:
    message = detail_message(_proposal(), with_buttons=False)
    assert _action_ids(message) == []
    assert HINT in _texts(message)


def test_untrusted_log_text_cannot_ping_link_break_out_or_leak() -> None:
    sample = (
        "<!channel> see <https://evil.example|your bank> ``` *bold* "
        "token xoxb-123456789012-abcdefghijkl"
    )
    payload = json.dumps(proposal_message(_proposal(sample=sample)).payload())
    assert "<!channel>" not in payload and "&lt;!channel&gt;" in payload
    assert "<https://evil" not in payload
    assert "xoxb-123456789012" not in payload
    sample_text = next(
        t for t in _texts(proposal_message(_proposal(sample=sample))) if t.startswith("*Sample*")
    )
    assert sample_text.count("```") == 2  # the block opens and closes once


def test_the_message_says_what_proves_the_fix_before_and_after() -> None:
    from core.proposals import RegressionTest

    test = RegressionTest(
        path=f"tests/mendbot/test_{ID}.py", content="def test(): pass\n", reaches="GET /orders/9"
    )
    waiting = "\n".join(_texts(proposal_message(_proposal(regression_test=test))))
    assert f"To be proven: tests/mendbot/test_{ID}.py (GET /orders/9) must fail" in waiting
    applied = _proposal(
        regression_test=test, status=ProposalStatus.APPLIED, proven=True, commit_sha="ab" * 20
    )
    assert "Proven by a test that failed before the fix" in "\n".join(
        _texts(proposal_message(applied))
    )
    unproven = applied.model_copy(update={"proven": False})
    assert "No proof: the regression test did not reproduce" in "\n".join(
        _texts(proposal_message(unproven))
    )
    untested = "\n".join(_texts(proposal_message(_proposal())))
    assert "No proof: the evidence does not show how to reach the failure" in untested
