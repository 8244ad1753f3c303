"""Diagnosis remedies: a pool exhausted because a path out of a function never gives back.

When the exception says a pool or a resource ran out (``PoolExhausted``, "no free
connection", "too many open files", SQLAlchemy's "QueuePool limit"), the in-app files of
the traceback are searched for the leak: in one block,

    x = <pool>.acquire()          (acquire, get_connection, getconn, checkout, connect, borrow)
    ...                           a return, raise, continue or break, and no release of x
    <pool>.release(x)             (release, putconn, checkin, give_back; or x.close())

where ``x`` is not handed on (returned or assigned elsewhere). The statements between
move into ``try:`` and the release into ``finally:``, so every path out gives ``x`` back
exactly once, which is what the release at the end meant. Exactly one such block must be
found; a block with a multi-line string between is left alone (re-indenting would change
the string).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from monitoring.diagnosis.remedies.base import Failure, Remedy, SourceFile

_EXHAUSTED = re.compile(
    r"exhaust|no (?:free|available|idle) (?:connection|slot|worker)|pool (?:is )?(?:full|"
    r"limit|timeout)|too many (?:open )?(?:connections|files|clients)|QueuePool limit",
    re.IGNORECASE,
)
_ACQUIRE = frozenset({"acquire", "get_connection", "getconn", "checkout", "connect", "borrow"})
_RELEASE = frozenset({"release", "putconn", "checkin", "give_back", "close"})
_EXITS = (ast.Return, ast.Raise, ast.Continue, ast.Break)

ROOT_LEAK = (
    "{function}() in {path} takes {name} with `{acquire}` and gives it back with "
    "`{release}` only at the end: the early {exit} on line {exit_line} leaves it taken, so "
    "the pool runs dry and later calls fail ({exception}: {message}, {times})."
)
REASON_LEAK = (
    "Give {name} back in a `finally:` so that every path out of the block releases it exactly once."
)
RISK_LEAK = "None expected: the paths that released before still release once."
TITLE_LEAK = "Release {name} on every path out of {function}()"


@dataclass(frozen=True)
class _Leak:
    source: SourceFile
    function: ast.FunctionDef | ast.AsyncFunctionDef
    acquire: ast.Assign
    release: ast.Expr
    exit: ast.stmt


def applies(failure: Failure) -> bool:
    """True when the exception says a pool or resource ran out."""
    return bool(_EXHAUSTED.search(f"{failure.exception} {failure.message}"))


def remedy(failure: Failure, facts: dict[str, object]) -> Remedy | None:
    """The leak remedy (see the module docstring), or None when no single leak is found."""
    index = failure.source.index
    leaks = []
    for path in dict.fromkeys(frame.path for frame in failure.frames):
        source = failure.source if path == failure.path else SourceFile(index, path)
        leaks.extend(_leaks(source))
    if len(leaks) != 1:
        return None
    leak = leaks[0]
    edit = _edit(leak)
    if edit is None:
        return None
    source = leak.source
    name = leak.acquire.targets[0]
    assert isinstance(name, ast.Name)
    facts = {
        **facts,
        "function": leak.function.name,
        "path": source.path,
        "name": name.id,
        "acquire": source.src(leak.acquire.value),
        "release": source.src(leak.release.value),
        "exit": type(leak.exit).__name__.lower(),
        "exit_line": leak.exit.lineno,
    }
    return Remedy(
        root=ROOT_LEAK.format(**facts),
        edits=[edit],
        reasoning=REASON_LEAK.format(**facts),
        risk_notes=RISK_LEAK,
        title=TITLE_LEAK.format(**facts),
    )


def _leaks(source: SourceFile) -> list[_Leak]:
    found: list[_Leak] = []
    for function in ast.walk(source.tree) if source.tree else ():
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for block in _blocks(function):
            found.extend(_in_block(source, function, block))
    return found


def _blocks(function: ast.AST) -> list[list[ast.stmt]]:
    blocks = []
    for node in ast.walk(function):
        for name in ("body", "orelse", "finalbody"):
            block = getattr(node, name, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                blocks.append(block)
    return blocks


def _in_block(source, function, block: list[ast.stmt]) -> list[_Leak]:
    found = []
    for start, statement in enumerate(block):
        name = _acquired(statement)
        if name is None or not isinstance(statement, ast.Assign):
            continue
        for end in range(start + 1, len(block)):
            release = block[end]
            if isinstance(release, ast.Expr) and _releases(release, name):
                between = block[start + 1 : end]
                exit_ = _leaking_exit(between, name)
                if exit_ is not None and _safe(source, between):
                    found.append(_Leak(source, function, statement, release, exit_))
                break
    return found


def _acquired(statement: ast.stmt) -> str | None:
    if (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
        and isinstance(statement.value, ast.Call)
        and isinstance(statement.value.func, ast.Attribute)
        and statement.value.func.attr in _ACQUIRE
    ):
        return statement.targets[0].id
    return None


def _releases(statement: ast.AST, name: str) -> bool:
    if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)):
        return False
    call = statement.value
    func = call.func
    if not isinstance(func, ast.Attribute) or func.attr not in _RELEASE:
        return False
    on_name = isinstance(func.value, ast.Name) and func.value.id == name and not call.args
    passes_name = any(isinstance(a, ast.Name) and a.id == name for a in call.args)
    return on_name or passes_name


def _leaking_exit(between: list[ast.stmt], name: str) -> ast.stmt | None:
    """The first exit among ``between`` when nothing there releases or hands on ``name``."""
    exits = []
    for statement in between:
        for node in ast.walk(statement):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                return None  # a closure might keep it: leave it to a person
            if _releases(node, name) or _hands_on(node, name):
                return None
            if isinstance(node, _EXITS):
                exits.append(node)
    return min(exits, key=lambda n: n.lineno) if exits else None


def _hands_on(node: ast.AST, name: str) -> bool:
    value = getattr(node, "value", None)
    if isinstance(node, (ast.Return, ast.Assign, ast.Yield)) and isinstance(value, ast.Name):
        return value.id == name
    return False


def _safe(source: SourceFile, between: list[ast.stmt]) -> bool:
    """No multi-line string among the statements (re-indenting would change it)."""
    return not any(
        isinstance(n, (ast.Constant, ast.JoinedStr)) and n.lineno != n.end_lineno
        for s in between
        for n in ast.walk(s)
    )


def _edit(leak: _Leak):
    source, acquire, release = leak.source, leak.acquire, leak.release
    indent, unit = source.indent(acquire.lineno), source.unit
    first, last = acquire.end_lineno or acquire.lineno, release.lineno
    moved = [f"{unit}{line}" if line.strip() else line for line in source.lines[first : last - 1]]
    released = [f"{unit}{line}" for line in source.statement_lines(release)]
    new = [
        *source.statement_lines(acquire),
        f"{indent}try:",
        *moved,
        f"{indent}finally:",
        *released,
    ]
    return source.edit_lines(acquire.lineno, release.end_lineno or release.lineno, new)
