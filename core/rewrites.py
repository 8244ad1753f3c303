"""Shared contracts: rewrites: how much of a file, and of each function, an edit set removes.

A fix changes a few lines; an edit that replaces most of a file or of a function is a
rewrite a person cannot review as a fix, whatever its line count. The measure is the
share of the original's code lines (non-blank) that are deleted or replaced, computed
with :class:`difflib.SequenceMatcher` over the lines stripped of indentation (so code that
is only re-indented, e.g. wrapped in a ``try``, is not counted as removed; inserted lines
are never counted: the changed-lines cap bounds those).

Refused when more than ``policy.small_removal_lines`` lines go and the share is over
``policy.max_file_removed_share`` of the file, or over
``policy.max_function_removed_share`` of any function (``def`` line to last line,
decorators included) of a ``.py`` file.
"""

from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass

from core.edits import EditRejected
from core.policy import EditPolicy


@dataclass(frozen=True)
class Removal:
    """What an edit set removes from one file.

    Attributes:
        code_lines: non-blank lines in the original.
        removed: 1-based line numbers of the original's non-blank lines that are deleted
            or replaced, ascending.
    """

    code_lines: int
    removed: tuple[int, ...]

    @property
    def share(self) -> float:
        """Removed code lines / code lines (0.0 for an empty original)."""
        return len(self.removed) / self.code_lines if self.code_lines else 0.0


def removal(before: str, after: str) -> Removal:
    """Which of ``before``'s code lines are gone from ``after`` (see the module docstring).

    The lines both texts start and end with are set aside first, so the matching costs
    what the edited region does, not what the file does.
    """
    original = [(n, text.strip()) for n, text in enumerate(before.splitlines(), 1)]
    original = [(n, text) for n, text in original if text]
    new = [text.strip() for text in after.splitlines() if text.strip()]
    head = 0
    while head < min(len(original), len(new)) and original[head][1] == new[head]:
        head += 1
    tail = 0
    while tail < min(len(original), len(new)) - head and original[-1 - tail][1] == new[-1 - tail]:
        tail += 1
    middle = original[head : len(original) - tail]
    matcher = difflib.SequenceMatcher(
        None, [t for _, t in middle], new[head : len(new) - tail], autojunk=False
    )
    removed: list[int] = []
    for tag, i1, i2, _j1, _j2 in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            removed.extend(n for n, _ in middle[i1:i2])
    return Removal(code_lines=len(original), removed=tuple(removed))


def check_rewrite(path: str, before: str, after: str, policy: EditPolicy) -> None:
    """Refuse an edit set that rewrites too much of one file or of one of its functions.

    Args:
        path: the file's repository-relative path (named in the refusal).
        before, after: its whole text now and after the edits.
        policy: the thresholds.

    Raises:
        EditRejected: ``rewrites 97% of the file (33 of 34 code lines; limit 30%)`` or
            ``rewrites 80% of orders() (4 of 5 code lines; limit 50%)``.
    """
    gone = removal(before, after)
    if len(gone.removed) > policy.small_removal_lines:
        _refuse_over(
            path, "the file", len(gone.removed), gone.code_lines, policy.max_file_removed_share
        )
    if not path.endswith(".py"):
        return
    for name, first, last in _functions(before):
        lines = before.splitlines()[first - 1 : last]
        total = sum(1 for text in lines if text.strip())
        removed = sum(1 for n in gone.removed if first <= n <= last)
        if removed > policy.small_removal_lines:
            _refuse_over(path, f"{name}()", removed, total, policy.max_function_removed_share)


def _refuse_over(path: str, what: str, removed: int, total: int, limit: float) -> None:
    share = removed / total if total else 0.0
    if share > limit:
        raise EditRejected(
            path,
            f"rewrites {share:.0%} of {what} ({removed} of {total} code lines; "
            f"limit {limit:.0%}): propose a smaller fix",
        )


def _functions(source: str) -> list[tuple[str, int, int]]:
    """(name, first line with decorators, last line) of every function in ``source``."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    return [
        (
            node.name,
            min([node.lineno] + [d.lineno for d in node.decorator_list]),
            node.end_lineno or node.lineno,
        )
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]
