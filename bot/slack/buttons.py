"""Slack bot stage: the buttons of a proposal's message (Approve, Reject, Revert), their
confirm dialogs, and the words that do the same from a mention.

A button's ``value`` is the proposal id; ``bot.slack.gate`` checks that it matches the
message the button belongs to before anything is done.
"""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    MarkdownTextObject,
)

from bot.slack.block_kit import CONTEXT_MAX, cut
from bot.slack.commands import APPROVE_ACTION, REJECT_ACTION, REVERT_ACTION
from core.proposals import FixProposal


def decision_actions(proposal: FixProposal) -> ActionsBlock:
    """Approve (when there is something to apply; with a confirm dialog) and Reject."""
    buttons: list[ButtonElement] = []
    if proposal.implementable:
        buttons.append(
            ButtonElement(
                text="Approve",
                action_id=APPROVE_ACTION,
                value=proposal.id,
                style="primary",
                confirm=_confirm(proposal),
            )
        )
    buttons.append(
        ButtonElement(text="Reject", action_id=REJECT_ACTION, value=proposal.id, style="danger")
    )
    return ActionsBlock(block_id="mendbot_decision", elements=buttons)


def revert_blocks(proposal: FixProposal) -> list[Block]:
    """The Revert button (a confirm dialog first) and the words that do the same."""
    button = ButtonElement(
        text="Revert",
        action_id=REVERT_ACTION,
        value=proposal.id,
        style="danger",
        confirm=ConfirmObject(
            title="Revert this fix?",
            text="mendbot will git revert the fix commit, run the validation, then commit "
            "and push the revert (the platform deploys on push). Nothing is force-pushed.",
            confirm="Revert",
            deny="Cancel",
        ),
    )
    return [
        ActionsBlock(block_id="mendbot_revert", elements=[button]),
        ContextBlock(
            elements=[MarkdownTextObject(text=cut(revert_hint(proposal.id), CONTEXT_MAX))]
        ),
    ]


def revert_hint(proposal_id: str) -> str:
    return f"To revert: @mendbot revert {proposal_id}"


def _confirm(proposal: FixProposal) -> ConfirmObject:
    """The confirm dialog of Approve: what a yes will do."""
    if proposal.action is not None:
        return ConfirmObject(
            title="Run this action?",
            text=f"mendbot will {proposal.action.describe()}, then watch the signal clear.",
            confirm="Run",
            deny="Cancel",
        )
    return ConfirmObject(
        title="Apply this fix?",
        text="mendbot will edit the repository, run the validation, then commit "
        "and push (the platform deploys on push). Any failure rolls it back.",
        confirm="Apply",
        deny="Cancel",
    )


def decision_hint(proposal_id: str) -> str:
    """The words that do what the buttons do (also in the notification fallback)."""
    return (
        f"To approve: @mendbot implement {proposal_id} / To reject: @mendbot reject {proposal_id}"
    )
