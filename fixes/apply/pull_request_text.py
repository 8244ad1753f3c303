"""Fixes apply: a fix's pull request title and body, written for reviewers (Markdown).

The title is the fix commit's subject (``Auto-fix: <summary>``). The body says what was
seen, the root cause, the change (files and lines), why, the risk, who approved it, and
the proposal id. Most of it comes from logs and an LM, so it is untrusted: every such
text is masked for secrets and set in a fenced code block whose fence is longer than any
backtick run inside (GitHub renders no link, image, HTML or mention there), and GitHub's
closing keywords (``fixes #12`` closes issue 12 on merge), ``@`` mentions and ``#``
references get a zero-width space, so a log line cannot close an issue or page a team.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from core.proposals import FixProposal
from core.redact import scrub_secrets
from fixes.apply.commit_message import commit_message

#: GitHub's limits: titles are cut at 256 characters, bodies refused over 65,536.
TITLE_MAX_CHARS = 256
BODY_MAX_CHARS = 60_000
_ZWSP = "\u200b"
#: A closing keyword followed by an issue reference (``#12``, ``owner/repo#12``, a URL).
_CLOSING = re.compile(
    r"(?i)\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)"
    r"(?=:?\s+(?:[\w.-]+/[\w.-]+)?#\d|:?\s+https?://)"
)
_MENTION_OR_REF = re.compile(r"([@#])(?=[\w-])")


def pull_request_title(proposal: FixProposal, *, approved_by: str) -> str:
    """``Auto-fix: <summary>``, the fix commit's subject, defused; at most 256 characters."""
    subject = commit_message(proposal, approved_by=approved_by).splitlines()[0]
    return defuse(scrub_secrets(subject))[:TITLE_MAX_CHARS]


def pull_request_body(proposal: FixProposal, *, approved_by: str, commit_sha: str) -> str:
    """The pull request's Markdown body (at most :data:`BODY_MAX_CHARS` characters).

    Args:
        proposal: the approved proposal the fix commit applies.
        approved_by: who approved it (a Slack user id, ``cli:<login>``).
        commit_sha: the validated fix commit at the head of the branch.
    """
    anomaly = proposal.anomaly
    seen = (
        f"{anomaly.kind}, {anomaly.count} event(s) between {anomaly.first_seen.isoformat()} "
        f"and {anomaly.last_seen.isoformat()} (UTC), severity {anomaly.severity.value}"
    )
    sections = [
        "mendbot found this problem in the service's logs and proposed the fix below; "
        f"a person approved it and mendbot validated commit `{commit_sha[:12]}` before "
        "opening this pull request. Text from logs and from the LM is quoted verbatim.",
        f"**What was seen**: {seen}\n\n" + fenced(anomaly.summary or anomaly.template, 1000),
    ]
    if anomaly.samples:
        sections.append("**Newest sample**\n\n" + fenced(anomaly.samples[-1][-3000:], 3000))
    sections += [
        "**Root cause**\n\n" + fenced(proposal.diagnosis.root_cause, 3000),
        "**Change**\n\n" + fenced("\n".join(_diff_stat(proposal)), 2000),
        "**Why this fixes it**\n\n" + fenced(proposal.reasoning or "not given", 3000),
        f"**Risk**: {proposal.risk.value}\n\n" + fenced(proposal.risk_notes or "no notes", 1500),
        f"Approved by {fenced_inline(approved_by)} · proposal `{proposal.id}` · "
        f"anomaly fingerprint `{proposal.fingerprint[:64]}`",
    ]
    body = "\n\n".join(sections) + "\n"
    return body if len(body) <= BODY_MAX_CHARS else body[: BODY_MAX_CHARS - 20] + "\n\n(cut)\n"


def defuse(text: str) -> str:
    """``text`` with closing keywords, ``@`` mentions and ``#`` references broken by a
    zero-width space (``fi\u200bxes #\u200b12``), so GitHub acts on none of them."""
    text = _CLOSING.sub(lambda m: m[0][0] + _ZWSP + m[0][1:], text)
    return _MENTION_OR_REF.sub(lambda m: m[1] + _ZWSP, text)


def fenced(text: str, max_chars: int) -> str:
    """Untrusted ``text`` (masked, defused, cut to ``max_chars``) as a fenced code block
    whose fence no backtick run inside can close."""
    body = defuse(scrub_secrets(text[:max_chars])).strip("\n") or " "
    fence = "`" * max(3, _longest_backtick_run(body) + 1)
    return f"{fence}text\n{body}\n{fence}"


def fenced_inline(text: str, max_chars: int = 128) -> str:
    """Untrusted one-line ``text`` as an inline code span no backtick inside can close."""
    one_line = " ".join(defuse(scrub_secrets(text[:max_chars])).split()) or "?"
    ticks = "`" * (_longest_backtick_run(one_line) + 1)
    return f"{ticks} {one_line} {ticks}"


def _diff_stat(proposal: FixProposal) -> Iterable[str]:
    """One line per file: ``path | +added -removed (n edits)``, in edit order."""
    stats: dict[str, list[int]] = {}
    for edit in proposal.edits:
        added = removed = 0
        for line in difflib.ndiff(edit.old_text.splitlines(), edit.new_text.splitlines()):
            added += line.startswith("+ ")
            removed += line.startswith("- ")
        counts = stats.setdefault(edit.path, [0, 0, 0])
        counts[0] += added
        counts[1] += removed
        counts[2] += 1
    for path, (added, removed, edits) in stats.items():
        yield f"{path} | +{added} -{removed} ({edits} edit{'s' if edits > 1 else ''})"


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)
