"""Slack bot stage: mrkdwn primitives that every message uses (pure).

Untrusted text (log samples, reasons typed by people, command output) goes through
:func:`safe`: secrets masked again with :func:`core.redact.scrub_secrets`, Slack's ``&``,
``<``, ``>`` written as entities (which also defuses ``<!channel>`` broadcasts and fake
links), and any ````` broken so it cannot end a code block early; :func:`code_block`
then wraps it. The rest are small shared notations: who (:func:`actor`), when
(:func:`when`), how long (:func:`duration`) and how bad (:data:`SEVERITY_EMOJI`).

The words of each message live with the module that builds it
(:mod:`bot.slack.proposal_message`, :mod:`bot.slack.thread_events`,
:mod:`bot.slack.replies`), not here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from core.models import Severity
from core.redact import scrub_secrets

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_BROKEN_FENCE = "`\u200b`\u200b`"

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
    """Untrusted text made fit for mrkdwn: secrets masked, escaped, code fences broken."""
    return escape(scrub_secrets(text)).replace("```", _BROKEN_FENCE)


def code_block(text: str) -> str:
    """``text`` (already :func:`safe`, so it holds no fence) inside a ````` block."""
    body = text or " "
    if body.endswith("`"):
        body += "\u200b"
    return f"```{body}```"


def actor(name: str | None) -> str:
    """A Slack mention for a user id (``<@U123>``), else the actor's name escaped."""
    if not name:
        return "someone"
    if _USER_ID.match(name):
        return f"<@{name}>"
    return f"`{escape(name)}`"


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
