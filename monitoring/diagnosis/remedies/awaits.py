"""Diagnosis remedies: a coroutine used as a value, the missing ``await``.

The exception says a ``'coroutine' object`` was subscripted, iterated or asked for an
attribute. In an ``async def``, the value on the raising line is a call to a function the
repository defines with ``async def`` (same module, ``from m import f``, ``import m`` /
``m.f``, or ``self.f`` in the same class), either on that line or assigned to the name the
line uses: that call gets ``await``. Nothing else changes, and awaiting a coroutine is what
its author meant in every reading.
"""

from __future__ import annotations

import ast

from monitoring.diagnosis.remedies.base import Failure, Remedy, SourceFile, assignment_of, nodes_on
from monitoring.diagnosis.remedies.calls import resolve

ROOT_AWAIT = (
    "{function}() in {path} calls {callee}(), which is `async def`, without `await`, so it "
    "gets a coroutine object instead of the result and uses it as one ({exception}: "
    "{message}, {times}); the coroutine itself never runs."
)
REASON_AWAIT = "Await the call: `{fixed}`."
RISK_AWAIT = "None expected: the call now runs, as its caller meant it to."
TITLE_AWAIT = "Await {callee}() in {function}()"


def applies(failure: Failure) -> bool:
    """True when the exception says a coroutine object was used as a value."""
    return "'coroutine' object" in failure.message


def remedy(failure: Failure, facts: dict[str, object]) -> Remedy | None:
    """The missing-await remedy, or None when no unawaited call to an async def is found."""
    statement, function = failure.statement, failure.function
    if statement is None or not isinstance(function, ast.AsyncFunctionDef):
        return None
    source = failure.source
    calls = [c for c in nodes_on(statement, failure.line, ast.Call) if _unawaited(source, c)]
    for name in nodes_on(statement, failure.line, ast.Name):
        assigned = assignment_of(function, name.id, statement.lineno)
        call = assigned.value if assigned is not None else None
        if isinstance(call, ast.Call) and _unawaited(source, call):
            calls.append(call)
    found = [c for c in calls if _is_async(source, c)]
    if len({id(c) for c in found}) != 1:
        return None
    call = found[0]
    parent = source.parents.get(call)
    needs_parens = isinstance(parent, (ast.Subscript, ast.Attribute, ast.Call))
    fixed = f"(await {source.src(call)})" if needs_parens else f"await {source.src(call)}"
    edit = source.replace_segment(call, fixed)
    if edit is None:
        return None
    facts = {**facts, "callee": ast.unparse(call.func), "fixed": fixed}
    return Remedy(
        root=ROOT_AWAIT.format(**facts),
        edits=[edit],
        reasoning=REASON_AWAIT.format(**facts),
        risk_notes=RISK_AWAIT,
        title=TITLE_AWAIT.format(**facts),
    )


def _unawaited(source: SourceFile, call: ast.Call) -> bool:
    return not isinstance(source.parents.get(call), ast.Await)


def _is_async(source: SourceFile, call: ast.Call) -> bool:
    """True when the callee resolves to an ``async def`` in the repository."""
    found = resolve(source, call)
    return found is not None and isinstance(found[1], ast.AsyncFunctionDef)
