"""Slack bot stage: what an operational action looks like in Slack (pure): its blocks in the
proposal message, and its thread replies.

A proposal with an action shows, in place of a diff: the action in words, its trust level
and runbook rule, Prometheus' figures around the incident, and the logs around its start.
Its thread tells the action's own story: acting on its own (trust ``auto``), running,
done and watching, queued while the platform is down, refused, verified (``resolved``)
or escalated (``not_cleared``). Every untrusted value (alert labels, log lines, error
strings) passes through :func:`bot.slack.mrkdwn.safe`.
"""

from __future__ import annotations

from slack_sdk.models.blocks import Block, MarkdownTextObject, SectionBlock

from bot.slack.block_kit import SECTION_MAX, cut
from bot.slack.mrkdwn import actor, duration, escape, safe
from core.notifier import ProposalEvent
from core.proposals import FixProposal

AUTO_ACTOR = "mendbot:auto"
TRUST_WORDS = {
    "auto": "trusted: mendbot acts on its own, then reports",
    "ask": "a person decides",
    "off": "switched off",
}


def action_blocks(proposal: FixProposal) -> list[Block]:
    """The action and the operational evidence, for the proposal message."""
    blocks: list[Block] = []
    action = proposal.action
    if action is not None:
        text = (
            f"*Proposed action*: {escape(action.describe())}\n"
            f"Trust level `{action.trust}` ({TRUST_WORDS[action.trust]})"
            + (f" · runbook rule `{escape(action.rule)}`" if action.rule else "")
        )
        blocks.append(_section(text))
    details = proposal.anomaly.details
    metrics = details.get("metrics") or {}
    if metrics:
        lines = [f"• {escape(str(k))}: {safe(str(v))}" for k, v in list(metrics.items())[:8]]
        blocks.append(_section("*Around the incident (Prometheus)*\n" + "\n".join(lines)))
    logs = [e for e in proposal.diagnosis.evidence if e.startswith("log ")]
    if logs:
        blocks.append(_section("*Logs around its start*\n" + "\n".join(safe(x) for x in logs[:5])))
    return blocks


def action_event_text(proposal: FixProposal, event: ProposalEvent) -> str | None:
    """The thread reply for an event of an action proposal, or None to use the fix's words."""
    if proposal.action is None:
        return None
    d = event.details
    what = escape(proposal.action.describe())
    if event.kind == "approved":
        if event.actor == AUTO_ACTOR:
            return f":robot_face: Acting on its own (trust level auto): {what}."
        return f":white_check_mark: Approved by {actor(event.actor)}. Acting now: {what}."
    if event.kind == "applying":
        return f":gear: Running: {what}."
    if event.kind == "applied":
        watch = float(d.get("watch_seconds") or 0)
        return (
            f":rocket: Done: {safe(str(d.get('action_detail') or what))}. "
            f"Watching for the signal to clear (up to {duration(watch)})."
        )
    if event.kind == "failed":
        return f":warning: The action failed: {safe(str(d.get('reason') or 'no reason given'))}."
    return None


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=cut(text, SECTION_MAX)))
