"""Slack bot stage: the one message about a cycle's proposals that were stored, not posted.

When a cycle finds more new problems than ``MENDBOT_MAX_PROPOSALS_PER_CYCLE``, the most
severe are posted one by one and the rest are *held* (see :mod:`monitoring.pipeline`).
This module owns the single message that lists the held ones, so a person can still reach
each of them (``@mendbot show fix_ID``, ``implement``, ``reject``)::

    header     ":inbox_tray: 995 more new problems were stored, not posted"
    section    why (the cap), the count by severity, how to act on one
    sections   one line per proposal, most severe first: id, severity, events, title
               (up to :data:`LISTED` lines, as many sections as they need)
    context    how many more are not listed, and the command that lists every one

Titles come from logs and the LM: each passes through :func:`bot.slack.mrkdwn.safe`.
The message stays inside Slack's limits whatever the count (checked by
:func:`bot.slack.block_kit.check_limits`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.slack.block_kit import FALLBACK_MAX, SECTION_MAX, SlackMessage, check_limits, cut
from bot.slack.mrkdwn import SEVERITY_EMOJI, safe
from core.models import Severity
from core.proposals import FixProposal
from core.text import one_line

#: Held proposals listed one per line; the rest are counted.
LISTED = 60
#: Characters of a title in a listed line.
TITLE_CHARS = 90


def held_message(proposals: Sequence[FixProposal], *, cap: int) -> SlackMessage:
    """The summary of the held proposals of one cycle.

    Args:
        proposals: the held proposals, most severe first (as the pipeline orders them).
        cap: how many were posted this cycle (``MENDBOT_MAX_PROPOSALS_PER_CYCLE``).

    Returns:
        The message, already checked against Slack's limits.

    Raises:
        BlockLimitError: never for any input (a bug otherwise).
    """
    count = len(proposals)
    lines = [_line(p) for p in proposals[:LISTED]]
    blocks: list[Block] = [
        HeaderBlock(
            text=PlainTextObject(text=f"📥 {count:,} more new problems were stored, not posted")
        ),
        SectionBlock(text=MarkdownTextObject(text=_why(proposals, cap))),
    ]
    blocks += [SectionBlock(text=MarkdownTextObject(text=chunk)) for chunk in _chunks(lines)]
    if count > LISTED:
        more = (
            f"…and {count - LISTED:,} more. Every one: "
            f"`mendbot fixes list --status proposed --limit {count + cap}`"
        )
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=more)]))
    message = SlackMessage(text=_fallback(proposals, cap), blocks=blocks)
    check_limits(message)
    return message


def _why(proposals: Sequence[FixProposal], cap: int) -> str:
    counts = Counter(p.anomaly.severity for p in proposals)
    by_severity = ", ".join(
        f"{counts[s]:,} {s.value}" for s in sorted(counts, key=lambda s: -s.rank)
    )
    return (
        f"This cycle found more new problems than the {cap} posted one by one "
        f"(`MENDBOT_MAX_PROPOSALS_PER_CYCLE`, most severe first). The others are stored "
        f"and open: {by_severity}. Say `@mendbot show fix_ID` to see one, "
        "`@mendbot implement fix_ID` or `@mendbot reject fix_ID` to decide."
    )


def _line(proposal: FixProposal) -> str:
    anomaly = proposal.anomaly
    title = safe(one_line(proposal.title, TITLE_CHARS))
    return (
        f"• `{proposal.id}` {SEVERITY_EMOJI[anomaly.severity]} {anomaly.severity.value} · "
        f"{anomaly.count:,} event(s) · {title}"
    )


def _chunks(lines: list[str]) -> list[str]:
    """``lines`` joined into sections of at most :data:`SECTION_MAX` characters."""
    chunks: list[str] = []
    current: list[str] = []
    used = 0
    for line in lines:
        if current and used + len(line) + 1 > SECTION_MAX:
            chunks.append("\n".join(current))
            current, used = [], 0
        current.append(line)
        used += len(line) + 1
    if current:
        chunks.append("\n".join(current))
    return chunks


def _fallback(proposals: Sequence[FixProposal], cap: int) -> str:
    ids = ", ".join(p.id for p in proposals[:20])
    if len(proposals) > 20:
        ids += ", …"
    worst = max((p.anomaly.severity for p in proposals), key=lambda s: s.rank, default=Severity.LOW)
    return cut(
        f"{len(proposals):,} more new proposals stored, not posted (over the cap of {cap} a "
        f"cycle; the worst is {worst.value}): {ids}. Say @mendbot show fix_ID.",
        FALLBACK_MAX,
    )
