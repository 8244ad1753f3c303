"""Slack bot stage: the proposal's channel message, in each of its forms, and its ``show`` copy.

This module owns the message end to end: its words, its Block Kit layout (slack_sdk
models) and the shortening that keeps it inside Slack's limits (see
:mod:`bot.slack.block_kit`). While a decision can be taken, the blocks are, in order::

    header       severity emoji, id, severity, title (plain text, secrets masked)
    facts        risk, kind, where the diagnosis came from, when posted, seen again
    seen         what was seen: summary, count, time span
    sample       the newest log sample, its tail kept (when there is one)
    root cause   with the affected components
    change       the diff: one section in the channel message, up to eight for ``show``
    reasoning, risk (with the risky constructs the checks found), proof (the regression
    test that must fail before and pass after), notes
    decision     Approve (with a confirm dialog) and Reject, and the words that do the
                 same; or the status once approved or applying

Once decided and done with (applied, verified, regressed, reverted, rolled back, failed, rejected,
expired) the message shrinks to the header, the status, what was seen, the root cause and the facts
(with whether a test proves an applied fix); a regressed fix also gets a Revert button (with a
confirm dialog) and the words that do the same. The plain ``text`` fallback carries the id,
severity, title, status and, while proposed, "To approve: @mendbot implement fix_ID / To reject:
@mendbot reject fix_ID" (while regressed, "To revert: @mendbot revert fix_ID").

Untrusted text (log samples, the LM's words, file paths, error strings) goes through
:func:`bot.slack.mrkdwn.safe` before it is placed, in the blocks and in the ``text``
fallback alike (which Slack also reads as mrkdwn, and notifies from); the header is plain
text, made one printable line. Every section and context text is cut to Slack's limits
at the block that holds it. (:mod:`bot.slack.outbox` defuses the whole payload again when
it is sent.)
"""

from __future__ import annotations

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.slack.action_message import action_blocks
from bot.slack.block_kit import (
    CONTEXT_MAX,
    FALLBACK_MAX,
    HEADER_MAX,
    SECTION_MAX,
    SlackMessage,
    check_limits,
    clip,
    cut,
)
from bot.slack.buttons import decision_actions, decision_hint, revert_blocks, revert_hint
from bot.slack.mrkdwn import SEVERITY_EMOJI, actor, code_block, duration, escape, safe, when
from core.edits import unified_diff
from core.proposals import OPEN_STATUSES, FixProposal, ProposalStatus, proof_status
from core.redact import scrub_secrets
from core.text import one_line

#: Room for the heading and the "shortened" note around a code block in one section.
_SECTION_OVERHEAD = 400
#: Characters of the newest log sample shown in the proposal message.
SAMPLE_BUDGET = 1500
#: Sections the diff may fill: one in the proposal message, more for ``show``.
DIFF_SECTIONS_MESSAGE = 1
DIFF_SECTIONS_DETAIL = 8

STATUS_LABEL = {
    ProposalStatus.PROPOSED: ":hourglass_flowing_sand: waiting for a decision",
    ProposalStatus.APPROVED: ":white_check_mark: approved, about to apply",
    ProposalStatus.APPLYING: ":gear: applying",
    ProposalStatus.APPLIED: ":rocket: applied",
    ProposalStatus.ROLLED_BACK: ":leftwards_arrow_with_hook: rolled back",
    ProposalStatus.FAILED: ":warning: failed",
    ProposalStatus.REJECTED: ":no_entry_sign: rejected",
    ProposalStatus.EXPIRED: ":zzz: expired",
    ProposalStatus.AWAITING_MERGE: ":arrow_heading_up: pull request open, waiting for a merge",
    ProposalStatus.VERIFIED: ":white_check_mark: verified: the error stopped after the deploy",
    ProposalStatus.REGRESSED: ":chart_with_upwards_trend: regressed: see the thread",
    ProposalStatus.REVERTED: ":rewind: reverted",
    ProposalStatus.RESOLVED: ":white_check_mark: resolved before anyone acted",
}
NO_CHANGE = (
    "*No code change proposed*: this needs investigation by a person. Reject it to dismiss it."
)


def proposal_message(proposal: FixProposal, *, diff: str | None = None) -> SlackMessage:
    """The proposal's channel message in its current form.

    While ``proposed`` it shows everything with Approve/Reject buttons (Reject only when
    there is no change to apply); once approved or applying, the status instead of
    buttons; once final (applied, rolled back, failed, rejected, expired), a compact form
    with the status, what was seen and the root cause.

    Args:
        proposal: the proposal as stored now (its ``status`` decides the form).
        diff: the change as a unified diff; default: rendered from ``proposal.edits``.

    Returns:
        The message, already checked against Slack's limits.

    Raises:
        BlockLimitError: never for any input (a bug otherwise).
    """
    if proposal.status not in OPEN_STATUSES:
        blocks = _compact_blocks(proposal)
    else:
        blocks = _full_blocks(proposal, _diff(proposal, diff), DIFF_SECTIONS_MESSAGE)
        blocks += _decision_blocks(proposal)
    message = SlackMessage(text=_fallback(proposal), blocks=blocks)
    check_limits(message)
    return message


def detail_message(
    proposal: FixProposal, *, diff: str | None = None, with_buttons: bool = True
) -> SlackMessage:
    """The answer to ``show fix_ID``: the full proposal with more of the diff, and its status.

    Args:
        proposal: the proposal as stored now.
        diff: as for :func:`proposal_message`.
        with_buttons: False to show the words to decide instead of buttons (a copy whose
            buttons would not be removed once decided).

    Returns:
        The message, already checked against Slack's limits.

    Raises:
        BlockLimitError: never for any input (a bug otherwise).
    """
    blocks = _full_blocks(proposal, _diff(proposal, diff), DIFF_SECTIONS_DETAIL)
    blocks += _decision_blocks(proposal, with_buttons=with_buttons)
    message = SlackMessage(text=_fallback(proposal), blocks=blocks)
    check_limits(message)
    return message


# --- the two forms, top to bottom ------------------------------------------------------------


def _full_blocks(proposal: FixProposal, diff: str, diff_sections: int) -> list[Block]:
    blocks: list[Block] = [_header(proposal), _facts(proposal), _seen(proposal)]
    if proposal.anomaly.samples:
        blocks.append(_sample(proposal))
    blocks.append(_root_cause(proposal))
    blocks += _change(proposal, diff, diff_sections)
    blocks += action_blocks(proposal)
    blocks.append(_reasoning(proposal))
    blocks.append(_risk(proposal))
    if proposal.implementable:
        blocks.append(_context(safe(proof_status(proposal))))
    if proposal.notes:
        blocks.append(_context("Notes: " + "; ".join(safe(note) for note in proposal.notes)))
    return blocks


def _compact_blocks(proposal: FixProposal) -> list[Block]:
    blocks: list[Block] = [
        _header(proposal),
        _status(proposal),
        _seen(proposal),
        _root_cause(proposal),
        _facts(proposal),
    ]
    if proposal.status is ProposalStatus.REGRESSED:
        blocks += revert_blocks(proposal)
    return blocks


# --- the blocks, in the order they appear ----------------------------------------------------


def _header(proposal: FixProposal) -> HeaderBlock:
    """Severity emoji, id, severity and title (plain text, not mrkdwn)."""
    severity = proposal.anomaly.severity
    text = f"{SEVERITY_EMOJI[severity]} {proposal.id} · {severity.value}: {proposal.title}"
    shown = one_line(scrub_secrets(text), HEADER_MAX)
    return HeaderBlock(text=PlainTextObject(text=shown, emoji=True))


def _facts(proposal: FixProposal) -> ContextBlock:
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
        f"diagnosis: {escape(source)}, {_confidence(proposal)}",
        f"posted {when(proposal.created_at)}",
    ]
    if proposal.seen_again:
        parts.append(f"seen again {proposal.seen_again} time(s) since")
    return _context(" · ".join(parts))


def _confidence(proposal: FixProposal) -> str:
    """``confidence 80%``, or calibrated by the track record of fixes of the same kind:
    ``confidence 78% (fixes of this kind: 7 of 9 verified; stated 80%)``."""
    stated = proposal.diagnosis.confidence
    record = proposal.track_record
    if record is None:
        return f"confidence {stated:.0%}"
    return f"confidence {record.confidence:.0%} ({record.sentence()}; stated {stated:.0%})"


def _seen(proposal: FixProposal) -> SectionBlock:
    """What was seen: the summary, the count and the time span."""
    anomaly = proposal.anomaly
    span = (anomaly.last_seen - anomaly.first_seen).total_seconds()
    summary = safe((anomaly.summary or anomaly.template)[:1000])
    return _section(
        f"*What was seen*\n{summary}\n{anomaly.count} event(s) between "
        f"{when(anomaly.first_seen)} and {when(anomaly.last_seen)} ({duration(span)})"
    )


def _sample(proposal: FixProposal) -> SectionBlock:
    """The newest log sample, its tail kept (a traceback ends with the exception)."""
    samples = proposal.anomaly.samples
    sample = safe(samples[-1])
    shown = clip(sample, SAMPLE_BUDGET, keep="tail")
    title = f"*Sample* (newest of {len(samples)})" if len(samples) > 1 else "*Sample*"
    text = f"{title}\n{code_block(shown)}"
    lines, shown_lines = sample.count("\n") + 1, shown.count("\n") + 1
    if lines > 1 and shown_lines < lines:
        text += "\n" + _shortened(shown_lines, lines, "lines (the last ones)")
    elif len(shown) < len(sample):
        text += "\n" + _shortened(len(shown), len(sample), "characters")
    return _section(text)


def _root_cause(proposal: FixProposal) -> SectionBlock:
    """The root cause, with the affected components."""
    text = f"*Root cause*\n{safe(proposal.diagnosis.root_cause)}"
    if proposal.diagnosis.affected_components:
        parts = ", ".join(f"`{safe(c[:200])}`" for c in proposal.diagnosis.affected_components[:10])
        text += f"\nAffects: {parts}"
    return _section(text)


def _change(proposal: FixProposal, diff: str, sections: int) -> list[Block]:
    """The diff under a heading naming the files, in at most ``sections`` sections."""
    if not proposal.edits:
        return []
    files = sorted({edit.path for edit in proposal.edits})
    title = f"*Proposed change* ({', '.join(f'`{safe(one_line(f))}`' for f in files)})"
    title = cut(title, _SECTION_OVERHEAD // 2)
    lines = safe(diff).splitlines()
    chunks = _chunk_lines(lines, SECTION_MAX - _SECTION_OVERHEAD, sections)
    shown = sum(len(chunk) for chunk in chunks)
    blocks: list[Block] = []
    for index, chunk in enumerate(chunks):
        head = title + "\n" if index == 0 else ""
        tail = ""
        if index == len(chunks) - 1 and shown < len(lines):
            tail = "\n" + _shortened(shown, len(lines), "diff lines", proposal.id)
        blocks.append(_section(head + code_block("\n".join(chunk)) + tail))
    return blocks


def _chunk_lines(lines: list[str], budget: int, sections: int) -> list[list[str]]:
    """Consecutive runs of ``lines`` of at most ``budget`` characters, at most ``sections``."""
    chunks: list[list[str]] = [[]]
    used = 0
    for line in lines:
        line = cut(line, budget // 2)
        if used + len(line) + 1 > budget:
            if len(chunks) == sections:
                break
            chunks.append([])
            used = 0
        chunks[-1].append(line)
        used += len(line) + 1
    return [chunk for chunk in chunks if chunk] or [[]]


def _reasoning(proposal: FixProposal) -> SectionBlock:
    """Why the change fixes the root cause."""
    return _section(f"*Reasoning*\n{safe(proposal.reasoning or 'none given')}")


def _risk(proposal: FixProposal) -> SectionBlock:
    """Risk level, the risky constructs the checks found (they make it HIGH), and what
    could go wrong."""
    notes = safe(proposal.risk_notes) if proposal.risk_notes else "no notes"
    found = "".join(f"\n:warning: {safe(reason)}" for reason in proposal.risk_reasons)
    return _section(f"*Risk: {proposal.risk.value}*{found}\n{notes}")


def _status(proposal: FixProposal) -> SectionBlock:
    """The status, who decided and when, the commit, and why it failed (if it did)."""
    text = f"*Status:* {STATUS_LABEL[proposal.status]}"
    if proposal.decided_by and proposal.status is not ProposalStatus.EXPIRED:
        verb = "rejected" if proposal.status is ProposalStatus.REJECTED else "approved"
        text += f"\n{verb.capitalize()} by {actor(proposal.decided_by)}"
        if proposal.decided_at:
            text += f" {when(proposal.decided_at)}"
    if proposal.commit_sha:
        text += f"\nCommit `{escape(proposal.commit_sha[:12])}`"
    if proposal.status is ProposalStatus.APPLIED:
        text += f"\n{safe(proof_status(proposal))}"
    if proposal.error:
        text += f"\nReason: {safe(proposal.error[:1500])}"
    return _section(text)


def _decision_blocks(proposal: FixProposal, *, with_buttons: bool = True) -> list[Block]:
    """Buttons and the words while a decision can still be taken, else the status."""
    if proposal.status is not ProposalStatus.PROPOSED:
        return [_status(proposal)]
    hint = _context(decision_hint(proposal.id))
    if not with_buttons:
        return [_status(proposal), hint]
    blocks: list[Block] = [] if proposal.implementable else [_section(NO_CHANGE)]
    return [*blocks, decision_actions(proposal), hint]


def _fallback(proposal: FixProposal) -> str:
    """Plain ``text`` of the message (notifications, old clients)."""
    lines = [
        f"{proposal.id} ({proposal.anomaly.severity.value}): {safe(one_line(proposal.title))}",
        f"Status: {proposal.status.value.replace('_', ' ')}",
    ]
    if proposal.status is ProposalStatus.PROPOSED:
        lines.append(decision_hint(proposal.id))
    if proposal.status is ProposalStatus.REGRESSED:
        lines.append(revert_hint(proposal.id))
    return cut("\n".join(lines), FALLBACK_MAX)


# --- helpers ---------------------------------------------------------------------------------


def _shortened(shown: int, total: int, unit: str, proposal_id: str | None = None) -> str:
    """A note under a shortened diff or sample."""
    text = f"_Shortened: {shown:,} of {total:,} {unit} shown._"
    if proposal_id:
        text += f" _Say `@mendbot show {proposal_id}` for more._"
    return text


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=cut(text, SECTION_MAX)))


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=cut(text, CONTEXT_MAX))])


def _diff(proposal: FixProposal, diff: str | None) -> str:
    return diff if diff is not None else unified_diff(proposal.edits)
