"""Slack bot stage: the Notifier that shows proposals and their progress in a Slack channel.

A proposal becomes one channel message (``chat.postMessage``, built by
:mod:`bot.slack.proposal_message`); its handle ``"<channel id>:<ts>"`` is the proposal's
``thread_ref``. Every later event becomes a reply in that thread (words from
:mod:`bot.slack.thread_events`), and the parent message
is re-rendered (``chat.update``) to the proposal's current status, so buttons disappear as
soon as they cannot apply. Final outcomes are also broadcast to the channel. The new
proposals a cycle held over its cap are listed in one channel message
(:mod:`bot.slack.held_message`).

The Web API is reached through slack_sdk's ``WebClient`` at ``SLACK_API_URL`` when set
(see :func:`bot.slack.config.make_web_client`), and every message through a
:class:`~bot.slack.outbox.SlackOutbox`, which defuses the whole payload and paces posts to
the channel (one per second after a short burst; 429 ``Retry-After`` honoured).

Errors::

    SlackDeliveryError    a proposal could not be posted: Slack answered ``ok: false`` or
                          the Web API was unreachable (from :meth:`SlackNotifier.post_proposal`
                          only; events and alerts are logged and dropped, so a Slack outage
                          never stops a fix from finishing or rolling back)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from bot.slack.block_kit import FALLBACK_MAX, SlackMessage, clip
from bot.slack.held_message import held_message
from bot.slack.mrkdwn import safe
from bot.slack.outbox import ChatMethod, SlackOutbox
from bot.slack.proposal_message import proposal_message
from bot.slack.thread_events import event_text
from core.edits import unified_diff
from core.notifier import ProposalEvent
from core.proposals import FixProposal

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://slack.com/api/"
#: Event kinds after which the parent message is re-rendered (the others leave its
#: status unchanged).
REFRESHING_EVENTS = frozenset(
    {
        "approved",
        "applying",
        "applied",
        "rolled_back",
        "failed",
        "rejected",
        "expired",
        "seen_again",
        "pull_request_opened",
        "pull_request_merged",
        "pull_request_closed",
        "deploy_failed",
        "verified",
        "regressed",
        "reverted",
        "resolved",
    }
)
#: Event kinds also shown in the channel, not only in the thread.
BROADCAST_EVENTS = frozenset(
    {
        "applied",
        "rolled_back",
        "failed",
        "pull_request_opened",
        "pull_request_merged",
        "pull_request_closed",
        "deploy_failed",
        "verified",
        "regressed",
        "reverted",
        "not_cleared",
    }
)


class SlackDeliveryError(Exception):
    """A proposal could not be posted to Slack; ``str(e)`` says why (no token in it)."""


def api_base_url(url: str | None) -> str:
    """The Web API base URL in the form slack_sdk expects (``.../api/``).

    ``None`` means Slack itself; ``http://127.0.0.1:8080`` becomes
    ``http://127.0.0.1:8080/api/``; a URL already ending in ``/api`` only gains the slash.
    """
    if not url:
        return DEFAULT_API_URL
    base = url.rstrip("/")
    if not base.endswith("/api"):
        base += "/api"
    return base + "/"


def parse_thread_ref(thread_ref: str | None) -> tuple[str, str] | None:
    """``"C123:1700000000.000100"`` -> ``("C123", "1700000000.000100")``; None if not ours."""
    if not thread_ref or ":" not in thread_ref:
        return None
    channel, ts = thread_ref.split(":", 1)
    return (channel, ts) if channel and ts else None


class SlackNotifier:
    """``core.notifier.Notifier`` for a Slack channel.

    Args:
        client: the Web API client (see :func:`bot.slack.config.make_web_client`).
        channel: channel id or name that proposals go to (``SLACK_CHANNEL``).
        repo_root: the service's checkout, so diffs carry real line numbers (optional).
        outbox: how messages are sent; default: a :class:`~bot.slack.outbox.SlackOutbox`
            on ``client`` (the Slack app shares it, so one channel is paced as one).
        on_call: told ``(method, ok)`` after every Web API call (``/metrics``).
    """

    def __init__(
        self,
        *,
        client: WebClient,
        channel: str,
        repo_root: Path | None = None,
        outbox: SlackOutbox | None = None,
        on_call: Callable[[str, bool], None] | None = None,
    ) -> None:
        self.client = client
        self.channel = channel
        self.repo_root = repo_root
        self.outbox = outbox or SlackOutbox(client=client)
        self.on_call = on_call

    def message_for(self, proposal: FixProposal) -> SlackMessage:
        """The proposal's message in its current form (with the diff against the checkout)."""
        return proposal_message(proposal, diff=self.diff_for(proposal))

    def diff_for(self, proposal: FixProposal) -> str:
        """The proposal's change as a unified diff (real line numbers when possible)."""
        return unified_diff(proposal.edits, repo_root=self.repo_root)

    def post_proposal(self, proposal: FixProposal) -> str:
        """Post the proposal to the channel.

        Returns:
            ``"<channel id>:<ts>"``, the handle for its thread.

        Raises:
            SlackDeliveryError: Slack refused the message or could not be reached.
        """
        payload = self.message_for(proposal).payload()
        try:
            response = self.outbox.send("chat_postMessage", channel=self.channel, **payload)
        except (SlackClientError, OSError) as error:
            self._count("chat_postMessage", ok=False)
            raise SlackDeliveryError(f"could not post {proposal.id}: {_why(error)}") from error
        self._count("chat_postMessage", ok=True)
        return f"{response['channel']}:{response['ts']}"

    def post_event(self, proposal: FixProposal, event: ProposalEvent) -> None:
        """Reply in the proposal's thread and re-render its message; never raises.

        A proposal never posted (no ``thread_ref``) gets its events as channel messages.
        """
        ref = parse_thread_ref(proposal.thread_ref)
        channel, thread_ts = ref if ref else (self.channel, None)
        self._call(
            "chat_postMessage",
            channel=channel,
            thread_ts=thread_ts,
            text=event_text(proposal, event, in_thread=thread_ts is not None),
            reply_broadcast=bool(thread_ts) and event.kind in BROADCAST_EVENTS,
        )
        if ref and event.kind in REFRESHING_EVENTS:
            self.refresh(proposal)

    def refresh(self, proposal: FixProposal) -> None:
        """Re-render the proposal's channel message to its current status; never raises."""
        ref = parse_thread_ref(proposal.thread_ref)
        if ref is None:
            return
        channel, ts = ref
        self._call("chat_update", channel=channel, ts=ts, **self.message_for(proposal).payload())

    def post_alert(self, text: str) -> None:
        """A channel notice (e.g. a log source is down); the text is masked and escaped."""
        self._call(
            "chat_postMessage",
            channel=self.channel,
            text=f":rotating_light: {clip(safe(text), FALLBACK_MAX)}",
        )

    def post_held(self, proposals: Sequence[FixProposal], *, cap: int) -> None:
        """One channel message listing a cycle's held proposals; never raises."""
        if proposals:
            self._call(
                "chat_postMessage",
                channel=self.channel,
                **held_message(proposals, cap=cap).payload(),
            )

    def _call(self, method: ChatMethod, **kwargs: object) -> None:
        try:
            self.outbox.send(method, **kwargs)
        except (SlackClientError, OSError) as error:
            self._count(method, ok=False)
            log.warning("Slack %s failed (message dropped): %s", method, _why(error))
        else:
            self._count(method, ok=True)

    def _count(self, method: str, *, ok: bool) -> None:
        if self.on_call is not None:
            self.on_call(method.replace("_", "."), ok)


def _why(error: Exception) -> str:
    """A short reason for a Web API failure: Slack's error code, or the connection error."""
    response = getattr(error, "response", None)
    if response is not None:
        try:
            return str(response["error"])
        except (KeyError, TypeError):
            return f"HTTP {getattr(response, 'status_code', '?')}"
    return type(error).__name__ + (f": {error}" if str(error) else "")
