"""Diagnosis remedies: KeyError, a lookup of a key that is not there.

The evidence rules, in order (``C[K]`` is the lookup on the raising line that the logged
key picks: the subscript whose constant key equals it, else the one with a computed key):

1. ``C[K] += n`` with a number ``n``: a counter that meets a new key; ``C[K] =
   C.get(K, 0) + n`` (0 is the only start a count can have).
2. In a request handler, ``K`` holds what the client sent and ``C`` is the service's own
   data: the client asked for something that does not exist; guard ``if K not in C``
   with a 404 client error (the module must be able to raise one).
3. ``C`` holds what the client (or a message's producer) sent and ``K`` is a constant: a
   field is missing from the input. Whether it is required (answer 422 naming it) or
   optional (read it with ``.get`` and a default) cannot be told from the evidence, and
   either edit is wrong in the other reading: no edit, and the root cause says both.
4. Anything else: no edit; the root cause names the lookup.
"""

from __future__ import annotations

import ast
import contextlib

from monitoring.diagnosis.remedies.base import Failure, Remedy, is_pure, label, nodes_on
from monitoring.diagnosis.remedies.web import handler_at, inputs_of, reads_any

UNKNOWN_KEY_STATUS = 404

ROOT_UNKNOWN = (
    "{function}() in {path} looks up {key} in {container} without checking that it exists; "
    "a request with an unknown {label} ({message} in the newest sample) raises KeyError, "
    "which the server answers with a 500 error ({times})."
)
REASON_UNKNOWN = (
    "Check that {label} exists before the lookup and answer with a clear {status} client "
    "error instead of crashing with a 500."
)
RISK_UNKNOWN = (
    "Clients that send an unknown {label} now get {status} instead of 500. If that key "
    "should always exist, what fills {container} needs a look as well."
)
TITLE_UNKNOWN = "Answer {status} for an unknown {label} in {function}()"
ROOT_MISSING_FIELD = (
    "{function}() in {path} reads the field {message} from {container} ({source}), but "
    "some {senders} leave it out, so the lookup raises KeyError ({times}). If {message} is "
    "optional, read it with `{container}.get({key})` and a default; if it is required, "
    "reject the input with a message naming {message}. The evidence cannot tell which, "
    "and each edit is wrong in the other reading, so none is proposed."
)
REASON_MISSING_FIELD = (
    "Needs a decision: is {message} optional (use a default) or required (reject the input "
    "naming it)?"
)
ROOT_COUNTER = (
    "{function}() in {path} adds to {container}[{key}] before that key has a value, so the "
    "first {label} of its kind raises KeyError ({message}, {times})."
)
REASON_COUNTER = "Start a missing count at 0: `{container}.get({key}, 0) {op} {value}`."
RISK_COUNTER = "None expected: existing keys add up as before."
TITLE_COUNTER = "Start a missing count at 0 in {function}()"
ROOT_OTHER = (
    "{function}() in {path} looks up {key} in {container} and the key {message} is not "
    "there ({times}); whether a missing key is an error or needs a default here cannot "
    "be told from the evidence."
)


def remedy(failure: Failure, facts: dict[str, object]) -> Remedy | None:
    """The KeyError remedy (see the module docstring), or None when no lookup is found."""
    statement = failure.statement
    if statement is None or failure.function is None:
        return None
    counter = _counter(failure, statement, facts)
    if counter is not None:
        return counter
    lookup = _lookup(statement, failure.line, literal(failure.message))
    if lookup is None:
        return None
    source = failure.source
    facts = {
        **facts,
        "key": source.src(lookup.slice),
        "container": source.src(lookup.value),
        "label": label(lookup.slice),
    }
    handler = handler_at(failure)
    inputs = handler.inputs if handler else inputs_of(failure)
    if isinstance(lookup.slice, ast.Constant) and reads_any(lookup.value, inputs):
        facts["source"] = "the request" if handler else "its arguments"
        facts["senders"] = "clients" if handler else "callers"
        return Remedy(
            root=ROOT_MISSING_FIELD.format(**facts),
            reasoning=REASON_MISSING_FIELD.format(**facts),
        )
    if handler and reads_any(lookup.slice, inputs) and not reads_any(lookup.value, inputs):
        return _guard(failure, statement, lookup, handler.error.render, facts)
    return Remedy(root=ROOT_OTHER.format(**facts))


def _guard(failure, statement, lookup, render, facts) -> Remedy | None:
    if _is_target(statement, lookup) or not (is_pure(lookup.value) and is_pure(lookup.slice)):
        return None
    raise_line = render(UNKNOWN_KEY_STATUS, f"unknown {facts['label']}")
    if raise_line is None:
        return None
    source = failure.source
    indent = source.indent(statement.lineno)
    guard = [
        f"{indent}if {facts['key']} not in {facts['container']}:",
        f"{indent}{source.unit}{raise_line}",
    ]
    edit = source.insert_before(statement, guard)
    if edit is None:
        return None
    facts = {**facts, "status": UNKNOWN_KEY_STATUS}
    return Remedy(
        root=ROOT_UNKNOWN.format(**facts),
        edits=[edit],
        reasoning=REASON_UNKNOWN.format(**facts),
        risk_notes=RISK_UNKNOWN.format(**facts),
        title=TITLE_UNKNOWN.format(**facts),
    )


def _counter(failure: Failure, statement: ast.stmt, facts: dict[str, object]) -> Remedy | None:
    """``C[K] += n`` -> ``C[K] = C.get(K, 0) + n`` (also ``-=``)."""
    if not (
        isinstance(statement, ast.AugAssign)
        and isinstance(statement.op, (ast.Add, ast.Sub))
        and isinstance(statement.target, ast.Subscript)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, (int, float))
        and not isinstance(statement.value.value, bool)
        and statement.lineno == statement.end_lineno
    ):
        return None
    target = statement.target
    if not (is_pure(target.value) and is_pure(target.slice)):
        return None
    source = failure.source
    op = "+" if isinstance(statement.op, ast.Add) else "-"
    facts = {
        **facts,
        "container": source.src(target.value),
        "key": source.src(target.slice),
        "label": label(target.slice),
        "op": op,
        "value": source.src(statement.value),
    }
    indent = source.indent(statement.lineno)
    line = "{indent}{container}[{key}] = {container}.get({key}, 0) {op} {value}".format(
        indent=indent, **facts
    )
    edit = source.replace(statement, [line])
    if edit is None:
        return None
    return Remedy(
        root=ROOT_COUNTER.format(**facts),
        edits=[edit],
        reasoning=REASON_COUNTER.format(**facts),
        risk_notes=RISK_COUNTER,
        title=TITLE_COUNTER.format(**facts),
    )


def _lookup(statement: ast.stmt, line: int, missing: object) -> ast.Subscript | None:
    subscripts = [
        n
        for n in nodes_on(statement, line, ast.Subscript)
        if isinstance(n.ctx, ast.Load) and not isinstance(n.slice, ast.Slice)
    ]
    exact = [
        n
        for n in subscripts
        if isinstance(n.slice, ast.Constant) and missing is not None and n.slice.value == missing
    ]
    computed = [n for n in subscripts if not isinstance(n.slice, ast.Constant)]
    chosen = exact or computed
    return chosen[0] if len(chosen) == 1 else None


def _is_target(statement: ast.stmt, node: ast.AST) -> bool:
    targets = getattr(statement, "targets", None) or [getattr(statement, "target", None)]
    return any(t is not None and any(n is node for n in ast.walk(t)) for t in targets)


def literal(text: str | None) -> object:
    """``ast.literal_eval`` of an exception message (``"'sku-9'"`` -> ``"sku-9"``), or None."""
    with contextlib.suppress(ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return ast.literal_eval(text) if text else None
    return None
