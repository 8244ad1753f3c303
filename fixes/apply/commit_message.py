"""Fixes apply: the fix commit's message, written for people and for recovery.

``Auto-fix: <summary>``, a body (root cause, what was seen, the files changed, why, and
whether a test proves it), and git trailers: ``Fix-Id:`` (which recovery and
``GitOps.find_fix_commit`` search for), ``Approved-by:``, ``Anomaly:`` and, for a proven
fix, ``Proven-by:`` (the regression test's path). Proposal text is untrusted (it comes
from logs and an LM), so it is reduced to printable one-line summaries and wrapped
paragraphs that cannot pose as trailers.
"""

from __future__ import annotations

import re
import textwrap

from core.proposals import FixProposal, ProposalStatus, proof_status

#: The trailer whose value is the proposal id, e.g. ``Fix-Id: fix_20261121_023300``.
FIX_ID_TRAILER = "Fix-Id"
#: The trailer naming the regression test of a proven fix.
PROVEN_BY_TRAILER = "Proven-by"
_SUMMARY_CHARS = 72
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def commit_message(proposal: FixProposal, *, approved_by: str, proven: bool | None = None) -> str:
    """``Auto-fix: <summary>``, a body (root cause, anomaly, files, proof) and the trailers.

    Args:
        proposal: the fix.
        approved_by: who said yes.
        proven: True when its regression test failed before and passes after; False when
            the test did not reproduce the failure; None when there was no test.

    The trailers (git's format, the last paragraph) are ``Fix-Id:``, ``Approved-by:``,
    ``Anomaly:`` (the fingerprint) and, when proven, ``Proven-by:``. Proposal text is
    untrusted: it is reduced to printable single-line summaries and wrapped paragraphs
    that cannot pose as trailers.
    """
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


def _paragraph(text: str, max_chars: int = 1500) -> str:
    text = _CONTROL.sub(" ", text).strip()
    if len(text) > max_chars:
        text = text[: max_chars - 3] + "..."
    lines = []
    for block in filter(None, (b.strip() for b in text.splitlines())):
        lines.extend(textwrap.wrap(block, 72, break_long_words=False) or [""])
    # A line starting with "---" would end git's trailer search; indent it.
    return "\n".join("  " + line if line.startswith("---") else line for line in lines)


def _one_line(text: str, max_chars: int) -> str:
    text = " ".join(_CONTROL.sub(" ", text).split())
    return text if len(text) <= max_chars else text[: max_chars - 3].rstrip() + "..."
