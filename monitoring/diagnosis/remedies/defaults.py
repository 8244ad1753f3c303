"""Diagnosis remedies: a mutable default argument that every call shares.

Python evaluates ``def f(x, batch=[])`` once: every call that leaves ``batch`` out gets
the same list, so what one call appends, the next call sees again (duplicates, growing
state). Searched for when duplicates spike (the symptom) or when a traceback passes
through the function: in the evidence files, a function whose default is a list, dict or
set display (or ``list()``, ``dict()``, ``set()``) that its body mutates (``append``,
``extend``, ``add``, ``update``, ``insert``, ``setdefault``, ``x[k] = ...``, ``+=``). A name
that says it is meant to persist (``cache``, ``memo``, ``registry``, a leading ``_``) is left
alone. Exactly one such function: the default becomes ``None`` and the body starts with
``if x is None: x = <the display>``, which is what every caller that left it out expected.
"""

from __future__ import annotations

import ast
import re

from monitoring.diagnosis.remedies.base import Remedy, SourceFile
from monitoring.diagnosis.repo import RepoIndex

_MUTATORS = frozenset(
    {"append", "extend", "add", "update", "insert", "setdefault", "appendleft", "push"}
)
_MEANT_TO_PERSIST = re.compile(r"^_|cache|memo|registry|seen_forever", re.IGNORECASE)
_MUTABLE_CALLS = frozenset({"list", "dict", "set"})

ROOT_DEFAULT = (
    "{function}() in {path} takes `{param}={default}` as a default argument and adds to it: "
    "Python creates that {kind} once, so every call that leaves {param} out shares it and "
    "sees what earlier calls put there, which is how the same items come through again "
    "({headline}, {times})."
)
REASON_DEFAULT = "Default {param} to None and create a new {kind} in each call that leaves it out."
RISK_DEFAULT = "Callers that relied on items piling up across calls no longer see them."
TITLE_DEFAULT = "Give each call of {function}() its own {param}"


def remedy(index: RepoIndex, files: list[str], facts: dict[str, object]) -> Remedy | None:
    """The mutable-default remedy over the evidence ``files``, or None (none, or several)."""
    found: list[tuple[SourceFile, ast.FunctionDef | ast.AsyncFunctionDef, str, ast.expr]] = []
    for path in files:
        if not path.endswith(".py"):
            continue
        source = SourceFile(index, path)
        for function in ast.walk(source.tree) if source.tree else ():
            if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.extend((source, function, p, d) for p, d in _shared(function))
    if len(found) != 1:
        return None
    source, function, param, default = found[0]
    edit = _edit(source, function, param, default)
    if edit is None:
        return None
    facts = {
        **facts,
        "function": function.name,
        "path": source.path,
        "param": param,
        "default": source.src(default),
        "kind": _kind(default),
    }
    return Remedy(
        root=ROOT_DEFAULT.format(**facts),
        edits=[edit],
        reasoning=REASON_DEFAULT.format(**facts),
        risk_notes=RISK_DEFAULT,
        title=TITLE_DEFAULT.format(**facts),
    )


def _shared(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[tuple[str, ast.expr]]:
    """(parameter, default) pairs whose mutable default the body mutates."""
    args = function.args
    positional = args.posonlyargs + args.args
    pairs = list(
        zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True)
    )
    pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d]
    return [
        (arg.arg, default)
        for arg, default in pairs
        if _mutable(default)
        and not _MEANT_TO_PERSIST.search(arg.arg)
        and _mutated(function, arg.arg)
    ]


def _mutable(node: ast.expr) -> bool:
    if isinstance(node, (ast.List, ast.Dict, ast.Set)):
        return True
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _MUTABLE_CALLS
        and not node.args
    )


def _mutated(function: ast.AST, name: str) -> bool:
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if isinstance(owner, ast.Name) and owner.id == name and node.func.attr in _MUTATORS:
                return True
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AugAssign):
            targets = [node.target]
        for target in targets:
            base = target.value if isinstance(target, ast.Subscript) else target
            changes = isinstance(node, ast.AugAssign) or isinstance(target, ast.Subscript)
            if changes and isinstance(base, ast.Name) and base.id == name:
                return True
    return False


def _edit(source: SourceFile, function, param: str, default: ast.expr):
    """Two whole-line changes in one edit: the signature's default, and the first line of
    the body (after a docstring)."""
    body = function.body
    first = body[1] if _has_docstring(function) and len(body) > 1 else body[0]
    if (
        first.lineno <= (default.end_lineno or default.lineno)
        or default.lineno != default.end_lineno
    ):
        return None
    start, end = default.lineno, first.lineno - 1
    lines = list(source.lines[start - 1 : end])
    raw = lines[0].encode("utf-8")
    lines[0] = (raw[: default.col_offset] + b"None" + raw[default.end_col_offset or 0 :]).decode()
    indent = source.indent(first.lineno)
    guard = [
        f"{indent}if {param} is None:",
        f"{indent}{source.unit}{param} = {source.src(default)}",
    ]
    return source.edit_lines(start, end, lines + guard)


def _has_docstring(function) -> bool:
    first = function.body[0]
    return (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    )


def _kind(node: ast.expr) -> str:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id
    return {ast.List: "list", ast.Dict: "dict", ast.Set: "set"}.get(type(node), "object")
