"""Tests for bot.slack.commands: mention text and buttons to commands, and who may decide."""

from __future__ import annotations

import pytest

from bot.slack.commands import (
    APPROVE_ACTION,
    MAX_REASON_CHARS,
    REJECT_ACTION,
    Command,
    Origin,
    button_command,
    button_request,
    may_decide,
    mention_request,
    parse_mention,
    split_approvers,
)

ID = "fix_20261121_023300"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"<@U0BOT> implement {ID}", Command("implement", ID)),
        (f"<@U0BOT|mendbot> IMPLEMENT `{ID}`", Command("implement", ID)),
        (f"<@U0BOT> approve {ID}_2", Command("implement", f"{ID}_2")),
        (f"<@U0BOT> *implement* {ID}.", Command("implement", ID)),
        (f"<@U0BOT> reject {ID}", Command("reject", ID)),
        (
            f"<@U0BOT> reject {ID} the fix hides the bug &amp; logs &lt;nothing&gt;",
            Command("reject", ID, reason="the fix hides the bug & logs <nothing>"),
        ),
        (f"<@U0BOT> show {ID}", Command("show", ID)),
        ("<@U0BOT> list", Command("list")),
        ("<@U0BOT>   status  ", Command("status")),
        ("<@U0BOT> pause", Command("pause")),
        # A word after resume may name a breaker's target; the app resumes monitoring
        # when no action ever ran on it (see test_slack_actions.py).
        ("<@U0BOT> resume please", Command("resume", target="please")),
        ("<@U0BOT> help", Command("help")),
        ("<@U0BOT>", Command("help")),
        ("", Command("help")),
    ],
)
def test_parse_mention_understands_the_commands(text: str, expected: Command) -> None:
    assert parse_mention(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("<@U0BOT> deploy everything", "don't know"),
        ("<@U0BOT> implement", "needs a proposal id"),
        ("<@U0BOT> implement fix_2026", "needs a proposal id"),
        ("<@U0BOT> implement xfix_20261121_023300", "needs a proposal id"),
        (f"<@U0BOT> implement {ID} fix_20261121_023301", "one proposal at a time"),
        ("<@U0BOT> show latest", "needs a proposal id"),
    ],
)
def test_anything_else_gets_help_saying_why(text: str, fragment: str) -> None:
    command = parse_mention(text)
    assert command.name == "help"
    assert command.problem is not None and fragment in command.problem


def test_reject_reason_is_bounded() -> None:
    command = parse_mention(f"<@U0BOT> reject {ID} " + "x" * 5000)
    assert len(command.reason) == MAX_REASON_CHARS


def test_privileged_commands_are_the_deciding_ones() -> None:
    assert {
        n
        for n in ("implement", "reject", "pause", "resume", "show", "list", "status", "help")
        if Command(n).privileged
    } == {  # type: ignore[arg-type]
        "implement",
        "reject",
        "pause",
        "resume",
    }


def test_buttons_give_the_same_commands_as_words() -> None:
    assert button_command(APPROVE_ACTION, ID) == parse_mention(f"implement {ID}")
    assert button_command(REJECT_ACTION, ID) == parse_mention(f"reject {ID}")
    assert button_command("someone_elses_button", ID) is None
    assert button_command(APPROVE_ACTION, "fix_1; rm -rf /") is None
    assert button_command(APPROVE_ACTION, None) is None


def test_only_immutable_user_ids_count_as_approvers() -> None:
    valid, ignored = split_approvers(
        ["U012ABCDEF", " W0GRID42 ", "@alice", "alice", "", "u012abcdef", "B0BOTID"]
    )
    assert valid == frozenset({"U012ABCDEF", "W0GRID42"})
    assert ignored == ["@alice", "alice", "u012abcdef", "B0BOTID"]
    assert may_decide("U012ABCDEF", valid)
    assert not may_decide("U0OTHER", valid)
    assert not may_decide(None, valid)
    assert not may_decide("alice", frozenset({"alice"}))
    assert not may_decide("U012ABCDEF", frozenset())


def test_a_mention_is_answered_in_its_thread_or_starts_one() -> None:
    event = {"user": "U0ALICE", "channel": "C1", "ts": "2.0", "text": f"<@U0BOT> show {ID}"}
    command, origin = mention_request(event)
    assert command == Command("show", proposal_id=ID)
    assert origin == Origin(user="U0ALICE", channel="C1", thread_ts="2.0")
    _, in_thread = mention_request({**event, "thread_ts": "1.0"})
    assert (in_thread.thread_ts, in_thread.in_thread_of) == ("1.0", "1.0")


def test_a_button_press_answers_in_the_pressed_messages_thread() -> None:
    body = {"user": {"id": "U0ALICE"}, "container": {"channel_id": "C1", "message_ts": "1.0"}}
    action = {"action_id": REJECT_ACTION, "value": ID}
    command, origin = button_request(body, action) or (None, None)
    assert command == Command("reject", proposal_id=ID)
    assert origin == Origin(user="U0ALICE", channel="C1", thread_ts="1.0", button=True)
    assert button_request({"user": {"id": "U0ALICE"}}, action) is None  # no channel
    assert button_request(body, {"action_id": "other", "value": ID}) is None
