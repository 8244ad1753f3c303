"""Slack bot stage: the Bolt app: mentions, Approve/Reject/Revert buttons, who may decide.

How ``mendbot run`` composes it (the other pieces: :mod:`bot.http_server`,
:mod:`bot.slack.socket_mode`)::

    notifier = configured_notifier(settings)                  # bot.slack.config
    runtime = build_runtime(settings, notifier=notifier)      # Decisions post through it
    bot = SlackBot(config=slack_config(settings), runtime=runtime, monitor=monitor)
    server = serve_http(port=settings.port, slack=None if bot.socket_mode else bot,
                        health=health_fn).start()            # /slack/events and /health
    socket = start_socket_mode(bot) if bot.socket_mode else None
    ...
    bot.close()   # waits for a running apply to finish

Every request is acknowledged at once (Bolt answers HTTP 200, or the Socket Mode ack,
before the listener runs on its threads; buttons call ``ack()`` first). A listener checks
who asks, takes the decision with ``Decisions.approve`` / ``reject`` (fast, in the
listener) and hands ``Decisions.execute`` to the bot's one worker thread: one checkout, so
one apply at a time, and never inside Slack's 3 seconds. A revert is checked in the
listener and run by the same worker; a refusal found only then is told the same way.

Slack re-sends an event it thinks was slow (``X-Slack-Retry-Num``), possibly while the
first delivery still runs: each ``event_id`` is claimed once in the shared database
(``StateStore.claim_once``), and a second click or a retry that slips through is refused
by the decision's compare-and-set, so nothing is applied twice.

Before any command :class:`bot.slack.gate.Gate` checks where it came from (the command
channels), what it acts on (a button: its own message's proposal) and who asks (approvers
for implement, reject, revert, pause, resume); a refusal is ephemeral and audited ``refused``.

Errors::

    SlackBotError
    ├── SlackConfigError   the settings lack what Slack needs (token, channel, signing
    │                      secret for HTTP), or name a channel Slack does not show
    └── SlackStartError    ``auth.test`` failed at start (bad token, Slack unreachable)
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from slack_bolt import App
from slack_bolt.error import BoltError
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from bot.slack import replies
from bot.slack.commands import (
    BUTTONS,
    Command,
    Origin,
    button_request,
    mention_request,
    split_approvers,
)
from bot.slack.config import ChannelLookupError, SlackConfig, make_web_client, resolve_channels
from bot.slack.gate import Gate, Refusal
from bot.slack.gate import startup_warnings as startup_warnings  # where mendbot run finds it
from bot.slack.notifier import SlackNotifier
from bot.slack.outbox import SlackOutbox
from bot.slack.queries import Queries
from core.notifier import Notifier
from core.proposals import FixProposal, ProposalStatus
from fixes.decisions import DecisionRefused, Decisions
from fixes.persistence.state import StateStore
from fixes.persistence.store import ProposalNotFound, ProposalStore
from monitoring.fix_history import FixHistory
from monitoring.status import MonitorControl

log = logging.getLogger(__name__)

#: Prefix of the once-keys that dedupe Slack event deliveries.
EVENT_KEY_PREFIX = "slack:event:"


class SlackBotError(Exception):
    """Base of the errors raised while setting up the Slack app."""


class SlackConfigError(SlackBotError, ValueError):
    """The settings lack what Slack needs; ``str(e)`` names the variables."""


class SlackStartError(SlackBotError):
    """Slack refused the bot token or could not be reached at start."""


class BotRuntime(Protocol):
    """What the app needs from ``monitoring.runtime.Runtime``."""

    store: ProposalStore
    state: StateStore
    decisions: Decisions
    notifier: Notifier
    fix_history: FixHistory | None


class SlackBot:
    """The Slack side of mendbot: a Bolt ``App`` with mendbot's listeners.

    Args:
        config: needs ``SLACK_BOT_TOKEN``, ``SLACK_CHANNEL``, and ``SLACK_SIGNING_SECRET``
            unless ``SLACK_APP_TOKEN`` selects Socket Mode (see
            :func:`bot.slack.config.slack_config`).
        runtime: store, state, decisions and notifier (``monitoring.runtime.build_runtime``).
        monitor: the running monitor for ``status``/``pause``/``resume``; None = off.
        client: the Web API client; default: the Slack notifier's (and its outbox), else
            one from ``config``.

    Attributes:
        app: the Bolt app (for :func:`bot.http_server.serve_http` and Socket Mode).
        notifier: ``runtime.notifier``.
        client: the Web API client used for replies.
        socket_mode: True when ``SLACK_APP_TOKEN`` is set.

    Raises:
        SlackConfigError: a needed setting is missing, or a channel named in it cannot be
            found (the message says to give ids, or which scope to grant).
        SlackStartError: ``auth.test`` failed.
    """

    def __init__(
        self,
        *,
        config: SlackConfig,
        runtime: BotRuntime,
        monitor: MonitorControl | None = None,
        client: WebClient | None = None,
    ) -> None:
        _check_config(config)
        self.config = config
        self.store = runtime.store
        self.state = runtime.state
        self.decisions = runtime.decisions
        self.notifier = runtime.notifier
        self.fix_history = runtime.fix_history
        self.monitor = monitor
        self.approvers, _ignored = split_approvers(config.approvers)
        self.socket_mode = config.socket_mode
        self.outbox = _outbox(self.notifier, client, config)
        self.client = self.outbox.client
        self.app = _make_app(self.client, config.signing_secret)
        try:
            channels = resolve_channels(self.client, config.command_channel_entries)
        except ChannelLookupError as error:
            raise SlackConfigError(str(error)) from error
        self.gate = Gate(
            approvers=self.approvers, command_channels=channels, thread_of=self._thread_of
        )
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mendbot-apply")
        self.queries = Queries(
            store=self.store,
            decisions=self.decisions,
            notifier=self.notifier,
            fix_history=self.fix_history,
            monitor=monitor,
            post=self._post,
        )
        self.app.event("app_mention")(self._on_mention)
        for action_id in BUTTONS:
            self.app.action(action_id)(self._on_button)

    @property
    def verifies_signatures(self) -> bool:
        """True when HTTP requests are checked against ``SLACK_SIGNING_SECRET``."""
        return self.config.signing_secret is not None

    # --- lifecycle -----------------------------------------------------------------------------
    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every apply handed to the worker so far has finished (tests, shutdown).

        Returns:
            True when idle, False when ``timeout`` seconds passed first.
        """
        try:
            marker: Future[None] = self._worker.submit(lambda: None)
        except RuntimeError:  # already closed
            return True
        try:
            marker.result(timeout=timeout)
        except TimeoutError:
            return False
        return True

    def close(self, *, wait: bool = True) -> None:
        """Stop taking applies; with ``wait``, let a running apply finish first."""
        self._worker.shutdown(wait=wait)

    # --- listeners ---------------------------------------------------------------------------
    def _on_mention(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        event_id = body.get("event_id")
        if event_id and not self.state.claim_once(EVENT_KEY_PREFIX + str(event_id)):
            log.info("Slack event %s delivered again; already handled", event_id)
            return
        self.handle(*mention_request(event))

    def _on_button(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        request = button_request(body, action)
        if request is None:
            log.warning("ignored a malformed button press: %r", action.get("action_id"))
            return
        self.handle(*request)

    # --- commands ------------------------------------------------------------------------------
    def handle(self, command: Command, origin: Origin) -> None:
        """Carry out one command for ``origin.user`` (mentions and buttons both end here).

        Never raises: failures are logged and the requester gets a short ephemeral note.
        """
        refusal = self.gate.check(command, origin)
        if refusal is not None:
            self._refuse_request(command, origin, refusal)
            return
        handlers = {
            "implement": self._implement,
            "reject": self._reject,
            "revert": self._revert,
            **self.queries.handlers(),
        }
        try:
            handlers[command.name](command, origin)
        except Exception:
            log.exception("Slack command %s failed", command.name)
            self._ephemeral(origin, replies.internal_error())

    def _implement(self, command: Command, origin: Origin) -> None:
        proposal_id = str(command.proposal_id)
        try:
            approved = self.decisions.approve(proposal_id, actor=str(origin.user))
        except DecisionRefused as refusal:
            self._refuse(origin, command, refusal)
            return
        self._worker.submit(self._execute, proposal_id)
        if not self._answered_in_thread(approved, origin):
            self._reply(origin, replies.approved_reply(proposal_id))

    def _execute(self, proposal_id: str) -> None:
        try:
            self.decisions.execute(proposal_id)
        except DecisionRefused as refusal:
            log.info("not executing %s: %s", proposal_id, refusal.reason)
        except Exception:
            log.exception("executing %s failed", proposal_id)

    def _revert(self, command: Command, origin: Origin) -> None:
        proposal_id = str(command.proposal_id)
        try:
            proposal = self.decisions.check_revertible(proposal_id)
        except DecisionRefused as refusal:
            self._refuse(origin, command, refusal)
            return
        self._worker.submit(self._run_revert, command, origin)
        if not self._answered_in_thread(proposal, origin):
            self._reply(origin, replies.reverting_reply(proposal_id))

    def _run_revert(self, command: Command, origin: Origin) -> None:
        try:
            self.decisions.revert(
                str(command.proposal_id), actor=str(origin.user), reason=command.reason
            )
        except DecisionRefused as refusal:
            self._refuse(origin, command, refusal)
        except Exception:
            log.exception("reverting %s failed", command.proposal_id)
            self._ephemeral(origin, replies.internal_error())

    def _reject(self, command: Command, origin: Origin) -> None:
        proposal_id = str(command.proposal_id)
        self._expire_if_stale(proposal_id)
        try:
            rejected = self.decisions.reject(
                proposal_id, actor=str(origin.user), reason=command.reason
            )
        except DecisionRefused as refusal:
            self._refuse(origin, command, refusal)
            return
        if not self._answered_in_thread(rejected, origin):
            self._reply(origin, replies.rejected_reply(proposal_id))

    def _expire_if_stale(self, proposal_id: str) -> None:
        """Expire a proposal past its TTL first, so a late reject is refused like a late yes."""
        try:
            proposal = self.store.get(proposal_id)
        except ProposalNotFound:
            return
        age = self.decisions.clock() - proposal.created_at
        if proposal.status is ProposalStatus.PROPOSED and age > self.decisions.ttl:
            self.decisions.expire_stale()

    # --- refusals and replies ----------------------------------------------------------------
    def _thread_of(self, proposal_id: str) -> str | None:
        try:
            return self.store.get(proposal_id).thread_ref
        except ProposalNotFound:
            return None

    def _refuse_request(self, command: Command, origin: Origin, refusal: Refusal) -> None:
        """Audit a request the gate refused and tell the requester (ephemeral)."""
        self.store.audit(
            actor=str(origin.user or "unknown"),
            action="refused",
            proposal_id=command.proposal_id,
            details={
                "reason": refusal.code,
                "command": command.name,
                "via": "button" if origin.button else "mention",
                **refusal.details,
            },
        )
        self._ephemeral(origin, refusal.text)

    def _refuse(self, origin: Origin, command: Command, refusal: DecisionRefused) -> None:
        self.store.audit(
            actor=str(origin.user),
            action="refused",
            proposal_id=refusal.proposal_id,
            details={"reason": refusal.code, "detail": refusal.reason, "command": command.name},
        )
        self._ephemeral(origin, replies.refused(refusal.reason))

    @staticmethod
    def _answered_in_thread(proposal: FixProposal, origin: Origin) -> bool:
        """True when the proposal's own thread already tells the requester (buttons, or a
        mention written in that thread)."""
        own = f"{origin.channel}:{origin.in_thread_of}"
        return origin.button or (origin.in_thread_of is not None and proposal.thread_ref == own)

    def _reply(self, origin: Origin, text: str) -> None:
        self._post(channel=origin.channel, thread_ts=origin.thread_ts, text=text)

    def _post(self, **kwargs: Any) -> None:
        try:
            self.outbox.send("chat_postMessage", **kwargs)
        except (SlackClientError, OSError) as error:
            log.warning("Slack reply failed: %s", error)

    def _ephemeral(self, origin: Origin, text: str) -> None:
        if not origin.user:
            return
        try:
            self.outbox.send(
                "chat_postEphemeral",
                channel=origin.channel,
                user=origin.user,
                text=text,
                thread_ts=origin.thread_ts,
            )
        except (SlackClientError, OSError) as error:
            log.warning("Slack ephemeral reply failed: %s", error)


def _check_config(config: SlackConfig) -> None:
    missing = [
        name
        for name, value in (
            ("SLACK_BOT_TOKEN", config.bot_token),
            ("SLACK_CHANNEL", config.channel),
        )
        if not value
    ]
    if config.app_token is None and config.signing_secret is None:
        missing.append("SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN for Socket Mode)")
    if missing:
        raise SlackConfigError("the Slack app needs " + " and ".join(missing))


def _outbox(notifier: Notifier, client: WebClient | None, config: SlackConfig) -> SlackOutbox:
    """The Slack notifier's outbox (one client, one pace per channel), else a new one."""
    if client is None and isinstance(notifier, SlackNotifier):
        return notifier.outbox
    return SlackOutbox(
        client=client or make_web_client(config), posts_per_second=config.posts_per_second
    )


def _make_app(client: WebClient, signing_secret: str | None) -> App:
    """A Bolt app on ``client``; verifies signatures when a secret is given (HTTP mode)."""
    try:
        return App(
            name="mendbot",
            client=client,
            signing_secret=signing_secret,
            request_verification_enabled=signing_secret is not None,
            token_verification_enabled=True,
            process_before_response=False,
        )
    except BoltError as error:
        raise SlackStartError(f"Slack refused the bot token at start: {error}") from error
    except (SlackClientError, OSError) as error:
        raise SlackStartError(f"Slack could not be reached at start: {error}") from error
