"""Slack bot stage: the answers about outcomes: ``stats``, ``resume <target>``, ``resume fix
proposals for <fingerprint>``."""

from __future__ import annotations

from collections.abc import Sequence

from bot.slack.mrkdwn import actor, duration, escape
from core.text import one_line
from fixes.actions.runs import ActionStats
from fixes.persistence.outcomes import OutcomeStats
from monitoring.fix_history import BreakerState, ResumeResult


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


def fix_stats_text(fixes: Sequence[OutcomeStats], open_breakers: Sequence[BreakerState]) -> str:
    """``stats``, code fixes: one line per diagnosis source and anomaly kind (verified of
    judged, and each outcome), then the fingerprints whose fix breaker is open."""
    if not fixes:
        return "No code fix has an outcome yet."
    lines = ["*What the fixes achieved* (verified of those judged after the deploy)"]
    for s in fixes:
        rate = f"{s.success_rate:.0%}" if s.success_rate is not None else "no verdict yet"
        counts = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(s.counts.items()))
        lines.append(
            f"• `{escape(s.key['source'])}` on `{escape(s.key['anomaly_kind'])}`: {rate}, "
            f"{s.verified} of {s.judged} verified ({escape(counts)})"
        )
        if s.rejected_reasons:
            reasons = "; ".join(
                f"{escape(one_line(r, 80)) or '(no reason)'} x{n}"
                for r, n in s.rejected_reasons.most_common(3)
            )
            lines.append(f"    rejected: {reasons}")
    for b in open_breakers:
        lines.append(
            f"• :no_entry: no fix proposals for `{escape(b.fingerprint)}` after "
            f"{len(b.failures)} failed fixes: `@mendbot resume fix proposals for "
            f"{escape(b.fingerprint)}`"
        )
    return "\n".join(lines)


def fix_breaker_resumed(fingerprint: str, result: ResumeResult, *, user: str | None) -> str:
    """``resume fix proposals for <fingerprint>``: closed, was not open, or never seen."""
    fp = escape(fingerprint)
    if result == "resumed":
        return (
            f":arrow_forward: {actor(user)} closed the fix breaker of `{fp}`: fixes for it "
            "will be proposed again."
        )
    if result == "not_open":
        return f"Fix proposals for `{fp}` were not stopped; nothing changed."
    return f"mendbot has never seen the fingerprint `{fp}`; nothing changed."
