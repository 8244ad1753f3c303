"""Slack bot stage: the reply in a proposal's thread for each of its events (pure).

One reply per :class:`core.notifier.ProposalEvent` (approved, applying, validation,
applied, rolled back, failed, rejected, expired, seen again, refused; a pull request
opened, merged or closed; after the push: the deploy live, failed or not seen, verified,
regressed, probably caused; reverting, reverted, revert failed), in words of this module's
own; :class:`bot.slack.notifier.SlackNotifier` posts them and re-renders the channel
message (:mod:`bot.slack.proposal_message`) to the new status. Detail values come from the
pipeline and from people, so each passes through :func:`bot.slack.mrkdwn.safe`; a reply is
kept under 3,000 characters.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.slack.action_message import action_event_text
from bot.slack.block_kit import FALLBACK_MAX, clip
from bot.slack.mrkdwn import actor, code_block, duration, escape, safe, when
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
    d, who = event.details, actor(event.actor)
    texts = _fix_texts(proposal, d, who) | _signal_texts(d, who)
    texts.update(_after_the_push(proposal, d, who))
    return texts[event.kind]()


def _fix_texts(proposal: FixProposal, d: dict[str, Any], who: str) -> dict[str, Callable[[], str]]:
    """A code fix's way to ``applied`` (or not): the reply per event kind."""
    texts: dict[str, Callable[[], str]] = {
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
    }
    return texts


def _signal_texts(d: dict[str, Any], who: str) -> dict[str, Callable[[], str]]:
    """Pull requests and signals' actions: the reply per event kind."""
    return {
        "refused": lambda: f":raised_hand: Refused {who}: {_said(d.get('reason', ''))}",
        "pull_request_opened": lambda: _pull_request_opened(d),
        "pull_request_merged": lambda: _pull_request_merged(d),
        "pull_request_closed": lambda: _pull_request_closed(d),
        "resolved": lambda: _resolved(d),
        "not_cleared": lambda: (
            ":rotating_light: The action ran but the signal did not clear within "
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


def _after_the_push(
    proposal: FixProposal, d: dict[str, Any], who: str
) -> dict[str, Callable[[], str]]:
    """The words for what happens once a fix is pushed: its deploy, its verdict, a revert."""
    return {
        "deploy_live": lambda: (
            f":satellite: Deploy {_sha(d)} is live{_deployment(d)}"
            f"{_at(d.get('live_at'))}. Watching for this problem for "
            f"{duration(float(d.get('window_seconds') or 0))} of log time."
        ),
        "deploy_failed": lambda: (
            f":x: The deploy of {_sha(d)} {_said(d.get('deploy_status') or 'failed').lower()}"
            f"{_deployment(d)}: the fix is not serving. "
            + _revert_offer(proposal, "Undo the commit")
        ),
        "deploy_lost": lambda: (
            f":grey_question: No deployment of {_sha(d)} seen within "
            f"{duration(float(d.get('waited_seconds') or 0))}; it is not being verified."
        ),
        "verified": lambda: _verified(proposal, d),
        "regressed": lambda: _regressed(proposal, d),
        "probably_caused": lambda: (
            f":warning: A new error first seen after deploy {_sha(d)} went live, at "
            f"`{_said(d.get('frame') or '?', 300)}` in the lines this fix changed: probably "
            f"caused by it. {_said(d.get('summary') or '', 500)} "
            + _revert_offer(proposal, "To undo the fix")
        ),
        "reverting": lambda: (
            f":rewind: Reverting commit `{escape(str(d.get('fix_commit') or '')[:12])}` "
            f"for {who}: files backed up, {len(d.get('files') or [])} file(s) to restore."
        ),
        "reverted": lambda: _reverted(d, who),
        "revert_failed": lambda: (
            ":warning: "
            + ("Automatic revert" if d.get("automatic") else "Revert")
            + f" failed: {_said(d.get('reason') or 'no reason given')}."
            + (
                f" The revert commit is kept on local branch `{escape(str(d['kept_branch']))}`."
                if d.get("kept_branch")
                else ""
            )
        ),
    }


def _said(value: object, max_chars: int = 1500) -> str:
    """An untrusted detail value, cut to ``max_chars`` and made safe."""
    return safe(str(value)[:max_chars])


def _checks(checks: object) -> str:
    if isinstance(checks, list) and checks:
        return ": " + ", ".join(f"`{_said(c, 200)}`" for c in checks[:10])
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
        text += f" on `{_said(d['branch'], 200)}`"
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


def _sha(d: dict[str, Any]) -> str:
    return f"`{escape(str(d.get('commit_sha') or '?')[:12])}`"


def _deployment(d: dict[str, Any]) -> str:
    deploy = d.get("deploy_id")
    return f" (deployment `{escape(str(deploy))}`)" if deploy else ""


def _at(moment: object) -> str:
    return f" since {when(moment)}" if isinstance(moment, datetime) else ""


def _revert_offer(proposal: FixProposal, lead: str) -> str:
    return f"{lead}: the Revert button, or `@mendbot revert {proposal.id}`."


def _window(d: dict[str, Any]) -> str:
    return duration(float(d.get("window_seconds") or 0))


def _verified(proposal: FixProposal, d: dict[str, Any]) -> str:
    text = (
        f":white_check_mark: verified: 0 occurrences in {_window(d)} after deploy "
        f"{_sha(d)} went live ({d.get('count_before', '?')} before the fix)."
    )
    caused = d.get("caused") or []
    if caused:
        text += (
            f" But {len(caused)} new error(s) probably caused by it (above); "
            f"to undo it: `@mendbot revert {proposal.id}`."
        )
    return text


def _regressed(proposal: FixProposal, d: dict[str, Any]) -> str:
    return (
        f":chart_with_upwards_trend: regressed: still {d.get('count_after', '?')} "
        f"occurrence(s) in {_window(d)} after deploy {_sha(d)} went live "
        f"({d.get('count_before', '?')} before the fix). " + _revert_offer(proposal, "To undo it")
    )


def _reverted(d: dict[str, Any], who: str) -> str:
    sha = str(d.get("revert_sha") or "")
    commit = f"`{escape(sha[:12])}`" if sha else "a revert commit"
    url = d.get("commit_url")
    if url and sha:
        commit = f"<{escape(str(url))}|{commit}>"
    if d.get("already"):
        return f":rewind: Reverted: the remote already had {commit} undoing this fix."
    how = "automatically" if d.get("automatic") else f"by {who}"
    why = f" ({_said(d['why'], 500)})" if d.get("why") else ""
    return f":rewind: Reverted {how}{why}: {commit} pushed. The platform deploys it from there."


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
            f" The fix commit is kept on local branch `{_said(d['kept_branch'], 200)}`"
            " (not pushed)."
        )
    return text


_WEB_URL = re.compile(r"^https?://[^\s|<>]+$")


def _pull_request(d: dict[str, Any]) -> tuple[str, str, str]:
    """``(link, branch, base)`` of the ``pull_request`` detail: ``<url|#12>`` (only an
    http(s) URL becomes a link), and the branch names set in code."""
    pr = _pr_facts(d)
    number = pr.get("number")
    name = f"#{number}" if isinstance(number, int) else "the pull request"
    url = str(pr.get("url") or "")
    link = f"<{escape(url)}|{name}>" if _WEB_URL.match(url) else name
    branch = f"`{escape(str(pr.get('branch') or d.get('branch') or '?'))}`"
    return link, branch, f"`{escape(str(pr.get('base') or '?'))}`"


def _pr_facts(d: dict[str, Any]) -> dict[str, Any]:
    facts = d.get("pull_request")
    return facts if isinstance(facts, dict) else {}


def _pull_request_opened(d: dict[str, Any]) -> str:
    link, branch, base = _pull_request(d)
    sha = str(d.get("commit_sha") or "")
    commit = f" (commit `{escape(sha[:12])}`)" if sha else ""
    return (
        f":arrow_heading_up: Validated and pushed to branch {branch}{commit}; pull request "
        f"{link} is open into {base}. The fix is applied when someone merges it; closing "
        "it rejects the fix."
    )


def _pull_request_merged(d: dict[str, Any]) -> str:
    link, _branch, base = _pull_request(d)
    sha = str(_pr_facts(d).get("merge_commit_sha") or "")
    commit = f": commit `{escape(sha[:12])}`" if sha else ""
    return (
        f":twisted_rightwards_arrows: Pull request {link} was merged into {base}{commit}. "
        "The platform deploys it from there."
    )


def _pull_request_closed(d: dict[str, Any]) -> str:
    link, branch, _base = _pull_request(d)
    return (
        f":no_entry_sign: Pull request {link} was closed without merging, so the fix is "
        f"rejected. Branch {branch} is left as it is."
    )
