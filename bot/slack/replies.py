"""Slack bot stage: the bot's answers to mentions and buttons, and its start-up warnings (pure).

Each function returns one whole message (mrkdwn) that :class:`bot.slack.app.SlackBot`
posts as it is: help, ``list``, ``status``, ``pause``/``resume``, the short replies to a
decision taken outside the proposal's thread, and the refusals (not an approver, no
approvers configured, a decision that cannot be taken). The answer to ``show`` is the
proposal itself (:func:`bot.slack.proposal_message.detail_message`). Text typed by people
or coming from the monitor passes through :func:`bot.slack.mrkdwn.safe`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.slack.mrkdwn import SEVERITY_EMOJI, actor, channel_link, duration, safe, when
from core.proposals import FixProposal
from core.text import one_line
from monitoring.status import MonitorStatus

HELP = """*mendbot* watches the service's logs and proposes fixes; nothing is applied without a yes.
• `@mendbot implement fix_ID`: apply a proposal (approvers only)
• `@mendbot reject fix_ID [reason]`: reject it (approvers only)
• `@mendbot revert fix_ID [reason]`: undo a pushed fix with `git revert` (approvers only)
• `@mendbot show fix_ID`: the proposal, its full change and its status
• `@mendbot list`: open and recent proposals
• `@mendbot status`: monitoring, last cycle, log source health
• `@mendbot pause` / `@mendbot resume`: stop or restart monitoring (approvers only)
• `@mendbot resume <target>`: automatic actions on a target again after 3 failures (approvers)
• `@mendbot resume fix proposals for <fingerprint>`: fixes proposed again after 3 failed (approvers)
• `@mendbot stats`: how well each action and each kind of fix worked
• `@mendbot help`: this message"""

MONITOR_OFF = "Monitoring is off (no log source is configured), so there is nothing to pause."
PAUSED = ":double_vertical_bar: Monitoring paused by {who}. Say `@mendbot resume` to restart it."
ALREADY_PAUSED = "Monitoring was already paused."
RESUMED = ":arrow_forward: Monitoring resumed by {who}."
NOT_PAUSED = "Monitoring was not paused."

# --- answers ---------------------------------------------------------------------------------


def help_text(problem: str | None = None) -> str:
    """Help, preceded by what was not understood (if anything)."""
    return f"{safe(problem)}\n\n{HELP}" if problem else HELP


def proposal_list(proposals: Iterable[FixProposal]) -> str:
    """``list``: one line per proposal, in the order given (the store gives newest first)."""
    lines = [
        f"• `{p.id}` {SEVERITY_EMOJI[p.anomaly.severity]} {safe(one_line(p.title, 120))} "
        f"— {p.status.value.replace('_', ' ')}"
        for p in proposals
    ]
    if not lines:
        return "No proposals yet."
    return "*Proposals* (newest first)\n" + "\n".join(lines)


def monitor_status(status: MonitorStatus | None, counts: dict[str, int]) -> str:
    """``status``: the monitor's state, its last cycle, source health, proposal counts.

    Args:
        status: the monitor's status; None when no monitor runs (monitoring is off).
        counts: proposals per status value (``{"applied": 2, ...}``), shown sorted by name.
    """
    lines = ["*mendbot status*"]
    if status is None or not status.enabled:
        lines.append("Monitoring is off: no log source is configured. Decisions still work.")
    else:
        lines += _monitoring_lines(status)
    if counts:
        lines.append(
            "Proposals: "
            + ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in sorted(counts.items()))
        )
    return "\n".join(lines)


def _monitoring_lines(status: MonitorStatus) -> list[str]:
    state = ":double_vertical_bar: paused" if status.paused else ":arrow_forward: running"
    health = ":white_check_mark: healthy" if status.source_healthy else ":x: unhealthy"
    detail = f" ({safe(status.source_detail[:300])})" if status.source_detail else ""
    lines = [
        f"Monitoring: {state}, every {duration(status.interval_seconds)}",
        f"Log source `{safe(status.source)}`: {health}{detail}",
    ]
    if status.last_cycle_at:
        lines.append(
            f"Last cycle {when(status.last_cycle_at)}: "
            f"{safe(status.last_cycle_summary or 'no summary')} "
            f"({status.cycles} since start)"
        )
    else:
        lines.append("No cycle has run yet.")
    if status.next_cycle_at and not status.paused:
        lines.append(f"Next cycle {when(status.next_cycle_at)}")
    return lines


def monitor_switched(*, pausing: bool, changed: bool, user: str | None) -> str:
    """``pause``/``resume`` with a monitor running: who switched it, or that nothing changed.

    Args:
        pausing: True for ``pause``, False for ``resume``.
        changed: False when monitoring was already in the asked state.
        user: the requester's Slack user id (shown as a mention).
    """
    if pausing:
        return PAUSED.format(who=actor(user)) if changed else ALREADY_PAUSED
    return RESUMED.format(who=actor(user)) if changed else NOT_PAUSED


def approved_reply(proposal_id: str) -> str:
    """Reply to an approver's ``implement`` outside the proposal's thread."""
    return f":white_check_mark: Approved {proposal_id}; applying it now. Progress is in its thread."


def reverting_reply(proposal_id: str) -> str:
    """Reply to an approver's ``revert`` outside the proposal's thread."""
    return f":rewind: Reverting {proposal_id}; progress is in its thread."


def rejected_reply(proposal_id: str) -> str:
    """Reply to an approver's ``reject`` outside the proposal's thread."""
    return f":no_entry_sign: Rejected {proposal_id}."


def not_found(proposal_id: str) -> str:
    """``show`` of an unknown id."""
    return f"There is no proposal {proposal_id}. Say `@mendbot list` to see them."


# --- refusals (ephemeral) ----------------------------------------------------------------------


def not_approver(command: str) -> str:
    """Ephemeral refusal for someone not in ``SLACK_APPROVERS``."""
    return (
        f":lock: Only approvers may `{command}`. Your Slack user id is not in "
        "SLACK_APPROVERS; ask an approver, or an admin to add you. (Recorded.)"
    )


def no_approvers_configured(command: str) -> str:
    """Ephemeral refusal while ``SLACK_APPROVERS`` is empty."""
    return (
        f":lock: Nobody may `{command}`: SLACK_APPROVERS is not set. "
        "An admin must list the Slack user ids (U…) allowed to decide. (Recorded.)"
    )


def wrong_channel(channels: Sequence[str]) -> str:
    """Ephemeral answer to a mention outside the command channels (ids, shown as links)."""
    where = ", ".join(channel_link(c) for c in channels) or "no channel (none is configured)"
    return f":no_entry: mendbot takes commands in {where} only; nothing was done here. (Recorded.)"


def button_mismatch(proposal_id: str) -> str:
    """Ephemeral answer to a button whose value is not the proposal of its message."""
    return (
        f":no_entry: This button does not belong to {safe(proposal_id)}'s message; "
        "nothing was done. Use the buttons on the proposal's own message. (Recorded.)"
    )


def refused(reason: str) -> str:
    """Ephemeral answer when a decision cannot be taken (already decided, expired...)."""
    return f":raised_hand: {safe(reason)}"


def internal_error() -> str:
    """Something broke while handling a request (details are in the bot's log)."""
    return ":boom: Something went wrong on my side; the details are in mendbot's log."


# --- start-up ----------------------------------------------------------------------------------


def no_approvers_warning() -> str:
    """Start-up warning when ``SLACK_APPROVERS`` is unset (printed by ``mendbot run``)."""
    return (
        "SLACK_APPROVERS unset: nobody may decide. Proposals will be posted, but every "
        "implement, reject, pause and resume will be refused until SLACK_APPROVERS lists "
        "the Slack user ids (U…) allowed to decide."
    )


def invalid_approvers_warning(entries: Sequence[str]) -> str:
    """Start-up warning for ``SLACK_APPROVERS`` entries that are not Slack user ids."""
    listed = ", ".join(repr(e) for e in entries)
    return (
        f"SLACK_APPROVERS entries ignored (not Slack user ids like U012ABCDEF): {listed}. "
        "Use the member id from the person's Slack profile, never a display name."
    )
