"""Slack bot stage: mrkdwn primitives that every message uses (pure).

Untrusted text (log samples, reasons typed by people, command output) goes through
:func:`safe`: secrets masked again with :func:`core.redact.scrub_secrets`, control and
invisible characters shown as escapes (:func:`core.text.printable`), Slack's ``&``,
``<``, ``>`` written as entities (which also defuses ``<!channel>`` broadcasts, mentions
and fake links), and any ````` broken so it cannot end a code block early;
:func:`code_block` then wraps it. The rest are small shared notations: who
(:func:`actor`), where (:func:`channel_link`), when (:func:`when`), how long
(:func:`duration`) and how bad (:data:`SEVERITY_EMOJI`).

Those notations are the only Slack tokens (``<...>``) mendbot writes. :func:`defuse` is
the last line of defence, applied to every mrkdwn string a message carries when it is
sent (:mod:`bot.slack.outbox`): it keeps exactly the tokens those helpers make (a user
id mention, a channel link, a date, a commit link labelled by its sha) and escapes any
other ``<``, ``>`` or bare ``&``, so a builder that forgets :func:`safe` on a new field
still cannot broadcast (``<!channel>``, ``<!here>``, ``<!subteam^…>``) or hide a link.

The words of each message live with the module that builds it
(:mod:`bot.slack.proposal_message`, :mod:`bot.slack.thread_events`,
:mod:`bot.slack.replies`), not here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from core.models import Severity
from core.redact import scrub_secrets
from core.text import printable

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
#: A hair space (U+200A, a visible space character, not an invisible format character)
#: between backticks: a fence Slack no longer sees, that :func:`defuse` leaves alone.
_GAP = "\u200a"
_BROKEN_FENCE = f"`{_GAP}`{_GAP}`"
#: The tokens mendbot's own helpers write (:func:`actor`, :func:`channel_link`,
#: :func:`when`, a commit link): the only ones :func:`defuse` lets through.
_OWN_TOKEN = re.compile(
    r"<@[UW][A-Z0-9]{2,}>"
    r"|<#[CG][A-Z0-9]{2,}>"
    r"|<!date\^\d{1,12}\^\{date_short_pretty\} \{time\}\|\d{4}-\d\d-\d\d \d\d:\d\d UTC>"
    r"|<https://[A-Za-z0-9.-]+/[A-Za-z0-9._~/-]*\|`[0-9a-f]{7,40}`>"
    # a pull request's link: <https://github.com/acme/orders/pull/12|#12>
    r"|<https?://[A-Za-z0-9.:-]+/[A-Za-z0-9._~/-]*/pulls?/\d{1,9}\|#\d{1,9}>"
)
_ANY_TOKEN = re.compile(r"<[^<>]*>|[<>]|&(?!(?:amp|lt|gt);)")

SEVERITY_EMOJI = {
    Severity.LOW: ":large_blue_circle:",
    Severity.MEDIUM: ":large_yellow_circle:",
    Severity.HIGH: ":large_orange_circle:",
    Severity.CRITICAL: ":red_circle:",
}


def escape(text: str) -> str:
    """Escape Slack's control characters (``&``, ``<``, ``>``) in untrusted text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """Undo Slack's entity escaping in text received from Slack (mention text)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def safe(text: str) -> str:
    """Untrusted text made fit for mrkdwn: secrets masked, control and invisible
    characters shown as escapes, ``&<>`` escaped, code fences broken."""
    return escape(printable(scrub_secrets(text))).replace("```", _BROKEN_FENCE)


def code_block(text: str) -> str:
    """``text`` (already :func:`safe`, so it holds no fence) inside a ````` block."""
    body = text or " "
    if body.startswith("`"):
        body = _GAP + body
    if body.endswith("`"):
        body += _GAP
    return f"```{body}```"


def defuse(text: str) -> str:
    """Escape every Slack token in mrkdwn ``text`` that mendbot's helpers did not write.

    Idempotent, and a no-op on text built correctly (untrusted parts through
    :func:`safe`): entities stay as they are, and the tokens of :func:`actor`,
    :func:`channel_link`, :func:`when`, the commit link and a pull request's link are
    kept. Anything else in
    angle brackets (``<!channel>``, ``<!here|here>``, ``<@U0ALICE|alice>``,
    ``<!subteam^S1>``, ``<https://evil.example|https://slack.com>``), a stray ``<`` or
    ``>``, and a bare ``&`` are escaped. Control characters are left to
    :func:`core.text.printable`.

    Args:
        text: a mrkdwn string about to be sent.

    Returns:
        The text with only mendbot's own tokens live.
    """
    return _ANY_TOKEN.sub(_defuse_token, text)


def _defuse_token(match: re.Match[str]) -> str:
    token = match.group()
    if token.startswith("<") and len(token) > 1 and _OWN_TOKEN.fullmatch(token):
        return token
    return escape(token)


def actor(name: str | None) -> str:
    """A Slack mention for a user id (``<@U123>``), else the actor's name escaped."""
    if not name:
        return "someone"
    if _USER_ID.match(name):
        return f"<@{name}>"
    shown = escape(printable(name)).replace("`", "'")
    return f"`{shown}`"


def channel_link(channel: str) -> str:
    """A link to a channel for a channel id (``<#C123>``, shown as ``#ops``), else the
    name as given, escaped (``#ops``)."""
    if _CHANNEL_ID.match(channel):
        return f"<#{channel}>"
    name = escape(printable(channel))
    return name if name.startswith("#") else f"#{name}"


def when(moment: datetime) -> str:
    """A Slack date token shown in the reader's time zone, with a UTC fallback."""
    utc = moment.astimezone(UTC)
    fallback = utc.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(utc.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3.5 h`` or ``2.0 d``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h".replace(".0 h", " h")
    return f"{seconds / 86400:.1f} d"
