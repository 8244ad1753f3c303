"""Diagnosis remedies: ZeroDivisionError and IndexError on an empty collection.

- ZeroDivisionError: the one division on the raising line whose divisor counts something
  (``len(x)``, a name assigned from ``len``/``sum``/``.count``, or named like a count)
  becomes ``(a / b if b else 0.0)``: an average, share or rate of nothing is 0, and every
  non-empty case is unchanged. A divisor that is not a count (a rate, a price) gets no edit:
  zero there is a data problem, and 0 would hide it.
- IndexError: ``C[0]`` or ``C[-1]`` (a constant index) on an empty ``C``: in a request handler,
  ``if not C:`` answers 404 ("no <what>"); in a function that already returns None
  somewhere (or is annotated ``... | None``), ``if not C: return None``. Otherwise no edit:
  what the caller expects of "nothing" cannot be told.
"""

from __future__ import annotations

import ast
import re

from monitoring.diagnosis.remedies.base import (
    Failure,
    Function,
    Remedy,
    assignment_of,
    is_pure,
    label,
    nodes_on,
)
from monitoring.diagnosis.remedies.web import handler_at

EMPTY_STATUS = 404
_COUNT_NAME = re.compile(r"count|total|len|size|num|number|days|items|^n$|^n_", re.IGNORECASE)
_COUNTING_CALLS = frozenset({"len", "sum", "count"})
_NO_PARENS = (ast.Assign, ast.AnnAssign, ast.Return, ast.keyword, ast.Dict, ast.Call)

ROOT_ZERO = (
    "{function}() in {path} divides by `{denominator}`, which is zero here (e.g. an empty "
    "collection on a fresh deploy), so it fails with ZeroDivisionError ({times})."
)
REASON_ZERO = (
    "Answer {zero} when `{denominator}` is zero, as the {what} of nothing; every other "
    "case is computed as before."
)
RISK_ZERO = "Callers see {zero} instead of an error when there is nothing to count yet."
TITLE_ZERO = "Return {zero} instead of dividing by zero in {function}()"
ROOT_INDEX = (
    "{function}() in {path} takes `{subscript}` but {collection} is empty for some "
    "requests ({message}, {times})."
)
REASON_INDEX_HANDLER = (
    "Answer {status} (no {label}) when {collection} is empty instead of crashing with a 500."
)
REASON_INDEX_NONE = (
    "Return None when {collection} is empty, as the function already does elsewhere."
)
RISK_INDEX = "Callers get {answer} instead of an error when there is nothing yet."
TITLE_INDEX = "Handle an empty {label} in {function}()"


def zero_division(failure: Failure, facts: dict[str, object]) -> Remedy | None:
    """The ZeroDivisionError remedy (see the module docstring), or None."""
    statement, function = failure.statement, failure.function
    if statement is None or function is None:
        return None
    divisions = [
        n
        for n in nodes_on(statement, failure.line, ast.BinOp)
        if isinstance(n.op, (ast.Div, ast.FloorDiv, ast.Mod))
        and not (isinstance(n.right, ast.Constant) and n.right.value)
    ]
    if len(divisions) != 1:
        return None
    division = divisions[0]
    source = failure.source
    denominator = source.src(division.right)
    zero = "0.0" if isinstance(division.op, ast.Div) else "0"
    facts = {**facts, "denominator": denominator, "zero": zero, "what": _what(function)}
    root = ROOT_ZERO.format(**facts)
    if not (is_pure(division.right) and _counts(function, division.right, failure.line)):
        return Remedy(root=root)
    guarded = f"{source.src(division)} if {denominator} else {zero}"
    if not isinstance(source.parents.get(division), _NO_PARENS):
        guarded = f"({guarded})"
    edit = source.replace_segment(division, guarded)
    if edit is None:
        return Remedy(root=root)
    return Remedy(
        root=root,
        edits=[edit],
        reasoning=REASON_ZERO.format(**facts),
        risk_notes=RISK_ZERO.format(**facts),
        title=TITLE_ZERO.format(**facts),
    )


def index_error(failure: Failure, facts: dict[str, object]) -> Remedy | None:
    """The IndexError remedy (see the module docstring), or None."""
    statement, function = failure.statement, failure.function
    if statement is None or function is None:
        return None
    picks = [
        n
        for n in nodes_on(statement, failure.line, ast.Subscript)
        if isinstance(n.ctx, ast.Load) and _constant_index(n.slice) and is_pure(n.value)
    ]
    if len(picks) != 1:
        return None
    pick = picks[0]
    source = failure.source
    collection = source.src(pick.value)
    facts = {
        **facts,
        "subscript": source.src(pick),
        "collection": collection,
        "label": label(pick.value),
        "status": EMPTY_STATUS,
    }
    root = ROOT_INDEX.format(**facts)
    indent, unit = source.indent(statement.lineno), source.unit
    handler = handler_at(failure)
    if handler is not None:
        answer = handler.error.render(EMPTY_STATUS, f"no {facts['label']}")
        reason, outcome = REASON_INDEX_HANDLER, f"{EMPTY_STATUS}"
    elif may_return_none(function):
        answer, reason, outcome = "return None", REASON_INDEX_NONE, "None"
    else:
        return Remedy(root=root)
    if answer is None:
        return Remedy(root=root)
    edit = source.insert_before(
        statement, [f"{indent}if not {collection}:", f"{indent}{unit}{answer}"]
    )
    if edit is None:
        return Remedy(root=root)
    return Remedy(
        root=root,
        edits=[edit],
        reasoning=reason.format(**facts),
        risk_notes=RISK_INDEX.format(answer=outcome),
        title=TITLE_INDEX.format(**facts),
    )


def may_return_none(function: Function) -> bool:
    """True when the function returns None explicitly somewhere, or is annotated so."""
    returns = function.returns
    if returns is not None:
        text = ast.unparse(returns)
        if "None" in text or "Optional" in text:
            return True
    return any(
        isinstance(n, ast.Return) and isinstance(n.value, ast.Constant) and n.value.value is None
        for n in ast.walk(function)
    )


def _constant_index(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    return isinstance(node, ast.Constant) and type(node.value) is int


def _counts(function: Function, node: ast.expr, line: int) -> bool:
    """True when the divisor counts things (see the module docstring)."""
    if isinstance(node, ast.Call):
        return _call_name(node) in _COUNTING_CALLS
    name = label(node)
    if isinstance(node, ast.Name):
        assigned = assignment_of(function, node.id, line)
        if assigned is not None and isinstance(assigned.value, ast.Call):
            return _call_name(assigned.value) in _COUNTING_CALLS
    return bool(_COUNT_NAME.search(name))


def _call_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _what(function: Function) -> str:
    name = function.name.lower()
    for word in ("average", "mean", "rate", "ratio", "share", "percent"):
        if word in name:
            return word
    return "result"
