"""Tests for bot.slack.mrkdwn: who is mentioned, and how durations read."""

from __future__ import annotations

import pytest

from bot.slack import mrkdwn


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
    assert mrkdwn.actor(actor) == shown


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
    assert mrkdwn.duration(seconds) == shown
