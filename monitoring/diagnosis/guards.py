"""Diagnosis playbooks: small, syntax-aware edits built with :mod:`ast` from the evidence.

Three edits, each produced only when it is clearly safe, else None (the playbook then says
"needs investigation"):

- :func:`key_guard`: an unknown-key lookup ``C[K]`` in a request handler gets a guard
  ``if K not in C: <client error 404>`` before the statement (K and C must be plain names,
  attributes, subscripts or constants, so evaluating them twice changes nothing);
- :func:`parse_guard`: a one-line statement in a request handler that parses a handler
  parameter (``json.loads(rid)``, ``int(x)``...) is wrapped in ``try``/``except <the logged
  exception>`` that answers with a 422 client error;
- :func:`raise_literal`: the one numeric literal equal to a limit's current value in the
  limit's definition is replaced by a larger value.

A client error is raised the way the file already can (:func:`client_error`): FastAPI or
Starlette ``HTTPException``, Flask ``abort``, Django ``Http404``; files that import none of
them get no guard. Every edit keeps whole lines, and its result must parse.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from dataclasses import dataclass

from core.proposals import Edit
from monitoring.diagnosis.emitters import Definition, enclosing_function
from monitoring.diagnosis.repo import RepoIndex

KEY_GUARD_STATUS = 404
PARSE_GUARD_STATUS = 422
#: Lines an edit's ``old_text`` may grow upwards to become unique in its file.
MAX_UNIQUE_EXTRA_LINES = 5

_ROUTE_NAMES = frozenset(
    {
        "get",
        "post",
        "put",
        "patch",
        "delete",
        "head",
        "options",
        "route",
        "api_route",
        "websocket",
        "view",
    }
)
_PARSERS = frozenset(
    {
        "json.loads",
        "loads",
        "int",
        "float",
        "uuid.UUID",
        "UUID",
        "Decimal",
        "datetime.fromisoformat",
        "date.fromisoformat",
    }
)
_PURE_NODES = (ast.Name, ast.Attribute, ast.Subscript, ast.Constant, ast.Load)


@dataclass(frozen=True)
class ClientError:
    """How a file answers a request with a client error.

    Attributes:
        render: (status, detail) -> one statement raising it, or None when this framework
            has no such status (Django's ``Http404`` is 404 only).
    """

    render: Callable[[int, str], str | None]


@dataclass(frozen=True)
class GuardEdit:
    """An edit with the facts a playbook words its root cause with."""

    edit: Edit
    facts: dict[str, str]


def client_error(tree: ast.Module) -> ClientError | None:
    """The client-error form the module's imports allow, or None."""
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                found = _client_error_for(node.module, alias.name, alias.asname or alias.name)
                if found:
                    return found
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "fastapi":
                    name = f"{alias.asname or 'fastapi'}.HTTPException"
                    return _client_error_for("fastapi", "HTTPException", name)
    return None


def _client_error_for(module: str, name: str, local: str) -> ClientError | None:
    if name == "HTTPException" and module in ("fastapi", "starlette.exceptions"):
        return ClientError(lambda s, d: f"raise {local}(status_code={s}, detail={_q(d)})")
    if module == "flask" and name == "abort":
        return ClientError(lambda s, d: f"{local}({s}, description={_q(d)})")
    if module == "django.http" and name == "Http404":
        return ClientError(lambda s, d: f"raise {local}({_q(d)})" if s == 404 else None)
    return None


def _q(text: str) -> str:
    return json.dumps(text)


def is_request_handler(function: ast.AST) -> bool:
    """True for a function routed by a web framework decorator or taking ``request``."""
    if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name in _ROUTE_NAMES or "route" in name:
            return True
    params = function.args.posonlyargs + function.args.args
    return bool(params) and params[0].arg in ("request", "req")


def key_guard(index: RepoIndex, path: str, line: int, missing: object) -> GuardEdit | None:
    """A guard for the lookup on ``line`` that raised ``KeyError(missing)``.

    Args:
        missing: the key from the exception message (``ast.literal_eval`` of it), or
            None when unknown; it picks the subscript whose constant key it equals, else
            the one subscript with a computed key.
    """
    found = _handler_statement(index, path, line)
    if found is None:
        return None
    _tree, function, statement, error = found
    lookup = _lookup(statement, line, missing)
    if lookup is None or _is_target(statement, lookup):
        return None
    text = index.text(path) or ""
    key, container = _src(text, lookup.slice), _src(text, lookup.value)
    label = _label(lookup.slice)
    raise_line = error.render(KEY_GUARD_STATUS, f"unknown {label}")
    if raise_line is None:
        return None
    indent, unit = _indent(index, path, statement.lineno), _indent_unit(index, path)
    guard = [f"{indent}if {key} not in {container}:", f"{indent}{unit}{raise_line}"]
    edit = _insert_before(index, path, statement, guard)
    facts = {
        "key": key,
        "container": container,
        "label": label,
        "function": function.name,
        "status": str(KEY_GUARD_STATUS),
    }
    return GuardEdit(edit=edit, facts=facts) if edit else None


def parse_guard(index: RepoIndex, path: str, line: int, exception: str) -> GuardEdit | None:
    """A ``try``/``except`` around a one-line parse of a handler parameter on ``line``."""
    found = _handler_statement(index, path, line)
    if found is None:
        return None
    tree, function, statement, error = found
    catch = _catchable(tree, exception)
    params = {
        a.arg for a in function.args.posonlyargs + function.args.args + function.args.kwonlyargs
    }
    call = _parser_call(statement, params)
    if catch is None or call is None or statement.lineno != statement.end_lineno:
        return None
    text = index.text(path) or ""
    argument = _src(text, call.args[0])
    detail = f"{argument} is not valid JSON" if "JSON" in exception else f"invalid {argument}"
    raise_line = error.render(PARSE_GUARD_STATUS, detail)
    if raise_line is None:
        return None
    if raise_line.startswith("raise "):
        raise_line += " from None"
    indent, unit = _indent(index, path, statement.lineno), _indent_unit(index, path)
    original = index.lines(path)[statement.lineno - 1]
    wrapped = [
        f"{indent}try:",
        f"{unit}{original}",
        f"{indent}except {catch}:",
        f"{indent}{unit}{raise_line}",
    ]
    edit = _replace_statement(index, path, statement, wrapped)
    facts = {
        "argument": argument,
        "call": _src(text, call),
        "function": function.name,
        "exception": catch,
        "status": str(PARSE_GUARD_STATUS),
    }
    return GuardEdit(edit=edit, facts=facts) if edit else None


def raise_literal(
    index: RepoIndex, definition: Definition, current: int, proposed: int
) -> Edit | None:
    """Replace the one literal ``current`` (``3000`` or ``"3000"``) in a definition."""
    tree = index.tree(definition.path)
    statement = _statement_starting(tree, definition.line) if tree else None
    if statement is None:
        return None
    hits = [
        node
        for node in ast.walk(statement)
        if isinstance(node, ast.Constant)
        and not isinstance(node.value, bool)
        and (node.value == current or node.value == str(current))
    ]
    if len(hits) != 1 or hits[0].lineno != hits[0].end_lineno:
        return None
    node = hits[0]
    lines = index.lines(definition.path)
    raw = lines[node.lineno - 1].encode("utf-8")
    literal = str(proposed) if isinstance(node.value, int) else _q(str(proposed))
    changed = raw[: node.col_offset] + literal.encode() + raw[node.end_col_offset or 0 :]
    new_lines = list(lines)
    new_lines[node.lineno - 1] = changed.decode("utf-8")
    return _whole_lines_edit(
        index,
        definition.path,
        statement.lineno,
        statement.end_lineno or statement.lineno,
        new_lines[statement.lineno - 1 : statement.end_lineno],
    )


# --- finding the statement ---------------------------------------------------------------


def _handler_statement(index: RepoIndex, path: str, line: int):
    """(tree, handler function, simple statement on ``line``, client error) or None."""
    tree = index.tree(path)
    if tree is None:
        return None
    error = client_error(tree)
    function = enclosing_function(tree, line)
    statement = _statement_starting_on_line(tree, line)
    if error is None or function is None or statement is None:
        return None
    if not is_request_handler(function) or not _alone(index, path, statement):
        return None
    return tree, function, statement, error


def _alone(index: RepoIndex, path: str, statement: ast.stmt) -> bool:
    """True when nothing but the statement (and a comment) is on its lines."""
    lines = index.lines(path)
    first = lines[statement.lineno - 1].encode("utf-8")
    last = lines[(statement.end_lineno or statement.lineno) - 1].encode("utf-8")
    after = last[statement.end_col_offset or 0 :].decode("utf-8", errors="replace").strip()
    return not first[: statement.col_offset].strip() and (not after or after.startswith("#"))


def _statement_starting_on_line(tree: ast.AST, line: int) -> ast.stmt | None:
    """The simple statement spanning ``line`` that alone occupies its first line."""
    simple = (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Expr, ast.Return)
    for node in ast.walk(tree):
        if isinstance(node, simple) and node.lineno <= line <= (node.end_lineno or node.lineno):
            return node
    return None


def _statement_starting(tree: ast.AST, line: int) -> ast.stmt | None:
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt) and node.lineno == line:
            return node
    return None


def _lookup(statement: ast.stmt, line: int, missing: object) -> ast.Subscript | None:
    subscripts = [
        n
        for n in ast.walk(statement)
        if isinstance(n, ast.Subscript)
        and isinstance(n.ctx, ast.Load)
        and n.lineno <= line <= (n.end_lineno or 0)
        and not isinstance(n.slice, ast.Slice)
    ]
    exact = [
        n
        for n in subscripts
        if isinstance(n.slice, ast.Constant) and missing is not None and n.slice.value == missing
    ]
    computed = [n for n in subscripts if not isinstance(n.slice, ast.Constant)]
    chosen = exact or computed
    if len(chosen) != 1 or not (_pure(chosen[0].value) and _pure(chosen[0].slice)):
        return None
    return chosen[0]


def _is_target(statement: ast.stmt, node: ast.AST) -> bool:
    targets = getattr(statement, "targets", None) or [getattr(statement, "target", None)]
    return any(t is not None and any(n is node for n in ast.walk(t)) for t in targets)


def _pure(node: ast.AST) -> bool:
    return all(isinstance(n, _PURE_NODES) for n in ast.walk(node))


def _label(node: ast.AST) -> str:
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        return str(node.slice.value)
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return "key"


def _parser_call(statement: ast.stmt, params: set[str]) -> ast.Call | None:
    calls = [
        n
        for n in ast.walk(statement)
        if isinstance(n, ast.Call)
        and ast.unparse(n.func) in _PARSERS
        and n.args
        and {x.id for x in ast.walk(n.args[0]) if isinstance(x, ast.Name)} & params
    ]
    return calls[0] if len(calls) == 1 else None


def _catchable(tree: ast.Module, exception: str) -> str | None:
    """How the module can name the exception class (``json.JSONDecodeError``)."""
    short = exception.rsplit(".", 1)[-1]
    if short in ("ValueError", "TypeError"):
        return short
    if short == "JSONDecodeError":
        imported = {
            a.asname or a.name for n in tree.body if isinstance(n, ast.Import) for a in n.names
        }
        if "json" in imported:
            return "json.JSONDecodeError"
        return "ValueError"  # JSONDecodeError is a ValueError
    return None


def _src(text: str, node: ast.AST) -> str:
    return ast.get_source_segment(text, node) or ast.unparse(node)


# --- building whole-line edits -----------------------------------------------------------


def _indent(index: RepoIndex, path: str, line: int) -> str:
    content = index.lines(path)[line - 1]
    return content[: len(content) - len(content.lstrip())]


def _indent_unit(index: RepoIndex, path: str) -> str:
    for content in index.lines(path):
        stripped = content.lstrip()
        if stripped and content != stripped:
            return "\t" if content.startswith("\t") else " " * 4
    return " " * 4


def _insert_before(index: RepoIndex, path: str, statement: ast.stmt, new: list[str]) -> Edit | None:
    start, end = statement.lineno, statement.end_lineno or statement.lineno
    original = index.lines(path)[start - 1 : end]
    return _whole_lines_edit(index, path, start, end, new + original)


def _replace_statement(
    index: RepoIndex, path: str, statement: ast.stmt, new: list[str]
) -> Edit | None:
    return _whole_lines_edit(
        index, path, statement.lineno, statement.end_lineno or statement.lineno, new
    )


def _whole_lines_edit(
    index: RepoIndex, path: str, start: int, end: int, new: list[str]
) -> Edit | None:
    """Replace lines ``start..end`` by ``new``, growing ``old_text`` upwards until unique.

    Returns None when no unique ``old_text`` exists or the result would not parse.
    """
    text = index.text(path) or ""
    lines = index.lines(path)
    for extra in range(MAX_UNIQUE_EXTRA_LINES + 1):
        first = start - extra
        if first < 1:
            return None
        old = "\n".join(lines[first - 1 : end])
        if text.count(old) == 1:
            edit = Edit(
                path=path, old_text=old, new_text="\n".join(lines[first - 1 : start - 1] + new)
            )
            return edit if _parses(text.replace(old, edit.new_text, 1)) else None
    return None


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True
