"""Slack bot stage: whether a request may be carried out: where it came from, what it acts on,
who asks (pure, given the proposals' stored threads).

:meth:`Gate.check` runs before any command, for mentions and buttons alike, and answers
with a :class:`Refusal` (its code goes to the audit trail as ``refused``, its words to the
requester as an ephemeral message) or None. In order:

1. a mention: ``wrong_channel`` outside the command channels (``SLACK_COMMAND_CHANNELS``,
   default the proposal channel ``SLACK_CHANNEL``): another channel, a DM, a group DM.
   Nothing is done there, ``show`` and ``list`` included (they would copy proposals,
   code and log samples into another audience).
2. a button: ``button_mismatch`` unless it acts on the proposal of the message it belongs
   to: its value names a proposal whose stored ``thread_ref`` (the ``"<channel>:<ts>"`` it
   was posted as) is the pressed message's channel and ``ts``. A forged or replayed
   payload naming another proposal, or a proposal never posted, is refused. (A button so
   bound is on a message mendbot posted, so it needs no channel check of its own.)
3. ``not_an_approver`` / ``no_approvers_configured``: implement, reject, pause and
   resume need an immutable user id listed in ``SLACK_APPROVERS`` (and
   :func:`startup_warnings` says at start when that list is empty or holds non-ids).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.slack import replies
from bot.slack.commands import Command, Origin, may_decide, split_approvers
from bot.slack.config import SlackConfig


def startup_warnings(config: SlackConfig) -> list[str]:
    """Lines ``mendbot run`` prints at start about who may decide (empty when all is well)."""
    valid, ignored = split_approvers(config.approvers)
    warnings = []
    if ignored:
        warnings.append(replies.invalid_approvers_warning(ignored))
    if not valid:
        warnings.append(replies.no_approvers_warning())
    return warnings


@dataclass(frozen=True)
class Refusal:
    """Why a request is not carried out.

    Attributes:
        code: ``wrong_channel``, ``button_mismatch``, ``not_an_approver`` or
            ``no_approvers_configured`` (the audit event's ``reason``).
        text: the ephemeral answer to the requester (mrkdwn).
        details: more facts for the audit event (JSON-serialisable).
    """

    code: str
    text: str
    details: dict[str, Any] = field(default_factory=dict)


class Gate:
    """Decides whether a request may go ahead (see the module docstring).

    Args:
        approvers: immutable user ids allowed to decide.
        command_channels: channel ids where mentions are taken (ids, not names: Slack's
            events carry ids; see :func:`bot.slack.config.resolve_channels`).
        thread_of: the stored ``thread_ref`` of a proposal, None when it was never posted
            or does not exist.
    """

    def __init__(
        self,
        *,
        approvers: frozenset[str],
        command_channels: frozenset[str],
        thread_of: Callable[[str], str | None],
    ) -> None:
        self.approvers = approvers
        self.command_channels = command_channels
        self.thread_of = thread_of

    def check(self, command: Command, origin: Origin) -> Refusal | None:
        """The refusal for this request, or None when it may be carried out."""
        if origin.button:
            refusal = self._button_refusal(command, origin)
            if refusal is not None:
                return refusal
        elif origin.channel not in self.command_channels:
            return Refusal(
                "wrong_channel",
                replies.wrong_channel(sorted(self.command_channels)),
                {"channel": origin.channel},
            )
        if command.privileged and not may_decide(origin.user, self.approvers):
            if self.approvers:
                return Refusal("not_an_approver", replies.not_approver(command.name))
            return Refusal("no_approvers_configured", replies.no_approvers_configured(command.name))
        return None

    def _button_refusal(self, command: Command, origin: Origin) -> Refusal | None:
        pressed = f"{origin.channel}:{origin.thread_ts}"
        stored = self.thread_of(str(command.proposal_id))
        if stored is not None and stored == pressed:
            return None
        return Refusal(
            "button_mismatch",
            replies.button_mismatch(str(command.proposal_id)),
            {"message": pressed, "proposal_message": stored},
        )
