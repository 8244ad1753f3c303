"""Slack bot stage: what a mention or a button asks for, and who may ask (pure functions).

A mention's text arrives as Slack mrkdwn source, e.g. ``"<@U0BOT> implement fix_20261121_023300"``
(user mentions as ``<@U…>`` or ``<@U…|name>``, ``&``/``<``/``>`` as entities). Buttons arrive
as ``(action_id, value)`` with the proposal id as value. Both become a :class:`Command`;
anything not understood becomes ``help`` with a ``problem`` saying why. Where the request
came from, and so where answers go, is its :class:`Origin` (:func:`mention_request`,
:func:`button_request` read both from Bolt's payloads).

Who may decide is decided here too: only immutable Slack user ids (``U…``, or ``W…`` on
Enterprise Grid) listed in ``SLACK_APPROVERS``; display names never count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from bot.slack.mrkdwn import unescape

CommandName = Literal[
    "implement",
    "reject",
    "revert",
    "show",
    "list",
    "status",
    "pause",
    "resume",
    "resume_fixes",
    "stats",
    "help",
]

#: A proposal id as ``ProposalStore.add`` makes them: ``fix_YYYYMMDD_HHMMSS[_N]``, N >= 2.
PROPOSAL_ID = re.compile(r"(?<!\w)fix_\d{8}_\d{6}(?:_\d{1,12})?(?!\w)")
#: An immutable Slack user id.
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
#: Commands that change something: only approvers may give them.
PRIVILEGED: frozenset[str] = frozenset(
    {"implement", "reject", "revert", "pause", "resume", "resume_fixes"}
)
#: Commands that name one proposal.
NEEDS_ID: frozenset[str] = frozenset({"implement", "reject", "revert", "show"})
#: Commands whose words after the id are a reason.
TAKES_REASON: frozenset[str] = frozenset({"reject", "revert"})
#: Button action ids (``block_actions``) and the command each one gives.
APPROVE_ACTION = "mendbot_approve"
REJECT_ACTION = "mendbot_reject"
REVERT_ACTION = "mendbot_revert"
BUTTONS: dict[str, CommandName] = {
    APPROVE_ACTION: "implement",
    REJECT_ACTION: "reject",
    REVERT_ACTION: "revert",
}
#: Longest reject or revert reason kept, in characters.
MAX_REASON_CHARS = 500
#: What ``resume <target>`` accepts as a target (a service id, a container name...).
TARGET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$")
#: What ``resume fix proposals for <fingerprint>`` accepts: an anomaly fingerprint.
FINGERPRINT = re.compile(r"^[0-9a-f]{8,64}$")
#: The words between ``resume`` and the fingerprint (``for`` may be left out).
_FIX_PROPOSALS = (("fix", "proposals"), ("fixes",), ("fix",))

_WORDS: dict[str, CommandName] = {
    "implement": "implement",
    "approve": "implement",
    "apply": "implement",
    "reject": "reject",
    "decline": "reject",
    "revert": "revert",
    "show": "show",
    "list": "list",
    "ls": "list",
    "status": "status",
    "pause": "pause",
    "resume": "resume",
    "stats": "stats",
    "help": "help",
}
_MENTION = re.compile(r"<@[UWB][A-Z0-9]+(?:\|[^>]*)?>")
_DECORATION = "*_~`:,.!?"


@dataclass(frozen=True, slots=True)
class Command:
    """One request to the bot.

    Attributes:
        name: what is asked (``help`` also for anything not understood).
        proposal_id: for implement, reject, revert and show.
        reason: for reject and revert: the words after the id (plain text, at most 500
            characters).
        problem: why the request was not understood (then ``name == "help"``).
        target: for ``resume <target>``: whose breaker to close (None: resume monitoring);
            for ``resume_fixes`` (``resume fix proposals for <fingerprint>``): the
            fingerprint whose fix breaker to close.
    """

    name: CommandName
    proposal_id: str | None = None
    reason: str = ""
    problem: str | None = None
    target: str | None = None

    @property
    def privileged(self) -> bool:
        """True when only approvers may give this command."""
        return self.name in PRIVILEGED


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a request came from and where answers go.

    Attributes:
        user: the requester's Slack user id (None if Slack sent none).
        channel: channel id of the mention or the button's message.
        thread_ts: thread to answer in (the mention's thread, or the mention itself).
        in_thread_of: the thread the mention was written in, if any.
        button: True for a button press (the proposal's own thread gets the news).
    """

    user: str | None
    channel: str
    thread_ts: str | None
    in_thread_of: str | None = None
    button: bool = False


def mention_request(event: Mapping[str, Any]) -> tuple[Command, Origin]:
    """The command in an ``app_mention`` event, and where to answer it.

    Args:
        event: the event's ``event`` object (``user``, ``channel``, ``text``, ``ts`` and,
            inside a thread, ``thread_ts``).

    Returns:
        ``(command, origin)``; answers go to the mention's thread, or start one on it.
    """
    origin = Origin(
        user=event.get("user"),
        channel=str(event.get("channel")),
        thread_ts=event.get("thread_ts") or event.get("ts"),
        in_thread_of=event.get("thread_ts"),
    )
    return parse_mention(str(event.get("text") or "")), origin


def button_request(
    body: Mapping[str, Any], action: Mapping[str, Any]
) -> tuple[Command, Origin] | None:
    """The command a ``block_actions`` press gives, and where to answer it.

    Args:
        body: the request body (``user.id``, ``channel.id`` or ``container.channel_id``,
            ``container.message_ts``).
        action: the pressed button (``action_id``, ``value``).

    Returns:
        ``(command, origin)`` answering in the pressed message's thread; None for a
        button that is not ours, a malformed value, or no channel.
    """
    command = button_command(str(action.get("action_id")), action.get("value"))
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
    if command is None or not channel:
        return None
    origin = Origin(
        user=(body.get("user") or {}).get("id"),
        channel=str(channel),
        thread_ts=container.get("message_ts"),
        button=True,
    )
    return command, origin


def parse_mention(text: str) -> Command:
    """Read a mention's text (Slack mrkdwn source) as a command.

    Args:
        text: the ``app_mention`` event's ``text``; mentions of anyone are ignored, the
            first remaining word is the command (case-insensitive, ``*bold*`` etc. ignored).

    Returns:
        The command; ``help`` with ``problem`` set when the text is not a valid one.
    """
    words = _MENTION.sub(" ", text or "").split()
    if not words:
        return Command("help")
    word = words[0].strip(_DECORATION).lower()
    name = _WORDS.get(word)
    if name is None:
        return Command("help", problem=f"I don't know “{word[:40]}”.")
    if name == "resume" and len(words) > 1:
        return _resume_fixes(words[1:]) or _resume_target(words[1])
    if name not in NEEDS_ID:
        return Command(name)
    rest = " ".join(words[1:])
    ids = PROPOSAL_ID.findall(rest)
    if not ids:
        return Command(
            "help", problem=f"`{name}` needs a proposal id, e.g. `{name} fix_20261121_023300`."
        )
    if len(set(ids)) > 1 and name not in TAKES_REASON:
        return Command("help", problem=f"`{name}` takes one proposal at a time.")
    reason = ""
    if name in TAKES_REASON:
        after = rest.split(ids[0], 1)[1]
        reason = unescape(after.strip().strip(_DECORATION).strip())[:MAX_REASON_CHARS]
    return Command(name, proposal_id=ids[0], reason=reason)


def _resume_target(word: str) -> Command:
    """``resume <target>``: close a target's breaker (the target checked, not trusted)."""
    target = unescape(word.strip(_DECORATION.replace(":", "")))
    if not TARGET.match(target):
        return Command(
            "help", problem="`resume` takes a target such as a service id or a container name."
        )
    return Command("resume", target=target)


def _resume_fixes(words: list[str]) -> Command | None:
    """``resume fix proposals for <fingerprint>`` (also ``resume fixes for <fp>``); None
    when the words are not that form. The fingerprint is checked, not trusted."""
    lowered = [w.strip(_DECORATION).lower() for w in words]
    lead = next((p for p in _FIX_PROPOSALS if tuple(lowered[: len(p)]) == p), None)
    if lead is None:
        return None
    rest = words[len(lead) :]
    if rest and rest[0].strip(_DECORATION).lower() == "for":
        rest = rest[1:]
    fingerprint = unescape(rest[0].strip(_DECORATION)).lower() if len(rest) == 1 else ""
    if not FINGERPRINT.match(fingerprint):
        return Command(
            "help",
            problem="`resume fix proposals for` takes one anomaly fingerprint, e.g. "
            "`resume fix proposals for 3f2a9c0d1e4b5a69` (`fixes show` prints it).",
        )
    return Command("resume_fixes", target=fingerprint)


def button_command(action_id: str, value: str | None) -> Command | None:
    """The command a button press gives, or None for a button that is not ours / malformed."""
    name = BUTTONS.get(action_id)
    if name is None or not value or not PROPOSAL_ID.fullmatch(value):
        return None
    return Command(name, proposal_id=value)


def is_user_id(value: str | None) -> bool:
    """True for an immutable Slack user id (``U…`` or ``W…``)."""
    return bool(value) and bool(USER_ID.match(value or ""))


def split_approvers(entries: Iterable[str]) -> tuple[frozenset[str], list[str]]:
    """Sort ``SLACK_APPROVERS`` entries into user ids and entries that are not.

    Returns:
        ``(valid_ids, ignored_entries)``; ignored entries keep their order.
    """
    valid: set[str] = set()
    ignored: list[str] = []
    for entry in entries:
        cleaned = entry.strip()
        if is_user_id(cleaned):
            valid.add(cleaned)
        elif cleaned:
            ignored.append(cleaned)
    return frozenset(valid), ignored


def may_decide(user_id: str | None, approvers: frozenset[str]) -> bool:
    """True when ``user_id`` is an immutable user id listed in ``approvers``."""
    return is_user_id(user_id) and user_id in approvers
