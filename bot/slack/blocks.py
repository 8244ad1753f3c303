"""Slack bot stage: the proposal message and its later forms as Block Kit models (pure).

Every message is built from ``slack_sdk.models.blocks`` classes and checked by
:func:`check_limits`, which runs the models' own validation (``validate_json``) plus the
limits slack_sdk does not check. Long input is shortened here, with a note saying so, so
a message never breaks a limit whatever the logs or the LM wrote. Slack's limits
(https://docs.slack.dev/reference/block-kit/blocks), in characters unless stated:

=========================  ======
header text                   150
section text                3,000
section field               2,000
context element text        2,000 (kept under it here)
button text / value        75 / 2,000
blocks per message             50
message ``text``           40,000 (the fallback is kept under 3,000 here)
=========================  ======

Errors::

    BlockLimitError (ValueError)   a built message breaks a limit: a bug in this module,
                                   never caused by input (input is shortened first)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.slack import messages as msg
from bot.slack.commands import APPROVE_ACTION, REJECT_ACTION
from core.edits import unified_diff
from core.proposals import FINAL_STATUSES, FixProposal, ProposalStatus
from core.redact import scrub_secrets

HEADER_MAX = 150
SECTION_MAX = 3000
FIELD_MAX = 2000
CONTEXT_MAX = 2000
MAX_BLOCKS = 50
TEXT_MAX = 40_000
FALLBACK_MAX = 3000
#: Room for the heading and the "shortened" note around a code block in one section.
_SECTION_OVERHEAD = 400
#: Characters of the newest log sample shown in the proposal message.
SAMPLE_BUDGET = 1500
#: Sections the diff may fill: one in the proposal message, more for ``show``.
DIFF_SECTIONS_MESSAGE = 1
DIFF_SECTIONS_DETAIL = 8


class BlockLimitError(ValueError):
    """A built message breaks one of Slack's limits (see the module docstring)."""


@dataclass(frozen=True)
class SlackMessage:
    """A message ready for ``chat.postMessage`` / ``chat.update``.

    Attributes:
        text: the plain fallback (notifications, screen readers, old clients).
        blocks: the Block Kit blocks, in order.
    """

    text: str
    blocks: list[Block] = field(default_factory=list)

    def payload(self) -> dict[str, Any]:
        """``{"text": ..., "blocks": [...]}`` as the Web API takes them (validated)."""
        return {"text": self.text, "blocks": [block.to_dict() for block in self.blocks]}


def proposal_message(proposal: FixProposal, *, diff: str | None = None) -> SlackMessage:
    """The proposal's channel message in its current form.

    While ``proposed`` it shows everything with Approve/Reject buttons (Reject only when
    there is no change to apply); once approved or applying, the status instead of
    buttons; once final (applied, rolled back, failed, rejected, expired), a compact form
    with the status, what was seen and the root cause.

    Args:
        proposal: the proposal as stored now (its ``status`` decides the form).
        diff: the change as a unified diff; default: rendered from ``proposal.edits``.

    Raises:
        BlockLimitError: never for any input (a bug otherwise).
    """
    if proposal.status in FINAL_STATUSES:
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

    Raises:
        BlockLimitError: never for any input (a bug otherwise).
    """
    blocks = _full_blocks(proposal, _diff(proposal, diff), DIFF_SECTIONS_DETAIL)
    blocks += _decision_blocks(proposal, with_buttons=with_buttons)
    message = SlackMessage(text=_fallback(proposal), blocks=blocks)
    check_limits(message)
    return message


def check_limits(message: SlackMessage) -> None:
    """Check a message against Slack's limits with the Block Kit models' own validation.

    Raises:
        BlockLimitError: which limit is broken, and by which block.
    """
    if len(message.blocks) > MAX_BLOCKS:
        raise BlockLimitError(f"{len(message.blocks)} blocks (limit {MAX_BLOCKS})")
    if len(message.text) > TEXT_MAX:
        raise BlockLimitError(f"text of {len(message.text)} characters (limit {TEXT_MAX})")
    for index, block in enumerate(message.blocks):
        try:
            block.validate_json()
        except SlackObjectFormationError as error:
            raise BlockLimitError(f"block {index} ({block.type}): {error}") from error
        _check_unvalidated(index, block)


def _check_unvalidated(index: int, block: Block) -> None:
    """Limits slack_sdk's models do not check themselves."""
    texts: list[str] = []
    limit = FIELD_MAX
    if isinstance(block, SectionBlock):
        texts = [f.text for f in block.fields or [] if hasattr(f, "text")]
    elif isinstance(block, ContextBlock):
        texts = [e.text for e in block.elements if hasattr(e, "text")]
        limit = CONTEXT_MAX
    for text in texts:
        if len(text) > limit:
            raise BlockLimitError(
                f"block {index} ({block.type}): a text of {len(text)} characters (limit {limit})"
            )


# --- building blocks ---------------------------------------------------------------------------


def _full_blocks(proposal: FixProposal, diff: str, diff_sections: int) -> list[Block]:
    blocks: list[Block] = [_header(proposal), _context(msg.facts_line(proposal))]
    blocks.append(_section(msg.seen_text(proposal)))
    if proposal.anomaly.samples:
        blocks.append(_sample_block(proposal))
    blocks.append(_section(msg.root_cause_text(proposal)))
    blocks += _change_blocks(proposal, diff, diff_sections)
    blocks.append(_section(msg.reasoning_text(proposal)))
    blocks.append(_section(msg.risk_text(proposal)))
    if proposal.notes:
        blocks.append(_context(msg.notes_text(proposal.notes)))
    return blocks


def _compact_blocks(proposal: FixProposal) -> list[Block]:
    return [
        _header(proposal),
        _section(msg.status_text(proposal)),
        _section(msg.seen_text(proposal)),
        _section(msg.root_cause_text(proposal)),
        _context(msg.facts_line(proposal)),
    ]


def _decision_blocks(proposal: FixProposal, *, with_buttons: bool = True) -> list[Block]:
    """Buttons while a decision can still be taken, else the status."""
    if proposal.status is not ProposalStatus.PROPOSED:
        return [_section(msg.status_text(proposal))]
    if not with_buttons:
        return [_section(msg.status_text(proposal)), _context(msg.decision_hint(proposal.id))]
    buttons: list[ButtonElement] = []
    if proposal.implementable:
        buttons.append(
            ButtonElement(
                text=msg.APPROVE_LABEL,
                action_id=APPROVE_ACTION,
                value=proposal.id,
                style="primary",
                confirm=ConfirmObject(
                    title=msg.CONFIRM_TITLE,
                    text=msg.CONFIRM_TEXT,
                    confirm=msg.CONFIRM_YES,
                    deny=msg.CONFIRM_NO,
                ),
            )
        )
    buttons.append(
        ButtonElement(
            text=msg.REJECT_LABEL, action_id=REJECT_ACTION, value=proposal.id, style="danger"
        )
    )
    blocks: list[Block] = [] if proposal.implementable else [_section(msg.NO_CHANGE)]
    blocks.append(ActionsBlock(block_id="mendbot_decision", elements=buttons))
    blocks.append(_context(msg.decision_hint(proposal.id)))
    return blocks


def _header(proposal: FixProposal) -> HeaderBlock:
    text = scrub_secrets(msg.proposal_header(proposal))
    return HeaderBlock(text=PlainTextObject(text=_cut(text, HEADER_MAX), emoji=True))


def _sample_block(proposal: FixProposal) -> SectionBlock:
    samples = proposal.anomaly.samples
    sample = msg.safe(samples[-1])
    shown = clip(sample, SAMPLE_BUDGET, keep="tail")
    text = f"{msg.sample_title(len(samples))}\n{msg.code_block(shown)}"
    lines, shown_lines = sample.count("\n") + 1, shown.count("\n") + 1
    if lines > 1 and shown_lines < lines:
        text += "\n" + msg.shortened_note(shown_lines, lines, "lines (the last ones)")
    elif len(shown) < len(sample):
        text += "\n" + msg.shortened_note(len(shown), len(sample), "characters")
    return _section(text)


def _change_blocks(proposal: FixProposal, diff: str, sections: int) -> list[Block]:
    if not proposal.edits:
        return []
    title = _cut(msg.change_title(proposal), _SECTION_OVERHEAD // 2)
    lines = msg.safe(diff).splitlines()
    budget = SECTION_MAX - _SECTION_OVERHEAD
    chunks = _chunk_lines(lines, budget, sections)
    shown = sum(len(chunk) for chunk in chunks)
    blocks: list[Block] = []
    for index, chunk in enumerate(chunks):
        text = "\n".join(chunk)
        head = title + "\n" if index == 0 else ""
        tail = ""
        if index == len(chunks) - 1 and shown < len(lines):
            tail = "\n" + msg.shortened_note(shown, len(lines), "diff lines", proposal.id)
        blocks.append(_section(head + msg.code_block(text) + tail))
    return blocks


def _chunk_lines(lines: list[str], budget: int, sections: int) -> list[list[str]]:
    """Consecutive runs of ``lines`` of at most ``budget`` characters, at most ``sections``."""
    chunks: list[list[str]] = [[]]
    used = 0
    for line in lines:
        line = _cut(line, budget // 2)
        if used + len(line) + 1 > budget:
            if len(chunks) == sections:
                break
            chunks.append([])
            used = 0
        chunks[-1].append(line)
        used += len(line) + 1
    return [chunk for chunk in chunks if chunk] or [[]]


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=_cut(text, SECTION_MAX)))


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=_cut(text, CONTEXT_MAX))])


def _fallback(proposal: FixProposal) -> str:
    return _cut(msg.proposal_fallback(proposal), FALLBACK_MAX)


def _diff(proposal: FixProposal, diff: str | None) -> str:
    return diff if diff is not None else unified_diff(proposal.edits)


# --- shortening ----------------------------------------------------------------------------------

_ENTITIES = ("&amp;", "&lt;", "&gt;")


def clip(text: str, max_chars: int, *, keep: Literal["head", "tail"] = "head") -> str:
    """Shorten ``text`` to at most ``max_chars``, keeping whole lines from the head or tail.

    A single line longer than the budget is cut by characters; a Slack entity
    (``&lt;``...) is never cut in half.
    """
    if len(text) <= max_chars:
        return text
    lines = text.splitlines()
    ordered = lines if keep == "head" else lines[::-1]
    kept: list[str] = []
    used = 0
    for line in ordered:
        if used + len(line) + 1 > max_chars:
            break
        kept.append(line)
        used += len(line) + 1
    if kept:
        return "\n".join(kept if keep == "head" else kept[::-1])
    piece = text[:max_chars] if keep == "head" else text[-max_chars:]
    return _trim_entity(piece, keep)


def _cut(text: str, max_chars: int) -> str:
    """``text`` cut to ``max_chars`` with an ellipsis, never inside an entity."""
    if len(text) <= max_chars:
        return text
    return _trim_entity(text[: max_chars - 1], "head") + "…"


def _trim_entity(piece: str, keep: Literal["head", "tail"]) -> str:
    for entity in _ENTITIES:
        for size in range(1, len(entity)):
            if keep == "head" and piece.endswith(entity[:size]):
                return piece[:-size]
            if keep == "tail" and piece.startswith(entity[size:]):
                return piece[len(entity) - size :]
    return piece
