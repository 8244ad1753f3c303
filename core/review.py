"""Shared contracts: the review every edit set passes, when proposed and again before writing.

Diagnosis calls :func:`review_change` on every edit set before a proposal is stored (a
refusal's sentence is also sent back to the LM for its one retry); the implementor calls
:func:`recheck_proposal` on the stored proposal right before writing, which runs the
same review against the checkout as it is then, so a stale or tampered proposal cannot
do more than the reviewed one. An edit set is accepted whole or refused whole. The rules,
in order, the first broken one refusing with a sentence naming the file:

1. paths and texts (:mod:`core.edits`): inside the repository, not protected by the
   :class:`~core.policy.EditPolicy`, no new file, ``old_text`` exactly once, within the
   caps on edits, characters, files and changed lines;
2. evidence (:mod:`core.evidence`): every edited file is one that evidence which still
   holds points at, evidence consistent with the proposal's anomaly;
3. no masked-secret placeholder (``<SECRET_1>``...) in the new text;
4. a ``.py`` file still parses after all its edits;
5. no rewrite (:mod:`core.rewrites`): the share of a file, or of a function, removed;
6. the risky constructs the edits add or remove are named (:mod:`core.risk`); not a
   refusal when proposing (they make the risk HIGH), but at apply time a proposal whose
   stored reasons or risk understate them is refused as tampered.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.edits import EditRejected, planned_texts, resolve_in_repo
from core.evidence import EvidenceCheck, recheck
from core.models import Anomaly
from core.policy import EditPolicy
from core.proposals import Edit, Evidence, FixProposal, Risk
from core.redact import PLACEHOLDER
from core.rewrites import check_rewrite
from core.risk import risk_reasons

REJECT_NEW_FILE = "creates a new file (new files are protected)"
REJECT_EMPTY = "no edits"
REJECT_NO_EVIDENCE = (
    "not a file the evidence points at (allowed: {allowed}); only the traceback's in-app "
    "files and the code that emits the message may be edited"
)
REJECT_NO_EVIDENCE_NONE = "no file is pointed at by the evidence, so no edit is allowed"
REJECT_STALE_EVIDENCE = "the evidence for this file no longer holds ({reason})"
REJECT_PLACEHOLDER = "the new text contains a masked secret placeholder ({placeholder})"
REJECT_SYNTAX = "the file would no longer be valid Python ({error})"
REJECT_UNDERSTATED = (
    "the change is riskier than the reviewed proposal says ({reasons}); "
    "it was changed after review and is not applied"
)


@dataclass(frozen=True)
class ReviewedChange:
    """An edit set that passed the review.

    Attributes:
        edits: the edits, paths normalised (``./app.py`` -> ``app.py``).
        evidence: the evidence that holds, lines as they are now, in the order given.
        risk_reasons: what the edits add or remove that is risky, one sentence each, in
            edit order; empty when nothing is.
        contents: absolute path -> the file's bytes after the edits (UTF-8), in the order
            the files are first edited.
    """

    edits: list[Edit]
    evidence: list[Evidence]
    risk_reasons: list[str]
    contents: dict[Path, bytes]

    @property
    def risk_floor(self) -> Risk | None:
        """``Risk.HIGH`` when any risky construct was found, else None (the LM's stands)."""
        return Risk.HIGH if self.risk_reasons else None


def review_change(
    repo_root: Path,
    edits: Sequence[Edit],
    evidence: Sequence[Evidence],
    *,
    anomaly: Anomaly,
    policy: EditPolicy,
) -> ReviewedChange:
    """Check an edit set against the repository as it is now (rules 1-6 above).

    Args:
        repo_root: the service's checkout.
        edits: the proposed edits (paths relative to ``repo_root``).
        evidence: what points at the code (diagnosis's, or the stored proposal's).
        anomaly: what the evidence must be consistent with.
        policy: protected paths, caps and rewrite thresholds.

    Returns:
        The reviewed change: normalised edits, evidence as it holds now, risk reasons and
        the new contents (nothing is written).

    Raises:
        EditRejected: the first rule broken; ``str(e)`` names the file and the reason.
    """
    if not edits:
        raise EditRejected("-", REJECT_EMPTY)
    root = repo_root.resolve()
    normalised = [_normalise(root, edit, policy) for edit in edits]
    texts = planned_texts(root, normalised, policy)
    for edit in normalised:  # a fix's regression test is its own field, never an edit
        if edit.old_text == "":
            raise EditRejected(edit.path, REJECT_NEW_FILE)
    check = recheck(root, evidence, anomaly=anomaly, policy=policy)
    for edit in normalised:
        _check_evidence(edit.path, check)
        leftover = PLACEHOLDER.search(edit.new_text)
        if leftover:
            raise EditRejected(edit.path, REJECT_PLACEHOLDER.format(placeholder=leftover[0]))
    return ReviewedChange(
        edits=normalised,
        evidence=check.held,
        risk_reasons=_check_texts(root, texts, policy),
        contents={target: after.encode("utf-8") for target, (_, after) in texts.items()},
    )


def _check_texts(root: Path, texts: dict[Path, tuple[str, str]], policy: EditPolicy) -> list[str]:
    """Rules on each changed file's text (parses, not a rewrite); returns the risk reasons.

    Raises:
        EditRejected: a file that no longer parses, or is rewritten beyond the policy.
    """
    reasons: list[str] = []
    for target, (before, after) in texts.items():
        path = target.relative_to(root).as_posix()
        if path.endswith(".py"):
            _check_parses(path, after)
        check_rewrite(path, before, after, policy)
        reasons += [r for r in risk_reasons(path, before, after) if r not in reasons]
    return reasons


def recheck_proposal(repo_root: Path, proposal: FixProposal, policy: EditPolicy) -> ReviewedChange:
    """The review again, on a stored proposal, right before it is written.

    Args:
        repo_root: the checkout about to be changed.
        proposal: the approved proposal as stored.
        policy: the same policy diagnosis used.

    Returns:
        The reviewed change (its ``contents`` are what the implementor writes).

    Raises:
        EditRejected: a rule is broken now, or the proposal's ``risk_reasons`` or
            ``risk`` understate what the edits do (a proposal changed after review).
    """
    reviewed = review_change(
        repo_root, proposal.edits, proposal.evidence, anomaly=proposal.anomaly, policy=policy
    )
    missing = [r for r in reviewed.risk_reasons if r not in proposal.risk_reasons]
    if reviewed.risk_reasons and proposal.risk is not Risk.HIGH:
        missing = missing or [f"risk {proposal.risk.value} instead of HIGH"]
    if missing:
        raise EditRejected(
            reviewed.edits[0].path, REJECT_UNDERSTATED.format(reasons="; ".join(missing))
        )
    return reviewed


def _normalise(root: Path, edit: Edit, policy: EditPolicy) -> Edit:
    if edit.old_text == "":
        return edit  # a new file: refused (or allowed) by core.edits.check_edit
    target = resolve_in_repo(root, edit.path, policy)
    return edit.model_copy(update={"path": target.relative_to(root).as_posix()})


def _check_evidence(path: str, check: EvidenceCheck) -> None:
    if any(item.path == path for item in check.held):
        return
    stale = check.reason_for(path)
    if stale is not None:
        raise EditRejected(path, REJECT_STALE_EVIDENCE.format(reason=stale))
    if not check.held:
        raise EditRejected(path, REJECT_NO_EVIDENCE_NONE)
    allowed = ", ".join(sorted({item.path for item in check.held}))
    raise EditRejected(path, REJECT_NO_EVIDENCE.format(allowed=allowed))


def _check_parses(path: str, text: str) -> None:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError) as error:
        detail = getattr(error, "msg", str(error))
        line = getattr(error, "lineno", None)
        where = f"line {line}: {detail}" if line else detail
        raise EditRejected(path, REJECT_SYNTAX.format(error=where)) from error
    except (RecursionError, MemoryError) as error:
        raise EditRejected(path, REJECT_SYNTAX.format(error="nested too deeply")) from error
