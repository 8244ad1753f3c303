"""Slack bot stage: the commands that answer and change no proposal: ``show``, ``list``,
``status``, ``pause``/``resume`` (monitoring, an action breaker, a fingerprint's fix
breaker), ``stats`` and ``help``. :class:`bot.slack.app.SlackBot` dispatches to them after
its gate has let the request through.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.slack import ops_replies, replies
from bot.slack.commands import Command, Origin
from bot.slack.notifier import SlackNotifier
from bot.slack.proposal_message import detail_message
from core.edits import unified_diff
from core.notifier import Notifier
from fixes.actions.runner import ActionRunner
from fixes.decisions import Decisions
from fixes.persistence.store import ProposalNotFound, ProposalStore
from monitoring.fix_history import FixHistory
from monitoring.status import MonitorControl

#: Proposals shown by ``list``.
LIST_LIMIT = 15

Handler = Callable[[Command, Origin], None]


class Queries:
    """The answering commands.

    Args:
        store, decisions, notifier: the runtime's (``notifier`` gives a stored diff).
        fix_history: fix outcomes and breakers; None = no fix stats.
        monitor: the running monitor; None = monitoring is off.
        post: sends ``chat.postMessage`` with these keyword arguments (the bot's outbox;
            never raises).
    """

    def __init__(
        self,
        *,
        store: ProposalStore,
        decisions: Decisions,
        notifier: Notifier,
        fix_history: FixHistory | None,
        monitor: MonitorControl | None,
        post: Callable[..., None],
    ) -> None:
        self.store = store
        self.decisions = decisions
        self.notifier = notifier
        self.fix_history = fix_history
        self.monitor = monitor
        self._post = post

    def handlers(self) -> dict[str, Handler]:
        """Command name -> handler, for the bot's dispatch."""
        return {
            "show": self._show,
            "list": self._list,
            "status": self._status,
            "pause": self._pause_or_resume,
            "resume": self._resume,
            "resume_fixes": self._resume_fixes,
            "stats": self._stats,
            "help": self._help,
        }

    def _show(self, command: Command, origin: Origin) -> None:
        try:
            proposal = self.store.get(str(command.proposal_id))
        except ProposalNotFound:
            self._reply(origin, replies.not_found(str(command.proposal_id)))
            return
        diff = (
            self.notifier.diff_for(proposal)
            if isinstance(self.notifier, SlackNotifier)
            else unified_diff(proposal.edits)
        )
        message = detail_message(proposal, diff=diff, with_buttons=False)
        self._post(channel=origin.channel, thread_ts=origin.thread_ts, **message.payload())

    def _list(self, command: Command, origin: Origin) -> None:
        self._reply(origin, replies.proposal_list(self.store.list(limit=LIST_LIMIT)))

    def _status(self, command: Command, origin: Origin) -> None:
        status = self.monitor.status() if self.monitor is not None else None
        self._reply(origin, replies.monitor_status(status, self.store.count_by_status()))

    def _pause_or_resume(self, command: Command, origin: Origin) -> None:
        if self.monitor is None:
            self._reply(origin, replies.MONITOR_OFF)
            return
        pausing = command.name == "pause"
        changed = self.monitor.pause() if pausing else self.monitor.resume()
        if changed:
            self.store.audit(actor=str(origin.user), action="paused" if pausing else "resumed")
        text = replies.monitor_switched(pausing=pausing, changed=changed, user=origin.user)
        self._reply(origin, text)

    def _resume(self, command: Command, origin: Origin) -> None:
        """``resume <target>`` closes a breaker when an action ever ran on that target;
        otherwise (``resume``, ``resume please``) it resumes monitoring, as it always did."""
        actions = self.decisions.actions
        if command.target and actions is not None and actions.knows(command.target):
            self._resume_target(actions, command.target, origin)
        else:
            self._pause_or_resume(command, origin)

    def _resume_target(self, actions: ActionRunner, target: str, origin: Origin) -> None:
        changed = actions.resume(target)
        self.store.audit(
            actor=str(origin.user),
            action="breaker_resumed",
            details={"target": target, "was_open": changed},
        )
        self._reply(origin, ops_replies.breaker_resumed(target, changed=changed, user=origin.user))

    def _resume_fixes(self, command: Command, origin: Origin) -> None:
        """``resume fix proposals for <fingerprint>``: close its fix breaker (audited)."""
        fingerprint, history = str(command.target), self.fix_history
        result = history.resume(fingerprint, actor=str(origin.user)) if history else "unknown"
        self._reply(origin, ops_replies.fix_breaker_resumed(fingerprint, result, user=origin.user))

    def _stats(self, command: Command, origin: Origin) -> None:
        actions = self.decisions.actions
        stats = actions.runs.stats() if actions is not None else []
        text = ops_replies.stats_text(stats)
        if self.fix_history is not None:
            fixes = self.fix_history.outcomes.stats()
            text += "\n\n" + ops_replies.fix_stats_text(fixes, self.fix_history.open_breakers())
        self._reply(origin, text)

    def _help(self, command: Command, origin: Origin) -> None:
        self._reply(origin, replies.help_text(command.problem))

    def _reply(self, origin: Origin, text: str) -> None:
        self._post(channel=origin.channel, thread_ts=origin.thread_ts, text=text)
