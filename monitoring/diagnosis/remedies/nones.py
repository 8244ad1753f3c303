"""Diagnosis remedies: None where a value was expected, from a lookup that can miss.

The raising line uses a name ``x`` as a value (``x.attr``, ``x[k]``, ``x + 1``) and the
exception says it was None (``'NoneType' object has no attribute``, ``... is not
subscriptable``, ``unsupported operand type(s) for +: 'NoneType' and 'int'``). ``x`` must
come from a lookup that returns None on a miss (``C.get(k)``, ``.find``, ``.first()``,
``re.match``..., or a repository function that can return None: it says ``return None``,
is annotated ``... | None``, or returns such a lookup), assigned in the same function before
that line:

- in a request handler, when ``k`` holds what the client sent: the client named something
  that does not exist: ``if x is None:`` answers 404 before the line;
- in a function that already returns None somewhere: ``if x is None: return None``.

Otherwise no edit: whether a miss is an error or needs a default (and which: 0 is no
surcharge but a free conversion) is not in the evidence.
"""

from __future__ import annotations

import ast
import re

from monitoring.diagnosis.remedies.base import (
    Failure,
    Remedy,
    SourceFile,
    assignment_of,
    label,
    nodes_on,
)
from monitoring.diagnosis.remedies.calls import resolve
from monitoring.diagnosis.remedies.empty import may_return_none
from monitoring.diagnosis.remedies.web import handler_at, reads_any

MISSING_STATUS = 404
_NONE_MESSAGE = re.compile(r"'NoneType' object|NoneType' and|and 'NoneType'")
_MISSING_LOOKUPS = frozenset(
    {"get", "find", "first", "one_or_none", "get_or_none", "match", "search", "fullmatch"}
)

ROOT_NONE = (
    "{function}() in {path} uses {name} from `{lookup}`, which returns None when nothing "
    "matches, and for some inputs nothing does ({message}, {times})."
)
REASON_HANDLER = (
    "Answer {status} for an unknown {label} instead of crashing with a 500 when the "
    "lookup finds nothing."
)
RISK_HANDLER = "Clients that send an unknown {label} now get {status} instead of 500."
TITLE_HANDLER = "Answer {status} for an unknown {label} in {function}()"
REASON_RETURN_NONE = "Return None when the lookup finds nothing, as the function does elsewhere."
RISK_RETURN_NONE = "Callers get None for an unknown {label}, as they already can."
TITLE_RETURN_NONE = "Return None for an unknown {label} in {function}()"


def remedy(failure: Failure, facts: dict[str, object]) -> Remedy | None:
    """The None remedy (see the module docstring), or None when the pattern is not there."""
    statement, function = failure.statement, failure.function
    if statement is None or function is None or not _NONE_MESSAGE.search(failure.message):
        return None
    found = _missing_value(failure, statement)
    if found is None:
        return None
    name, call = found
    source = failure.source
    key = call.args[0] if call.args else None
    facts = {
        **facts,
        "name": name,
        "lookup": source.src(call),
        "label": label(key) if key is not None else name,
        "status": MISSING_STATUS,
    }
    root = ROOT_NONE.format(**facts)
    indent, unit = source.indent(statement.lineno), source.unit
    handler = handler_at(failure)
    if handler is not None and key is not None and reads_any(key, handler.inputs):
        answer = handler.error.render(MISSING_STATUS, f"unknown {facts['label']}")
        texts = (REASON_HANDLER, RISK_HANDLER, TITLE_HANDLER)
    elif may_return_none(function):
        answer, texts = "return None", (REASON_RETURN_NONE, RISK_RETURN_NONE, TITLE_RETURN_NONE)
    else:
        return Remedy(root=root)
    if answer is None:
        return Remedy(root=root)
    edit = source.insert_before(
        statement, [f"{indent}if {name} is None:", f"{indent}{unit}{answer}"]
    )
    return _remedy(root, edit, texts, facts)


def _remedy(root, edit, texts, facts) -> Remedy:
    if edit is None:
        return Remedy(root=root)
    reason, risk, title = (text.format(**facts) for text in texts)
    return Remedy(root=root, edits=[edit], reasoning=reason, risk_notes=risk, title=title)


def _missing_value(failure: Failure, statement: ast.stmt):
    """(name, the lookup call it was assigned from) for the one name on the line that comes
    from a lookup that can miss, or None."""
    assert failure.function is not None
    names = {
        n.id for n in nodes_on(statement, failure.line, ast.Name) if isinstance(n.ctx, ast.Load)
    }
    found = []
    for name in sorted(names):
        assignment = assignment_of(failure.function, name, statement.lineno)
        if assignment is None or not isinstance(assignment.value, ast.Call):
            continue
        if _can_miss(failure.source, assignment.value):
            found.append((name, assignment.value))
    return found[0] if len(found) == 1 else None


def _can_miss(source: SourceFile, call: ast.Call) -> bool:
    """True when ``call`` returns None when nothing matches (see the module docstring)."""
    if _lookup_name(call) in _MISSING_LOOKUPS:
        return True
    found = resolve(source, call)
    if found is None:
        return False
    function = found[1]
    returned = [n.value for n in ast.walk(function) if isinstance(n, ast.Return) and n.value]
    return may_return_none(function) or any(
        isinstance(value, ast.Call) and _lookup_name(value) in _MISSING_LOOKUPS
        for value in returned
    )


def _lookup_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
