"""Slack bot stage: the reply in a proposal's thread for each of its events (pure).

One reply per :class:`core.notifier.ProposalEvent` (approved, applying, validation,
applied, rolled back, failed, rejected, expired, seen again, refused), in words of this
module's own; :class:`bot.slack.notifier.SlackNotifier` posts them and re-renders the
channel message (:mod:`bot.slack.proposal_message`) to the new status. Detail values come
from the pipeline and from people, so each passes through :func:`bot.slack.mrkdwn.safe`;
a reply is kept under 3,000 characters.
"""

from __future__ import annotations

from typing import Any

from bot.slack.block_kit import FALLBACK_MAX, clip
from bot.slack.mrkdwn import actor, code_block, duration, escape, safe
from core.notifier import ProposalEvent
from core.proposals import FixProposal


def event_text(proposal: FixProposal, event: ProposalEvent, *, in_thread: bool = True) -> str:
    """The reply for one event, ready to post.

    Args:
        proposal: the proposal the event belongs to (as stored after the event).
        event: what happened; ``event.details`` keys per kind are listed at
            :data:`core.notifier.EventKind`.
        in_thread: False when the proposal has no thread (never posted): the reply then
            goes to the channel and starts with the proposal's id.

    Returns:
        Slack mrkdwn, at most 3,000 characters plus the id prefix.

    Raises:
        KeyError: ``event.kind`` is not an :data:`~core.notifier.EventKind` (only possible
            for an event built without validation).
    """
    text = clip(_words(proposal, event), FALLBACK_MAX)
    return text if in_thread else f"`{proposal.id}`: {text}"


def _words(proposal: FixProposal, event: ProposalEvent) -> str:
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


def _applied(d: dict[str, Any]) -> str:
    sha = str(d.get("commit_sha") or "")
    text = ":rocket: Applied and pushed"
    if sha:
        commit = f"`{escape(sha[:12])}`"
        url = d.get("commit_url")
        text += f": commit <{escape(str(url))}|{commit}>" if url else f": commit {commit}"
    if d.get("branch"):
        text += f" on `{escape(str(d['branch']))}`"
    text += ". The platform deploys it from there."
    if d.get("proven") is True:
        text += (
            " :white_check_mark: Proven by a test that failed before the fix and passes after it."
        )
    elif d.get("proven") is False:
        text += " No proof: the regression test did not reproduce the failure, so it was left out."
    else:
        text += " No proof: the evidence did not show how to reach the failure, so no test."
    return text


def _failed(d: dict[str, Any]) -> str:
    text = f":warning: Failed: {_said(d.get('reason') or 'no reason given')}."
    if d.get("kept_branch"):
        text += (
            f" The fix commit is kept on local branch `{escape(str(d['kept_branch']))}`"
            " (not pushed)."
        )
    return text
