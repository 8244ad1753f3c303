"""Diagnosis remedies: a parse of input that does not parse (JSONDecodeError, ValueError).

- In a request handler, a one-line statement that parses what the client sent
  (``json.loads(x)``, ``int(request.args.get("page"))``, ``UUID(x)``...) is wrapped in
  ``try``/``except <the logged exception>`` that answers with a 422 client error: input that
  does not parse is the client's mistake in every reading.
- Outside a handler, a ``json.loads`` of the function's input that raised JSONDecodeError
  (a queue message, a file line) is skipped with a warning, when skipping is something the
  code already does: ``continue`` inside a loop over the inputs, or ``return`` from a
  function that returns no value; the warning goes to the module's logger. Otherwise, and
  for ``int()``/``float()`` outside handlers (a default may be meant), no edit.
"""

from __future__ import annotations

import ast

from monitoring.diagnosis.remedies.base import Failure, Function, Remedy, SourceFile, label
from monitoring.diagnosis.remedies.web import handler_at, inputs_of, reads_any

PARSE_ERROR_STATUS = 422
PARSERS = frozenset(
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

ROOT_PARSE = (
    "{function}() in {path} parses {argument} with `{call}` but clients send values that "
    "do not parse ({exception}: {message}); the error escapes as a 500 ({times})."
)
REASON_PARSE = (
    "Catch {catch} from `{call}` and answer with a clear {status} client error instead "
    "of crashing with a 500."
)
RISK_PARSE = "Clients that send a value that does not parse now get {status} instead of 500."
TITLE_PARSE = "Answer {status} when {label} does not parse in {function}()"
ROOT_SKIP = (
    "{function}() in {path} parses {argument} with `{call}`, and some inputs are not JSON "
    "({exception}: {message}, {times}); the exception escapes and the input is lost with "
    "a traceback instead of being set aside."
)
REASON_SKIP = (
    "Catch {catch} at the parse, log a warning with the parse error, and skip that input "
    "({how}); every other input is handled as before."
)
RISK_SKIP = (
    "Inputs that are not JSON are skipped with a warning instead of raising; if they must "
    "be kept, route them to a dead-letter queue instead."
)
TITLE_SKIP = "Skip input that is not JSON in {function}() with a warning"


def remedy(failure: Failure, facts: dict[str, object]) -> Remedy | None:
    """The parse remedy (see the module docstring), or None when no parse is found."""
    statement = failure.statement
    if statement is None or statement.lineno != statement.end_lineno:
        return None
    handler = handler_at(failure)
    inputs = handler.inputs if handler else inputs_of(failure)
    call = _parser_call(statement, inputs)
    catch = _catchable(failure.source, failure.exception)
    if call is None or catch is None:
        return None
    source = failure.source
    argument = source.src(call.args[0])
    facts = {
        **facts,
        "argument": argument,
        "call": source.src(call),
        "catch": catch,
        "label": label(call.args[0]),
        "status": PARSE_ERROR_STATUS,
    }
    if handler is not None:
        detail = f"{argument} is not valid JSON" if "JSON" in catch else f"invalid {argument}"
        raise_line = handler.error.render(PARSE_ERROR_STATUS, detail)
        if raise_line is None:
            return None
        if raise_line.startswith("raise "):
            raise_line += " from None"
        return _wrapped(failure, statement, catch, [raise_line], facts, handler=True)
    if failure.short != "JSONDecodeError" or failure.function is None:
        return None
    skip = _skip(source, failure.function, statement)
    logger = module_logger(source)
    if skip is None or logger is None:
        return None
    warning = f'{logger}.warning("{failure.function.name}: input skipped, not JSON: %s", error)'
    facts["how"] = "the next one" if skip == "continue" else "return"
    return _wrapped(failure, statement, f"{catch} as error", [warning, skip], facts, handler=False)


def _wrapped(failure, statement, catch, handler_lines, facts, *, handler: bool) -> Remedy | None:
    source = failure.source
    indent, unit = source.indent(statement.lineno), source.unit
    wrapped = [
        f"{indent}try:",
        f"{unit}{source.lines[statement.lineno - 1]}",
        f"{indent}except {catch}:",
        *(f"{indent}{unit}{line}" for line in handler_lines),
    ]
    edit = source.replace(statement, wrapped)
    if edit is None:
        return None
    texts = (ROOT_PARSE, REASON_PARSE, RISK_PARSE, TITLE_PARSE)
    if not handler:
        texts = (ROOT_SKIP, REASON_SKIP, RISK_SKIP, TITLE_SKIP)
    root, reason, risk, title = (text.format(**facts) for text in texts)
    return Remedy(root=root, edits=[edit], reasoning=reason, risk_notes=risk, title=title)


def _parser_call(statement: ast.stmt, inputs: frozenset[str]) -> ast.Call | None:
    calls = [
        n
        for n in ast.walk(statement)
        if isinstance(n, ast.Call)
        and ast.unparse(n.func) in PARSERS
        and n.args
        and reads_any(n.args[0], inputs)
    ]
    return calls[0] if len(calls) == 1 else None


def _catchable(source: SourceFile, exception: str) -> str | None:
    """How the module can name the exception class (``json.JSONDecodeError``)."""
    short = exception.rsplit(".", 1)[-1]
    if short in ("ValueError", "TypeError"):
        return short
    if short == "JSONDecodeError" and source.tree is not None:
        imported = {
            a.asname or a.name
            for n in source.tree.body
            if isinstance(n, ast.Import)
            for a in n.names
        }
        return "json.JSONDecodeError" if "json" in imported else "ValueError"
    return None


def _skip(source: SourceFile, function: Function, statement: ast.stmt) -> str | None:
    """``continue`` or ``return`` when the statement's block allows a skip, else None."""
    parent = source.parents.get(statement)
    if isinstance(parent, (ast.For, ast.AsyncFor)) and statement in parent.body:
        return "continue"
    if parent is function and not returns_value(function):
        return "return"
    return None


def returns_value(function: Function) -> bool:
    """True when the function (not its nested functions) returns something other than None."""
    for node in _own_nodes(function):
        value = node.value if isinstance(node, ast.Return) else None
        if value is not None and not (isinstance(value, ast.Constant) and value.value is None):
            return True
    return False


def _own_nodes(function: Function):
    stack = list(ast.iter_child_nodes(function))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            stack.extend(ast.iter_child_nodes(node))


def module_logger(source: SourceFile) -> str | None:
    """The name of the module's ``logging.getLogger(...)`` logger, if it has one."""
    for node in source.tree.body if source.tree else ():
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Call)
            and ast.unparse(node.value.func) in ("logging.getLogger", "getLogger")
        ):
            return node.targets[0].id
    return None
