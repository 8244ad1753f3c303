"""``@mendbot resume fix proposals for <fingerprint>`` and ``@mendbot stats`` for code fixes:
the words parsed (forged fingerprints refused), then through the running app (signed
requests, fake Slack Web API, real database): a non-approver refused and audited, an
unknown fingerprint told so, an open breaker closed, and the fix outcomes in ``stats``."""

from __future__ import annotations

import pytest

from bot.slack.commands import parse_mention
from core.proposals import ProposalStatus
from tests.bot.test_slack_app import ALICE, MALLORY, running_bot
from tests.fakes.proposals import make_proposal
from tests.fakes.slack import mention_envelope

S = ProposalStatus
FP = "3f2a9c0d1e4b5a69"


@pytest.mark.parametrize(
    "text",
    [
        f"resume fix proposals for {FP}",
        f"resume fix proposals {FP}",
        f"resume fixes for *{FP.upper()}*",
        f"<@U0BOT> Resume Fix Proposals For `{FP}`",
    ],
)
def test_resume_fix_proposals_takes_a_fingerprint(text: str) -> None:
    command = parse_mention(f"<@U0BOT> {text}")
    assert (command.name, command.target, command.privileged) == ("resume_fixes", FP, True)


@pytest.mark.parametrize(
    "forged",
    [
        "<!channel>",
        "3f2a9c0d1e4b5a69; rm -rf /",
        "../../etc/passwd",
        "3f2a9c0d1e4b5a69 3f2a9c0d1e4b5a70",
        "\x1b[2J3f2a9c0d1e4b5a69",
        "zzzzzzzzzzzzzzzz",
        "a" * 65,
        "",
    ],
)
def test_a_forged_fingerprint_gets_help_not_a_command(forged: str) -> None:
    command = parse_mention(f"<@U0BOT> resume fix proposals for {forged}")
    assert command.name == "help" and command.target is None
    assert "fingerprint" in (command.problem or "")


def test_plain_resume_and_resume_target_are_unchanged() -> None:
    assert parse_mention("<@U0BOT> resume").name == "resume"
    assert parse_mention("<@U0BOT> resume svc-1").target == "svc-1"


def _fail(store, outcome: ProposalStatus) -> None:
    stored = store.add(make_proposal(fingerprint=FP))
    path = [S.APPROVED, S.APPLYING]
    path += [S.ROLLED_BACK] if outcome is S.ROLLED_BACK else [S.APPLIED, outcome]
    for step in path:
        store.transition(stored.id, step, actor=ALICE)


def test_resume_in_slack_is_for_approvers_and_stats_show_fixes(tmp_path, make_settings) -> None:
    with running_bot(tmp_path, make_settings) as harness:
        store = harness.runtime.store
        for outcome in (S.ROLLED_BACK, S.REGRESSED, S.VERIFIED, S.REGRESSED):
            _fail(store, outcome)
        history = harness.runtime.fix_history
        assert history is not None and history.breaker(FP).open

        harness.sender.event(mention_envelope(f"resume fix proposals for {FP}", user=MALLORY))
        harness.slack.wait_for("chat.postEphemeral", where=lambda c: "Only approvers" in c.text)
        assert history.breaker(FP).open
        refused = [e for e in store.audit_trail() if e.action == "refused"]
        assert refused and refused[-1].actor == MALLORY

        harness.sender.event(
            mention_envelope("resume fix proposals for 0123456789abcdef", user=ALICE)
        )
        harness.slack.wait_for("chat.postMessage", where=lambda c: "never seen" in c.text)

        harness.sender.event(mention_envelope("stats", user=MALLORY))
        [stats] = harness.slack.wait_for(
            "chat.postMessage", where=lambda c: "What the fixes achieved" in c.text
        )
        assert "`playbook` on `repeated_error`: 25%, 1 of 4 verified" in stats.text
        assert f"no fix proposals for `{FP}` after 3 failed fixes" in stats.text

        harness.sender.event(mention_envelope(f"resume fix proposals for {FP}", user=ALICE))
        harness.slack.wait_for(
            "chat.postMessage", where=lambda c: "closed the fix breaker" in c.text
        )
        assert not history.breaker(FP).open
        closed = [e for e in store.audit_trail() if e.action == "fix_breaker_closed"]
        assert [(e.actor, e.details["fingerprint"]) for e in closed] == [(ALICE, FP)]
