"""bot.slack.held_message: one message for a cycle's held proposals, whatever their number."""

from __future__ import annotations

from bot.slack.held_message import LISTED, held_message
from core.models import Severity
from tests.fakes.slack_proposals import make_proposal


def _held(n: int) -> list:
    proposals = []
    for k in range(n):
        base = make_proposal(id=f"fix_20261121_023300_{k + 2}", fingerprint=f"{k:032d}")
        severity = Severity.HIGH if k < 3 else Severity.MEDIUM
        anomaly = base.anomaly.model_copy(update={"severity": severity, "count": 5000 - k})
        proposals.append(base.model_copy(update={"anomaly": anomaly, "title": f"Failure {k}"}))
    return proposals


def test_three_thousand_held_proposals_fit_one_message() -> None:
    message = held_message(_held(3011), cap=5)  # check_limits ran inside
    payload = message.payload()
    text = str(payload["blocks"])
    assert "3,011 more new problems were stored, not posted" in text
    assert "3 HIGH, 3,008 MEDIUM" in text and "MENDBOT_MAX_PROPOSALS_PER_CYCLE" in text
    assert text.count("• `fix_20261121_023300_") == LISTED
    assert "…and 2,951 more" in text and "--limit 3016" in text
    assert message.text.startswith("3,011 more new proposals stored, not posted")
    assert "fix_20261121_023300_2," in message.text and len(message.text) < 3000


def test_a_few_held_proposals_are_all_listed() -> None:
    payload = held_message(_held(2), cap=5).payload()
    text = str(payload["blocks"])
    assert text.count("• `fix_") == 2 and "more. Every one" not in text
