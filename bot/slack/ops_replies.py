"""Slack bot stage: the answers about operational actions: ``stats``, ``resume <target>``."""

from __future__ import annotations

from collections.abc import Sequence

from bot.slack.mrkdwn import actor, duration, escape
from fixes.actions.runs import ActionStats


def stats_text(stats: Sequence[ActionStats]) -> str:
    """``stats``: one line per action kind and anomaly kind: success rate and counts."""
    if not stats:
        return "No operational action has finished yet, so there are no outcomes to show."
    lines = ["*What each action achieved* (cleared = the signal cleared in time)"]
    for s in stats:
        median = (
            f", cleared in {duration(s.median_seconds_to_clear)} (median)"
            if s.median_seconds_to_clear is not None
            else ""
        )
        lines.append(
            f"• `{escape(s.action_kind)}` on `{escape(s.anomaly_kind)}`: "
            f"{s.success_rate:.0%} of {s.total - s.refused} "
            f"({s.cleared} cleared, {s.not_cleared} not cleared, {s.failed} failed, "
            f"{s.refused} refused){median}"
        )
    return "\n".join(lines)


def breaker_resumed(target: str, *, changed: bool, user: str | None) -> str:
    """``resume <target>``: the breaker closed, or it was not open."""
    if changed:
        return (
            f":arrow_forward: {actor(user)} closed the breaker on `{escape(target)}`: automatic "
            "actions there may run again."
        )
    return f"The breaker on `{escape(target)}` was not open; automatic actions there may run."
