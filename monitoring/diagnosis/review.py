"""Diagnosis checks: every proposal's edits pass here before the proposal is stored.

An edit set is accepted whole or refused whole (half a fix is not a fix). The rules, in
order, the first broken one refusing the set with a sentence that is also sent back to the
LM for its one retry:

1. :func:`core.edits.check_edits`: the path is relative and inside the repository, not
   protected (``.git/``, ``.env*``, CI, key and secret files), ``old_text`` occurs exactly
   once, and the whole change stays under the implementor's caps;
2. evidence: the file is one the evidence points at (:attr:`CodeContext.evidence_files`:
   an in-app traceback frame's file, the code that emits the message, or a definition it
   uses), so a planted log line cannot steer an edit to any other file;
3. no masked-secret placeholder (``<SECRET_1>``...) is left in the new text;
4. a ``.py`` file still parses after all its edits;
5. the proposal changes at most :data:`MAX_PROPOSAL_CHANGED_LINES` lines (lines removed
   plus lines added, as a unified diff counts them), tighter than the implementor's cap,
   so that a person can read the whole change in a Slack message.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Sequence
from pathlib import Path

from core.edits import EditRejected, changed_lines, check_edits, resolve_in_repo
from core.proposals import Edit
from core.redact import PLACEHOLDER
from monitoring.diagnosis import messages as msg

#: Largest change a proposal may carry (lines removed plus lines added).
MAX_PROPOSAL_CHANGED_LINES = 60


def review_edits(
    edits: Sequence[Edit], *, repo_root: Path, evidence_files: Collection[str]
) -> list[Edit]:
    """Check an edit set against the repository as it is now.

    Args:
        edits: the proposed edits (paths relative to ``repo_root``).
        repo_root: the service's checkout.
        evidence_files: repository-relative POSIX paths an edit may touch.

    Returns:
        The edits with their paths normalised (``./app.py`` -> ``app.py``).

    Raises:
        EditRejected: the first rule broken (see the module docstring); ``str(e)`` names
            the file and the reason.
    """
    if not edits:
        raise EditRejected("-", msg.REJECT_EMPTY)
    root = repo_root.resolve()
    normalised = [_normalise(root, edit) for edit in edits]
    check_edits(root, normalised)
    for edit in normalised:
        _check_evidence(edit, evidence_files)
        leftover = PLACEHOLDER.search(edit.new_text)
        if leftover:
            raise EditRejected(edit.path, msg.REJECT_PLACEHOLDER.format(placeholder=leftover[0]))
    _check_python(root, normalised)
    changed = changed_lines(normalised)
    if changed > MAX_PROPOSAL_CHANGED_LINES:
        raise EditRejected(
            normalised[0].path,
            msg.REJECT_TOO_BIG.format(changed=changed, limit=MAX_PROPOSAL_CHANGED_LINES),
        )
    return normalised


def _normalise(root: Path, edit: Edit) -> Edit:
    target = resolve_in_repo(root, edit.path)
    return edit.model_copy(update={"path": target.relative_to(root).as_posix()})


def _check_evidence(edit: Edit, evidence_files: Collection[str]) -> None:
    if edit.path in evidence_files:
        return
    if not evidence_files:
        raise EditRejected(edit.path, msg.REJECT_NO_EVIDENCE_NONE)
    allowed = ", ".join(sorted(evidence_files))
    raise EditRejected(edit.path, msg.REJECT_NO_EVIDENCE.format(allowed=allowed))


def _check_python(root: Path, edits: Sequence[Edit]) -> None:
    """Apply each ``.py`` file's edits in memory, in order, and parse the result."""
    for path in sorted({edit.path for edit in edits if edit.path.endswith(".py")}):
        text = (root / path).read_text(encoding="utf-8")
        for edit in (e for e in edits if e.path == path):
            if edit.old_text not in text:
                raise EditRejected(path, "edits to this file overlap")
            text = text.replace(edit.old_text, edit.new_text, 1)
        try:
            ast.parse(text)
        except (SyntaxError, ValueError) as error:
            detail = getattr(error, "msg", str(error))
            line = getattr(error, "lineno", None)
            where = f"line {line}: {detail}" if line else detail
            raise EditRejected(path, msg.REJECT_SYNTAX.format(error=where)) from error
