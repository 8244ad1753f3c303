"""Nothing in a log or an LM answer can speak in Slack: the injection corpus through every
field of every message, asserted on what went over the wire to a fake Slack Web API.

Each test places every string of :data:`tests.fakes.hostile.CORPUS` in one field (one
message per string), then checks each call the fake received: the string arrived (its
marker is there) and nothing in it is live (no broadcast, mention, link or raw control
character; see :mod:`tests.fakes.hostile`). Each prints ``surface: tried/neutralised``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from slack_sdk import WebClient

from bot.slack.notifier import SlackNotifier
from bot.slack.outbox import SlackOutbox
from core.models import Diagnosis, Severity
from core.notifier import ProposalEvent
from core.proposals import Edit, FixProposal, ProposalStatus
from tests.fakes.hostile import CORPUS, marked, marker, payload_problems
from tests.fakes.slack import BOT_TOKEN, FakeSlack, SlackCall
from tests.fakes.slack_proposals import ORDERS_OLD, make_proposal

ID = "fix_20261121_023300"
APPROVER = "U0ALICE"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def notifier(slack: FakeSlack) -> SlackNotifier:
    client = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
    fast = SlackOutbox(client=client, posts_per_second=10_000, burst=10_000)
    return SlackNotifier(client=client, channel="#ops", outbox=fast)


def _run_corpus(
    slack: FakeSlack, surface: str, send: Callable[[str], None], *, allowed: tuple[str, ...] = ()
) -> None:
    """Send every corpus string through ``send``; assert each arrived and is inert."""
    neutralised = 0
    failures: list[str] = []
    for index, injection in enumerate(CORPUS):
        before = len(slack.received())
        send(marked(index, injection))
        calls: list[SlackCall] = slack.received()[before:]
        problems = [p for call in calls for p in payload_problems(call.args, allowed=allowed)]
        problems += [f"{call.method} refused: {call.response}" for call in calls if not call.ok]
        arrived = any(marker(index) in str(call.args) for call in calls)
        if not calls or not arrived:
            problems.append("nothing arrived")
        if problems:
            failures.append(f"{injection.name}: {sorted(set(problems))[:5]}")
        else:
            neutralised += 1
    print(f"slack {surface}: {len(CORPUS)} tried, {neutralised} neutralised")
    assert failures == [], failures


def _proposal(**overrides: Any) -> FixProposal:
    return make_proposal(id=ID, **overrides)


def _with_diagnosis(**fields: Any) -> FixProposal:
    base = _proposal().diagnosis.model_dump()
    return _proposal(diagnosis=Diagnosis(**{**base, **fields}))


def _with_anomaly(**fields: Any) -> FixProposal:
    anomaly = _proposal().anomaly.model_copy(update=fields)
    return _proposal(anomaly=anomaly)


PROPOSAL_FIELDS: dict[str, Callable[[str], FixProposal]] = {
    "sample": lambda text: _proposal(sample=text),
    "summary": lambda text: _with_anomaly(summary=text),
    "template": lambda text: _with_anomaly(summary="", template=text),
    "root cause": lambda text: _with_diagnosis(root_cause=text),
    "affected components": lambda text: _with_diagnosis(affected_components=[text]),
    "title": lambda text: _proposal(title=text),
    "reasoning": lambda text: _proposal(reasoning=text),
    "risk notes": lambda text: _proposal(risk_notes=text),
    "notes": lambda text: _proposal(notes=[text, "second note"]),
    "edit new text": lambda text: _proposal(
        edits=[Edit(path="orders.py", old_text=ORDERS_OLD, new_text=text)]
    ),
    "edit old text": lambda text: _proposal(
        edits=[Edit(path="orders.py", old_text=text, new_text="pass\n")]
    ),
    "file path": lambda text: _proposal(edits=[Edit(path=text, old_text="a", new_text="b")]),
}


@pytest.mark.parametrize("field", list(PROPOSAL_FIELDS))
def test_proposal_message_fields(slack: FakeSlack, notifier: SlackNotifier, field: str) -> None:
    _run_corpus(
        slack, f"proposal {field}", lambda t: notifier.post_proposal(PROPOSAL_FIELDS[field](t))
    )


FINAL_FIELDS: dict[str, Callable[[str], FixProposal]] = {
    "failure reason": lambda text: _proposal(status=ProposalStatus.FAILED, error=text),
    "decided by": lambda text: _proposal(status=ProposalStatus.REJECTED, decided_by=text),
}


@pytest.mark.parametrize("field", list(FINAL_FIELDS))
def test_final_message_fields_on_update(
    slack: FakeSlack, notifier: SlackNotifier, field: str
) -> None:
    ref = notifier.post_proposal(_proposal())

    def send(text: str) -> None:
        notifier.refresh(FINAL_FIELDS[field](text).model_copy(update={"thread_ref": ref}))

    _run_corpus(slack, f"chat.update {field}", send)


EVENTS: dict[str, Callable[[str], ProposalEvent]] = {
    "validation output": lambda t: ProposalEvent(
        kind="validation_failed", details={"check": "pytest", "output": t}
    ),
    "validation check": lambda t: ProposalEvent(
        kind="validation_failed", details={"check": t, "output": "1 failed"}
    ),
    "checks passed": lambda t: ProposalEvent(kind="validation_passed", details={"checks": [t]}),
    "rollback reason": lambda t: ProposalEvent(kind="rolled_back", details={"reason": t}),
    "failure reason": lambda t: ProposalEvent(
        kind="failed", details={"reason": t, "kept_branch": t}
    ),
    "reject reason": lambda t: ProposalEvent(
        kind="rejected", actor="cli:" + t, details={"reason": t}
    ),
    "refusal": lambda t: ProposalEvent(kind="refused", actor=t, details={"reason": t}),
    "applied branch": lambda t: ProposalEvent(
        kind="applied", details={"commit_sha": "0123456789abcdef", "branch": t}
    ),
}


@pytest.mark.parametrize("kind", list(EVENTS))
def test_thread_replies(slack: FakeSlack, notifier: SlackNotifier, kind: str) -> None:
    posted = _proposal().model_copy(update={"thread_ref": notifier.post_proposal(_proposal())})
    _run_corpus(slack, f"thread {kind}", lambda t: notifier.post_event(posted, EVENTS[kind](t)))


def test_events_of_a_never_posted_proposal_go_to_the_channel_inert(
    slack: FakeSlack, notifier: SlackNotifier
) -> None:
    _run_corpus(
        slack,
        "channel event",
        lambda t: notifier.post_event(
            _proposal(title=t), ProposalEvent(kind="rolled_back", details={"reason": t})
        ),
    )


def test_alerts(slack: FakeSlack, notifier: SlackNotifier) -> None:
    _run_corpus(slack, "alert", notifier.post_alert)


def test_the_summary_of_held_proposals(slack: FakeSlack, notifier: SlackNotifier) -> None:
    _run_corpus(
        slack,
        "held summary",
        lambda t: notifier.post_held([_proposal(title=t), _proposal(title="plain")], cap=5),
    )


def test_the_fallback_text_no_longer_broadcasts(slack: FakeSlack, notifier: SlackNotifier) -> None:
    notifier.post_proposal(_proposal(title="KeyError <!channel> <!here> <@U0VICTIM>"))
    [call] = slack.received("chat.postMessage")
    assert "<!channel>" not in call.text and "&lt;!channel&gt;" in call.text
    assert "<!here>" not in call.text and "<@U0VICTIM>" not in call.text


def test_the_outbox_defuses_a_field_its_builder_forgot(slack: FakeSlack) -> None:
    """The boundary: raw untrusted text in a new block and in ``text`` is made inert."""
    outbox = SlackOutbox(client=WebClient(token=BOT_TOKEN, base_url=slack.api_url))
    raw = "<!channel> <@U0VICTIM|v> <https://evil.example|https://slack.com> a & b \x1b[2J\u202e"
    outbox.send(
        "chat_postMessage",
        channel="#ops",
        text=raw,
        blocks=[
            {"type": "section", "text": {"type": "mrkdwn", "text": raw}},
            {"type": "header", "text": {"type": "plain_text", "text": raw}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": raw}]},
        ],
    )
    [call] = slack.received("chat.postMessage")
    assert payload_problems(call.args) == []
    assert call.args["unfurl_links"] is False and call.args["unfurl_media"] is False
    assert "&lt;!channel&gt;" in call.text and "a &amp; b" in call.text
    assert "\\x1b[2J" in call.text and "\\u202e" in call.text


def test_the_outbox_keeps_mendbots_own_tokens(slack: FakeSlack) -> None:
    outbox = SlackOutbox(client=WebClient(token=BOT_TOKEN, base_url=slack.api_url))
    own = (
        "Approved by <@U0ALICE> <!date^1700000000^{date_short_pretty} {time}|2023-11-14 22:13 UTC>"
        " in <#C0OPS>: commit <https://github.com/acme/shop/commit/0123456789ab|`0123456789ab`>"
        " &lt;kept&gt; &amp; `a`\u200a`\u200a`"
    )
    outbox.send("chat_postMessage", channel="#ops", text=own)
    [call] = slack.received("chat.postMessage")
    assert call.text == own


@pytest.mark.parametrize(
    "forged",
    [
        "<!channel>",
        "<!here|here>",
        "<!everyone>",
        "<!subteam^S0ONCALL|@oncall>",
        "<@U0ALICE|alice>",
        "<#C0OPS|ops>",
        "<https://github.com/acme/shop/commit/0123456|https://slack.com>",
        "<http://github.com/acme/shop/commit/0123456789ab|`0123456789ab`>",
        "<!date^1^{date_short_pretty} {time}|now><!channel>",
        "<mailto:a@b.c|support>",
        "<<!channel>>",
        "<!channel",
    ],
)
def test_the_outbox_escapes_every_token_it_did_not_write(slack: FakeSlack, forged: str) -> None:
    outbox = SlackOutbox(client=WebClient(token=BOT_TOKEN, base_url=slack.api_url))
    outbox.send("chat_postMessage", channel="#ops", text=forged)
    [call] = slack.received("chat.postMessage")
    assert payload_problems(call.args, allowed=["<!date^1^{date_short_pretty} {time}|now>"]) == []
    assert call.text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == forged


def test_a_hundred_kilobyte_field_everywhere_still_fits_slack(
    slack: FakeSlack, notifier: SlackNotifier
) -> None:
    huge = "E" * 100_000 + "<!channel>"
    proposal = _proposal(
        title=huge,
        sample=huge,
        reasoning=huge,
        risk_notes=huge,
        notes=[huge] * 20,
        anomaly=_proposal().anomaly.model_copy(update={"summary": huge, "severity": Severity.LOW}),
        edits=[Edit(path="orders.py", old_text=ORDERS_OLD, new_text=huge)],
    )
    notifier.post_proposal(proposal)
    [call] = slack.received("chat.postMessage")
    assert call.ok, call.response
    assert payload_problems(call.args) == []
