"""Tests for bot.slack.block_kit: Slack's limits are enforced, shortening keeps entities whole."""

from __future__ import annotations

import pytest
from slack_sdk.models.blocks import MarkdownTextObject, SectionBlock

from bot.slack.block_kit import (
    MAX_BLOCKS,
    SECTION_MAX,
    BlockLimitError,
    SlackMessage,
    check_limits,
    clip,
)


def test_check_limits_refuses_what_slack_would_refuse() -> None:
    too_long = SlackMessage(
        text="t", blocks=[SectionBlock(text=MarkdownTextObject(text="x" * (SECTION_MAX + 1)))]
    )
    with pytest.raises(BlockLimitError, match="block 0"):
        check_limits(too_long)
    too_many = SlackMessage(
        text="t",
        blocks=[SectionBlock(text=MarkdownTextObject(text="x")) for _ in range(MAX_BLOCKS + 1)],
    )
    with pytest.raises(BlockLimitError, match="blocks"):
        check_limits(too_many)


def test_clip_keeps_whole_lines_and_never_splits_an_entity() -> None:
    text = "\n".join(f"line {i}" for i in range(100))
    assert clip(text, 30).splitlines() == ["line 0", "line 1", "line 2", "line 3"]
    assert clip(text, 30, keep="tail").splitlines()[-1] == "line 99"
    assert clip("a" * 9 + "&lt;b", 11) == "a" * 9
    assert clip("a&gt;" + "b" * 20, 22, keep="tail") == "b" * 20
