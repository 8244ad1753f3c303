"""Slack bot stage: a message as Block Kit models, Slack's size limits, shortening to fit (pure).

Every message is built from ``slack_sdk.models.blocks`` classes and checked by
:func:`check_limits`, which runs the models' own validation (``validate_json``) plus the
limits slack_sdk does not check. Builders shorten long input first (:func:`clip`,
:func:`cut`), with a note saying so, so a message never breaks a limit whatever the logs
or the LM wrote. Slack's limits (https://docs.slack.dev/reference/block-kit/blocks), in
characters unless stated:

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

    BlockLimitError (ValueError)   a built message breaks a limit: a bug in its builder,
                                   never caused by input (input is shortened first)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block, ContextBlock, SectionBlock

HEADER_MAX = 150
SECTION_MAX = 3000
FIELD_MAX = 2000
CONTEXT_MAX = 2000
MAX_BLOCKS = 50
TEXT_MAX = 40_000
FALLBACK_MAX = 3000

_ENTITIES = ("&amp;", "&lt;", "&gt;")


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


def clip(text: str, max_chars: int, *, keep: Literal["head", "tail"] = "head") -> str:
    """Shorten ``text`` to at most ``max_chars``, keeping whole lines from the head or tail.

    A single line longer than the budget is cut by characters; a Slack entity
    (``&lt;``...) is never cut in half.

    Args:
        text: mrkdwn (already escaped).
        max_chars: the budget, in characters.
        keep: which end of ``text`` survives.

    Returns:
        ``text`` itself when it fits, else the kept lines joined by ``\\n`` (no marker).
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


def cut(text: str, max_chars: int) -> str:
    """``text`` cut to ``max_chars`` (ellipsis included), never inside an entity."""
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
