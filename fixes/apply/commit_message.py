"""Fixes apply: the fix commit's message, written for people and for recovery.

``Auto-fix: <summary>``, a body (root cause, what was seen, the files changed, why), and git
trailers: ``Fix-Id:`` (which recovery and ``GitOps.find_fix_commit`` search for), ``Approved-by:``,
``Anomaly:`` and, for a proven fix, ``Proven-by:`` (the regression test's path); the body also says
whether a test proves the fix. A revert of a pushed fix reads ``Revert "Auto-fix: <summary>"`` with
the trailers ``Reverts-Fix-Id:`` and ``Approved-by:`` (never ``Fix-Id:``, so the revert is not
mistaken for the fix). Proposal text is untrusted (it comes from logs and an LM), so it is reduced
to printable one-line summaries and wrapped paragraphs that cannot pose as trailers: every control,
bidi and invisible character is shown as an escape (:func:`core.text.printable`), so ``git log`` in
a terminal prints it as text. A closing keyword before an issue reference (``fixes #12``, which
closes issue 12 when the commit reaches GitHub's default branch) is put in brackets
(``[fixes] #12``), so a log line cannot close an issue through a fix's commit.
"""

from __future__ import annotations

import re
import textwrap

from core.proposals import FixProposal, ProposalStatus, proof_status
from core.redact import mask_proposal
from core.text import one_line, printable

#: The trailer whose value is the proposal id, e.g. ``Fix-Id: fix_20261121_023300``.
FIX_ID_TRAILER = "Fix-Id"
#: The trailer of a revert commit whose value is the fix it undoes.
REVERTS_FIX_ID_TRAILER = "Reverts-Fix-Id"
#: The trailer naming the regression test of a proven fix.
PROVEN_BY_TRAILER = "Proven-by"
_SUMMARY_CHARS = 72
_TRAILER_LIKE = re.compile(r"[A-Za-z0-9][\w-]*\s*:").match
#: GitHub's closing keywords followed by an issue reference (``#12``, ``owner/repo#12``, a URL).
_CLOSING = re.compile(
    r"(?i)\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)"
    r"(?=:?\s+(?:[\w.-]+/[\w.-]+)?#\d|:?\s+https?://)"
)


def commit_message(proposal: FixProposal, *, approved_by: str, proven: bool | None = None) -> str:
    """``Auto-fix: <summary>``, a body (root cause, anomaly, files, proof) and the trailers.

    Args:
        proposal: the fix.
        approved_by: who said yes.
        proven: True when its regression test failed before and passes after; False when
            the test did not reproduce the failure; None when there was no test.

    The trailers (git's format, the last paragraph) are ``Fix-Id:``, ``Approved-by:``,
    ``Anomaly:`` (the fingerprint) and, when proven, ``Proven-by:``. Proposal text is untrusted:
    it is masked for secrets (:func:`core.redact.mask_proposal`, for proposals stored before
    masking existed) and reduced to printable single-line summaries and wrapped paragraphs that
    cannot pose as trailers.
    """
    proposal = mask_proposal(proposal)
    anomaly = proposal.anomaly
    summary = _one_line(
        proposal.title or anomaly.summary or anomaly.template, _SUMMARY_CHARS - len("Auto-fix: ")
    )
    counts: dict[str, int] = {}
    for edit in proposal.edits:
        counts[edit.path] = counts.get(edit.path, 0) + 1
    paragraphs = [
        f"Root cause: {proposal.diagnosis.root_cause}",
        f"Seen: {anomaly.kind}, {anomaly.count} event(s) from "
        f"{anomaly.first_seen.isoformat()} to {anomaly.last_seen.isoformat()}: "
        f"{anomaly.summary or anomaly.template}",
        "Changed: "
        + ", ".join(f"{path} ({n} edit{'s' if n > 1 else ''})" for path, n in counts.items()),
    ]
    if proposal.reasoning:
        paragraphs.append(f"Why: {proposal.reasoning}")
    test = proposal.regression_test
    settled = proposal.model_copy(update={"proven": proven, "status": ProposalStatus.APPLIED})
    paragraphs.append(proof_status(settled))
    body = "\n\n".join(_paragraph(text) for text in paragraphs)
    trailers = (
        f"{FIX_ID_TRAILER}: {proposal.id}\nApproved-by: {_one_line(approved_by, 128)}\n"
        f"Anomaly: {_one_line(proposal.fingerprint, 128)}"
    )
    if proven and test is not None:
        trailers += f"\n{PROVEN_BY_TRAILER}: {_one_line(test.path, 128)}"
    return f"Auto-fix: {summary}\n\n{body}\n\n{trailers}\n"


def revert_message(
    proposal: FixProposal, *, fix_commit: str, approved_by: str, reason: str = ""
) -> str:
    """``Revert "Auto-fix: <summary>"``, why, and the trailers ``Reverts-Fix-Id:`` and
    ``Approved-by:``.

    Args:
        proposal: the fix being undone.
        fix_commit: the sha of its pushed commit.
        approved_by: who asked for the revert (``mendbot`` for an automatic one).
        reason: why, in a sentence (untrusted: reduced to a wrapped paragraph).
    """
    anomaly = proposal.anomaly
    summary = _one_line(
        proposal.title or anomaly.summary or anomaly.template, _SUMMARY_CHARS - len("Auto-fix: ")
    )
    body = f"This reverts commit {_one_line(fix_commit, 64)}."  # git's own words
    if reason:
        body += "\n\n" + _paragraph(f"Why: {reason}")
    trailers = (
        f"{REVERTS_FIX_ID_TRAILER}: {proposal.id}\nApproved-by: {_one_line(approved_by, 128)}"
    )
    return f'Revert "Auto-fix: {summary}"\n\n{body}\n\n{trailers}\n'


def _unclosing(text: str) -> str:
    """``text`` with every closing keyword bracketed: ``fixes #12`` -> ``[fixes] #12``."""
    return _CLOSING.sub(lambda m: f"[{m[0]}]", text)


def _paragraph(text: str, max_chars: int = 1500) -> str:
    text = _unclosing(printable(text)).strip()
    if len(text) > max_chars:
        text = text[: max_chars - 3] + "..."
    lines = []
    for block in filter(None, (b.strip() for b in text.splitlines())):
        lines.extend(textwrap.wrap(block, 72, break_long_words=False) or [""])
    # A line starting with "---" would end git's trailer search, and one that reads like a
    # trailer ("Fix-Id: fix_...") could be found by a trailer search: indent both (the
    # first line is ours: "Root cause:", "Why:"...).
    return "\n".join(
        "  " + line if i and (line.startswith("---") or _TRAILER_LIKE(line)) else line
        for i, line in enumerate(lines)
    )


def _one_line(text: str, max_chars: int) -> str:
    text = _unclosing(one_line(text))
    return text if len(text) <= max_chars else text[: max_chars - 3].rstrip() + "..."
