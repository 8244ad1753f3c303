"""Fixes workflow: the one error a decision raises, :class:`DecisionRefused`, and its codes.

Defined apart from :mod:`fixes.decisions` (which re-exports both names) so that the
modules a decision delegates to (:mod:`fixes.revert`) can raise it too.
"""

from __future__ import annotations

from typing import Literal

from core.proposals import ProposalStatus

RefusalCode = Literal[
    "not_found",
    "not_open",
    "expired",
    "not_implementable",
    "no_repository",
    "not_revertible",
    "cannot_revert",
    "busy",
    "not_allowed",
]


class DecisionRefused(Exception):
    """A decision that cannot be taken, with a reason fit to show the person.

    Attributes:
        proposal_id: the proposal concerned.
        code: one of :data:`RefusalCode` (what the caller may branch on).
        reason: a sentence for the person.
    """

    def __init__(self, proposal_id: str, code: RefusalCode, reason: str) -> None:
        super().__init__(reason)
        self.proposal_id = proposal_id
        self.code = code
        self.reason = reason


def not_open(proposal_id: str, current: ProposalStatus) -> DecisionRefused:
    """``not_open``: the proposal is already in ``current`` (someone decided first)."""
    state = current.value.replace("_", " ")
    return DecisionRefused(proposal_id, "not_open", f"{proposal_id} is already {state}")


def no_repository(proposal_id: str) -> DecisionRefused:
    """``no_repository``: no checkout is configured to apply or revert in."""
    return DecisionRefused(
        proposal_id, "no_repository", "no repository is configured (set TARGET_REPO_PATH)"
    )
