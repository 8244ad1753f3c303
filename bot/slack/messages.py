"""Slack bot stage: every user-facing Slack text (mrkdwn), in one place.

Texts that carry untrusted content (log samples, reasons typed by people, command output)
pass it through :func:`escape` (Slack's ``&``, ``<``, ``>`` entities, which also defuses
``<!channel>`` broadcasts and fake links) and, inside code blocks, :func:`code_block`
(which also breaks any ````` that would end the block early). Secrets are masked again
with :func:`core.redact.scrub_secrets` before anything leaves for Slack.

Nothing here talks to Slack; :mod:`bot.slack.blocks` and :mod:`bot.slack.app` call these.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from core.models import Severity
from core.notifier import ProposalEvent
from core.proposals import FixProposal, ProposalStatus
from core.redact import scrub_secrets
from monitoring.status import MonitorStatus

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_BROKEN_FENCE = "`\u200b`\u200b`"

SEVERITY_EMOJI = {
    Severity.LOW: ":large_blue_circle:",
    Severity.MEDIUM: ":large_yellow_circle:",
    Severity.HIGH: ":large_orange_circle:",
    Severity.CRITICAL: ":red_circle:",
}

STATUS_LABEL = {
    ProposalStatus.PROPOSED: ":hourglass_flowing_sand: waiting for a decision",
    ProposalStatus.APPROVED: ":white_check_mark: approved, about to apply",
    ProposalStatus.APPLYING: ":gear: applying",
    ProposalStatus.APPLIED: ":rocket: applied",
    ProposalStatus.ROLLED_BACK: ":leftwards_arrow_with_hook: rolled back",
    ProposalStatus.FAILED: ":warning: failed",
    ProposalStatus.REJECTED: ":no_entry_sign: rejected",
    ProposalStatus.EXPIRED: ":zzz: expired",
}

# --- formatting helpers --------------------------------------------------------------------


def escape(text: str) -> str:
    """Escape Slack's control characters (``&``, ``<``, ``>``) in untrusted text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """Undo Slack's entity escaping in text received from Slack (mention text)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def safe(text: str) -> str:
    """Untrusted text made fit for mrkdwn: secrets masked, escaped, code fences broken."""
    return escape(scrub_secrets(text)).replace("```", _BROKEN_FENCE)


def code_block(text: str) -> str:
    """``text`` (already :func:`safe`, so it holds no fence) inside a ````` block."""
    body = text or " "
    if body.endswith("`"):
        body += "\u200b"
    return f"```{body}```"


def actor(name: str | None) -> str:
    """A Slack mention for a user id (``<@U123>``), else the actor's name escaped."""
    if not name:
        return "someone"
    if _USER_ID.match(name):
        return f"<@{name}>"
    return f"`{escape(name)}`"


def when(moment: datetime) -> str:
    """A Slack date token shown in the reader's time zone, with a UTC fallback."""
    utc = moment.astimezone(UTC)
    fallback = utc.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(utc.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3.5 h`` or ``2.0 d``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h".replace(".0 h", " h")
    return f"{seconds / 86400:.1f} d"


# --- the proposal message ------------------------------------------------------------------


def proposal_header(proposal: FixProposal) -> str:
    """Header line: severity emoji, id, severity and title (plain text, not mrkdwn)."""
    severity = proposal.anomaly.severity
    return f"{SEVERITY_EMOJI[severity]} {proposal.id} · {severity.value}: {proposal.title}"


def decision_hint(proposal_id: str) -> str:
    """The words that do what the buttons do (also the notification fallback)."""
    return (
        f"To approve: @mendbot implement {proposal_id} / To reject: @mendbot reject {proposal_id}"
    )


def proposal_fallback(proposal: FixProposal) -> str:
    """Plain ``text`` of the proposal message (notifications, old clients)."""
    lines = [
        f"{proposal.id} ({proposal.anomaly.severity.value}): {scrub_secrets(proposal.title)}",
        f"Status: {proposal.status.value.replace('_', ' ')}",
    ]
    if proposal.status is ProposalStatus.PROPOSED:
        lines.append(decision_hint(proposal.id))
    return "\n".join(lines)


def facts_line(proposal: FixProposal) -> str:
    """One context line: risk, kind, where the diagnosis came from, seen again."""
    diagnosis = proposal.diagnosis
    source = (
        f"LM {diagnosis.model}"
        if diagnosis.source == "lm" and diagnosis.model
        else diagnosis.source
    )
    parts = [
        f"Risk: *{proposal.risk.value}*",
        f"kind `{proposal.anomaly.kind}`",
        f"diagnosis: {escape(source)}, confidence {diagnosis.confidence:.0%}",
        f"posted {when(proposal.created_at)}",
    ]
    if proposal.seen_again:
        parts.append(f"seen again {proposal.seen_again} time(s) since")
    return " · ".join(parts)


def seen_text(proposal: FixProposal) -> str:
    """What was seen: the summary, the count and the time span."""
    anomaly = proposal.anomaly
    span = (anomaly.last_seen - anomaly.first_seen).total_seconds()
    summary = safe((anomaly.summary or anomaly.template)[:1000])
    return (
        f"*What was seen*\n{summary}\n{anomaly.count} event(s) between "
        f"{when(anomaly.first_seen)} and {when(anomaly.last_seen)} ({duration(span)})"
    )


def sample_title(total_samples: int) -> str:
    """Heading of the log sample."""
    return f"*Sample* (newest of {total_samples})" if total_samples > 1 else "*Sample*"


def root_cause_text(proposal: FixProposal) -> str:
    """Root cause section, with the affected components."""
    text = f"*Root cause*\n{safe(proposal.diagnosis.root_cause)}"
    if proposal.diagnosis.affected_components:
        parts = ", ".join(f"`{escape(c)}`" for c in proposal.diagnosis.affected_components[:10])
        text += f"\nAffects: {parts}"
    return text


def change_title(proposal: FixProposal) -> str:
    """Heading of the diff, naming the files."""
    files = sorted({edit.path for edit in proposal.edits})
    return f"*Proposed change* ({', '.join(f'`{escape(f)}`' for f in files)})"


NO_CHANGE = (
    "*No code change proposed*: this needs investigation by a person. Reject it to dismiss it."
)


def reasoning_text(proposal: FixProposal) -> str:
    """Why the change fixes the root cause."""
    return f"*Reasoning*\n{safe(proposal.reasoning or 'none given')}"


def risk_text(proposal: FixProposal) -> str:
    """Risk level and what could go wrong."""
    notes = safe(proposal.risk_notes) if proposal.risk_notes else "no notes"
    return f"*Risk: {proposal.risk.value}*\n{notes}"


def notes_text(notes: Sequence[str]) -> str:
    """Remarks from the checks (edits dropped and why)."""
    return "Notes: " + "; ".join(safe(note) for note in notes)


def shortened_note(shown: int, total: int, unit: str, proposal_id: str | None = None) -> str:
    """A note under a shortened diff or sample."""
    text = f"_Shortened: {shown:,} of {total:,} {unit} shown._"
    if proposal_id:
        text += f" _Say `@mendbot show {proposal_id}` for more._"
    return text


def status_text(proposal: FixProposal) -> str:
    """The parent message's status section once the buttons are gone."""
    text = f"*Status:* {STATUS_LABEL[proposal.status]}"
    if proposal.decided_by and proposal.status is not ProposalStatus.EXPIRED:
        verb = "rejected" if proposal.status is ProposalStatus.REJECTED else "approved"
        text += f"\n{verb.capitalize()} by {actor(proposal.decided_by)}"
        if proposal.decided_at:
            text += f" {when(proposal.decided_at)}"
    if proposal.commit_sha:
        text += f"\nCommit `{escape(proposal.commit_sha[:12])}`"
    if proposal.error:
        text += f"\nReason: {safe(proposal.error[:1500])}"
    return text


APPROVE_LABEL = "Approve"
REJECT_LABEL = "Reject"
CONFIRM_TITLE = "Apply this fix?"
CONFIRM_TEXT = (
    "mendbot will edit the repository, run the validation, then commit and push "
    "(the platform deploys on push). Any failure rolls it back."
)
CONFIRM_YES = "Apply"
CONFIRM_NO = "Cancel"

# --- thread events -------------------------------------------------------------------------


def event_text(proposal: FixProposal, event: ProposalEvent) -> str:
    """The thread message for one :class:`ProposalEvent` (see ``core.notifier.EventKind``)."""
    d = event.details
    who = actor(event.actor)
    texts = {
        "approved": lambda: f":white_check_mark: Approved by {who}. Applying it now.",
        "applying": lambda: (
            ":gear: Applying: files backed up, editing "
            f"{len({e.path for e in proposal.edits})} file(s)."
        ),
        "validation_passed": lambda: (
            ":test_tube: Validation passed" + _checks(d.get("checks")) + "."
        ),
        "validation_failed": lambda: (
            f":x: Validation failed ({_said(d.get('check', '?'))})" + _output(d.get("output"))
        ),
        "applied": lambda: _applied(d),
        "rolled_back": lambda: (
            ":leftwards_arrow_with_hook: Rolled back: "
            f"{_said(d.get('reason') or 'no reason given')}. "
            "Every file was restored; nothing was pushed."
        ),
        "failed": lambda: _failed(d),
        "rejected": lambda: (
            f":no_entry_sign: Rejected by {who}"
            + (f": {_said(d['reason'])}" if d.get("reason") else ".")
        ),
        "expired": lambda: (
            f":zzz: Expired: no decision within "
            f"{duration(float(d.get('ttl_seconds') or 0))}. "
            "It will be proposed again if the problem recurs."
        ),
        "seen_again": lambda: (
            f":eyes: Seen again: {d.get('count', '?')} more time(s)"
            + (f" ({d['total']} in all since posted)." if "total" in d else ".")
        ),
        "refused": lambda: f":raised_hand: Refused {who}: {_said(d.get('reason', ''))}",
    }
    return texts[event.kind]()


def _said(value: object, max_chars: int = 1500) -> str:
    """An untrusted detail value, cut to ``max_chars`` and made safe."""
    return safe(str(value)[:max_chars])


def _checks(checks: object) -> str:
    if isinstance(checks, list) and checks:
        return ": " + ", ".join(f"`{escape(str(c))}`" for c in checks[:10])
    return ""


def _output(output: object) -> str:
    if not output:
        return "."
    tail = safe(str(output)[-2500:])
    return ":\n" + code_block(tail)


def _applied(d: dict) -> str:
    sha = str(d.get("commit_sha") or "")
    text = ":rocket: Applied and pushed"
    if sha:
        commit = f"`{escape(sha[:12])}`"
        url = d.get("commit_url")
        text += f": commit <{escape(str(url))}|{commit}>" if url else f": commit {commit}"
    if d.get("branch"):
        text += f" on `{escape(str(d['branch']))}`"
    return text + ". The platform deploys it from there."


def _failed(d: dict) -> str:
    text = f":warning: Failed: {_said(d.get('reason') or 'no reason given')}."
    if d.get("kept_branch"):
        text += (
            f" The fix commit is kept on local branch `{escape(str(d['kept_branch']))}`"
            " (not pushed)."
        )
    return text


# --- replies to mentions and buttons --------------------------------------------------------

HELP = """*mendbot* watches the service's logs and proposes fixes; nothing is applied without a yes.
• `@mendbot implement fix_ID`: apply a proposal (approvers only)
• `@mendbot reject fix_ID [reason]`: reject it (approvers only)
• `@mendbot show fix_ID`: the proposal, its full change and its status
• `@mendbot list`: open and recent proposals
• `@mendbot status`: monitoring, last cycle, log source health
• `@mendbot pause` / `@mendbot resume`: stop or restart monitoring (approvers only)
• `@mendbot help`: this message"""


def help_text(problem: str | None = None) -> str:
    """Help, preceded by what was not understood (if anything)."""
    return f"{safe(problem)}\n\n{HELP}" if problem else HELP


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


def refused(reason: str) -> str:
    """Ephemeral answer when a decision cannot be taken (already decided, expired...)."""
    return f":raised_hand: {safe(reason)}"


def approved_reply(proposal_id: str) -> str:
    """Reply to an approver's ``implement`` outside the proposal's thread."""
    return f":white_check_mark: Approved {proposal_id}; applying it now. Progress is in its thread."


def rejected_reply(proposal_id: str) -> str:
    """Reply to an approver's ``reject`` outside the proposal's thread."""
    return f":no_entry_sign: Rejected {proposal_id}."


def not_found(proposal_id: str) -> str:
    """``show`` of an unknown id."""
    return f"There is no proposal {proposal_id}. Say `@mendbot list` to see them."


def internal_error() -> str:
    """Something broke while handling a request (details are in the bot's log)."""
    return ":boom: Something went wrong on my side; the details are in mendbot's log."


def proposal_list(proposals: Iterable[FixProposal]) -> str:
    """``list``: one line per proposal, newest first."""
    lines = [
        f"• `{p.id}` {SEVERITY_EMOJI[p.anomaly.severity]} {safe(p.title[:120])} "
        f"— {p.status.value.replace('_', ' ')}"
        for p in proposals
    ]
    if not lines:
        return "No proposals yet."
    return "*Proposals* (newest first)\n" + "\n".join(lines)


def monitor_status(status: MonitorStatus | None, counts: dict[str, int]) -> str:
    """``status``: the monitor's state, its last cycle, source health, proposal counts."""
    lines = ["*mendbot status*"]
    if status is None or not status.enabled:
        lines.append("Monitoring is off: no log source is configured. Decisions still work.")
    else:
        state = ":double_vertical_bar: paused" if status.paused else ":arrow_forward: running"
        health = ":white_check_mark: healthy" if status.source_healthy else ":x: unhealthy"
        lines.append(f"Monitoring: {state}, every {duration(status.interval_seconds)}")
        detail = f" ({safe(status.source_detail[:300])})" if status.source_detail else ""
        lines.append(f"Log source `{escape(status.source)}`: {health}{detail}")
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
    if counts:
        lines.append(
            "Proposals: "
            + ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in sorted(counts.items()))
        )
    return "\n".join(lines)


MONITOR_OFF = "Monitoring is off (no log source is configured), so there is nothing to pause."
PAUSED = ":double_vertical_bar: Monitoring paused by {who}. Say `@mendbot resume` to restart it."
ALREADY_PAUSED = "Monitoring was already paused."
RESUMED = ":arrow_forward: Monitoring resumed by {who}."
NOT_PAUSED = "Monitoring was not paused."

# --- start-up --------------------------------------------------------------------------------


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


# --- HTTP surface ----------------------------------------------------------------------------

HTTP_SLACK_OFF = "Slack is not configured on this instance (set SLACK_BOT_TOKEN)."
HTTP_NOT_FOUND = "not found"
HTTP_TOO_LARGE = "request body too large"
HTTP_HEALTH_FAILED = "health check failed"
