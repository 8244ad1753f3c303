"""Diagnosis remedies: UnicodeDecodeError, bytes that are not in the encoding the code assumed.

The raising statement must hold exactly one ``<bytes>.decode(...)`` call (no ``errors=``
yet). When the statement assigns its result to one name (``text = raw.decode("utf-8")``),
a failed decode falls back to Latin-1, which maps every byte to a character: text exported
by legacy systems (the usual source of such bytes) reads correctly, and anything else
still decodes instead of raising. Otherwise the call gets ``errors="replace"`` (undecodable
bytes become U+FFFD). Both keep valid input exactly as before.
"""

from __future__ import annotations

import ast

from monitoring.diagnosis.remedies.base import Failure, Remedy, nodes_on

FALLBACK_ENCODING = "latin-1"

ROOT_DECODE = (
    "{function}() in {path} decodes {argument} as {encoding}, but some input is not "
    "{encoding} ({message}, {times}); the byte is typical of Latin-1 text from legacy "
    "exports, and the exception escapes."
)
REASON_FALLBACK = (
    "Decode as {encoding} first and fall back to Latin-1 when that fails: Latin-1 decodes "
    "every byte, so legacy text reads correctly and nothing raises."
)
REASON_REPLACE = 'Decode with errors="replace": undecodable bytes become U+FFFD instead of raising.'
RISK_DECODE = (
    "Input that is neither {encoding} nor Latin-1 text is read with wrong characters "
    "instead of failing; valid {encoding} input is unchanged."
)
TITLE_DECODE = "Read non-{encoding} input in {function}() instead of failing"


def remedy(failure: Failure, facts: dict[str, object]) -> Remedy | None:
    """The decode remedy (see the module docstring), or None when no decode call is found."""
    statement = failure.statement
    if statement is None:
        return None
    calls = [
        c
        for c in nodes_on(statement, failure.line, ast.Call)
        if isinstance(c.func, ast.Attribute) and c.func.attr == "decode"
    ]
    if len(calls) != 1 or any(k.arg == "errors" for k in calls[0].keywords):
        return None
    call = calls[0]
    encoding = _encoding(call)
    if encoding is None:
        return None
    source = failure.source
    assert isinstance(call.func, ast.Attribute)
    facts = {
        **facts,
        "argument": source.src(call.func.value),
        "encoding": encoding,
    }
    target = _single_name_target(statement, call)
    if target is not None and statement.lineno == statement.end_lineno:
        indent, unit = source.indent(statement.lineno), source.unit
        fallback = f"{source.src(call.func.value)}.decode({FALLBACK_ENCODING!r})".replace("'", '"')
        edit = source.replace(
            statement,
            [
                f"{indent}try:",
                f"{unit}{source.lines[statement.lineno - 1]}",
                f"{indent}except UnicodeDecodeError:",
                f"{indent}{unit}{target} = {fallback}",
            ],
        )
        reason = REASON_FALLBACK
    else:
        inner = source.src(call)
        edit = source.replace_segment(call, inner[:-1].rstrip() + _sep(call) + 'errors="replace")')
        reason = REASON_REPLACE
    if edit is None:
        return None
    return Remedy(
        root=ROOT_DECODE.format(**facts),
        edits=[edit],
        reasoning=reason.format(**facts),
        risk_notes=RISK_DECODE.format(**facts),
        title=TITLE_DECODE.format(**facts),
    )


def _encoding(call: ast.Call) -> str | None:
    """The encoding the call names (``utf-8`` when it names none), or None when computed."""
    argument = call.args[0] if call.args else None
    for keyword in call.keywords:
        if keyword.arg == "encoding":
            argument = keyword.value
    if argument is None:
        return "utf-8"
    if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
        return argument.value.lower()
    return None


def _single_name_target(statement: ast.stmt, call: ast.Call) -> str | None:
    """``name`` when the statement is ``name = <the decode call>``."""
    if (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
        and statement.value is call
    ):
        return statement.targets[0].id
    return None


def _sep(call: ast.Call) -> str:
    return ", " if call.args or call.keywords else ""
