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

from bot.slack.action_message import action_event_text
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
    action_text = action_event_text(proposal, event)
    if action_text is not None:
        return action_text
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
        "resolved": lambda: _resolved(d),
        "not_cleared": lambda: (
            ":rotating_light: <!here> The action ran but the signal did not clear within "
            f"{duration(float(d.get('waited_seconds') or 0))}. A person needs to look."
        ),
        "action_queued": lambda: (
            ":hourglass: The platform's API does not answer "
            f"({_said(d.get('reason') or 'unreachable')}); the action is queued and retried "
            "with backoff. You will hear when it runs."
        ),
        "action_refused": lambda: (
            f":no_entry: Not acted on: {_said(d.get('reason') or 'refused')}."
        ),
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
    return text + ". The platform deploys it from there."


def _resolved(d: dict[str, Any]) -> str:
    what = "The alert resolved" if d.get("source") == "alert" else "The health check passes again"
    if "seconds" in d:
        return (
            f":white_check_mark: {what} {duration(float(d['seconds']))} after the action: verified."
        )
    return f":white_check_mark: {what}; closing this proposal."


def _failed(d: dict[str, Any]) -> str:
    text = f":warning: Failed: {_said(d.get('reason') or 'no reason given')}."
    if d.get("kept_branch"):
        text += (
            f" The fix commit is kept on local branch `{escape(str(d['kept_branch']))}`"
            " (not pushed)."
        )
    return text
