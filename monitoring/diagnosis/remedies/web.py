"""Diagnosis remedies: request handlers, the client errors they can raise, and client input.

- :func:`client_error`: how a module can answer a request with a client error, from its
  imports: FastAPI or Starlette ``HTTPException``, Flask ``abort``, Django ``Http404``
  (404 only); a module that imports none of them gets no guard.
- :func:`route_of`: whether a function is a request handler (routed by a framework
  decorator, or taking ``request`` first), with its route path and path parameters.
- :func:`client_names`: the names in a handler that hold what the client sent: its
  parameters (path, query, body; not ``Depends(...)``), the request object (a parameter or
  Flask's ``request``), and locals assigned from them (or looping over them) before a
  given line. Outside handlers the same names stand for the function's input.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

from monitoring.diagnosis.remedies.base import Failure, Function

_ROUTE_NAMES = frozenset(
    {"get", "post", "put", "patch", "delete", "head", "options", "route", "api_route", "view"}
)
_METHOD_NAMES = frozenset({"get", "post", "put", "patch", "delete", "head", "options"})
_PATH_PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}|<(?:\w+:)?(\w+)>")
_REQUEST_PARAMS = frozenset({"request", "req"})
_NOT_CLIENT_DEFAULTS = frozenset({"Depends", "Security"})


@dataclass(frozen=True)
class ClientError:
    """How a module answers a request with a client error.

    Attributes:
        framework: ``fastapi``, ``starlette``, ``flask`` or ``django``.
        render: (status, detail) -> one statement raising it, or None when this framework
            has no such status (Django's ``Http404`` is 404 only).
    """

    framework: str
    render: Callable[[int, str], str | None]


@dataclass(frozen=True)
class Route:
    """A request handler and what its decorator says.

    Attributes:
        function: the handler.
        path: the route's path template (``/rooms/{room_id}``), "" when not literal.
        methods: upper-case HTTP methods when the decorator names them, else ().
        path_params: names the path template binds.
    """

    function: Function
    path: str
    methods: tuple[str, ...]
    path_params: frozenset[str]


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
        framework = module.split(".")[0]
        return ClientError(
            framework, lambda s, d: f"raise {local}(status_code={s}, detail={_q(d)})"
        )
    if module == "flask" and name == "abort":
        return ClientError("flask", lambda s, d: f"{local}({s}, description={_q(d)})")
    if module == "django.http" and name == "Http404":
        return ClientError("django", lambda s, d: f"raise {local}({_q(d)})" if s == 404 else None)
    return None


def _q(text: str) -> str:
    return json.dumps(text)


def route_of(function: ast.AST) -> Route | None:
    """The route of a request handler, or None when ``function`` is not one."""
    if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name in _ROUTE_NAMES or "route" in name:
            path = _literal_arg(decorator)
            methods = _methods(decorator, name)
            bound = frozenset(a or b for a, b in _PATH_PARAM.findall(path))
            return Route(function, path, methods, bound)
    positional = function.args.posonlyargs + function.args.args
    if positional and positional[0].arg in _REQUEST_PARAMS:
        return Route(function, "", (), frozenset())
    return None


def _literal_arg(decorator: ast.expr) -> str:
    if isinstance(decorator, ast.Call) and decorator.args:
        first = decorator.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
    return ""


def _methods(decorator: ast.expr, name: str) -> tuple[str, ...]:
    if name in _METHOD_NAMES:
        return (name.upper(),)
    for keyword in decorator.keywords if isinstance(decorator, ast.Call) else ():
        if keyword.arg == "methods" and isinstance(keyword.value, (ast.List, ast.Tuple)):
            return tuple(
                str(e.value).upper() for e in keyword.value.elts if isinstance(e, ast.Constant)
            )
    return ("GET",) if name == "route" else ()


def client_names(tree: ast.Module, function: Function, before_line: int) -> set[str]:
    """Names in a handler that hold client input at ``before_line`` (see module docstring)."""
    args = function.args
    positional = args.posonlyargs + args.args
    with_default = positional[len(positional) - len(args.defaults) :]
    defaults: dict[str, ast.expr | None] = {
        a.arg: d for a, d in zip(with_default, args.defaults, strict=True)
    }
    defaults.update({a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)})
    names = {
        a.arg
        for a in args.posonlyargs + args.args + args.kwonlyargs
        if a.arg not in ("self", "cls") and not _is_dependency(defaults.get(a.arg))
    }
    if _imports_flask_request(tree):
        names.add("request")
    flows = sorted(
        (
            n
            for n in ast.walk(function)
            if isinstance(n, (ast.Assign, ast.For, ast.AsyncFor)) and n.lineno < before_line
        ),
        key=lambda n: n.lineno,
    )
    for flow in flows:  # x = f(input); for x in input: ...
        source, targets = (
            (flow.value, flow.targets)
            if isinstance(flow, ast.Assign)
            else (flow.iter, [flow.target])
        )
        if reads_any(source, names):
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


@dataclass(frozen=True)
class Handler:
    """The request handler a failing line is in.

    Attributes:
        route: its route.
        error: how its module raises a client error.
        inputs: names holding client input at the failing line (:func:`client_names`).
    """

    route: Route
    error: ClientError
    inputs: frozenset[str]


def handler_at(failure: Failure) -> Handler | None:
    """The handler around the failing line, when its module can raise a client error."""
    tree = failure.source.tree
    route = route_of(failure.function) if failure.function else None
    error = client_error(tree) if tree else None
    if tree is None or route is None or error is None:
        return None
    return Handler(route, error, frozenset(client_names(tree, route.function, failure.line)))


def inputs_of(failure: Failure) -> frozenset[str]:
    """Names holding the failing function's input at the failing line (any function)."""
    tree, function = failure.source.tree, failure.function
    if tree is None or function is None:
        return frozenset()
    return frozenset(client_names(tree, function, failure.line))


def reads_any(node: ast.AST, names: Collection[str]) -> bool:
    """True when ``node`` reads one of ``names``."""
    return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


def _is_dependency(default: ast.expr | None) -> bool:
    if not isinstance(default, ast.Call):
        return False
    func = default.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name in _NOT_CLIENT_DEFAULTS


def _imports_flask_request(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.ImportFrom)
        and node.module in ("flask", "quart")
        and any(alias.name == "request" and alias.asname is None for alias in node.names)
        for node in tree.body
    )
