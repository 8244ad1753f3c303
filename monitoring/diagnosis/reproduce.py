"""Diagnosis proof: a regression test from the evidence, a template per way a failure is reached.

Written only for a proposal that has edits and a traceback into the repository:

- **a request** (the log named it: ``Anomaly.details["request"]``, ``"GET /rooms/lobby"``)
  to a handler on the traceback whose route matches it, in an app the repository creates at
  module level (``app = FastAPI()``, ``Starlette()``, ``Flask(__name__)``) or with a factory
  that takes no argument (``create_app()``): the test sends the same request through the
  framework's test client, which lets the server's exception reach the test, and asserts
  the answer is not a server error. Methods that carry a body the log does not show (POST,
  PUT, PATCH) only when the handler reads nothing but its path;
- **a call** whose failing input the failure class tells: a function at the top of a module
  called with its one required parameter set to ``[]`` (ZeroDivisionError by ``len(p)``,
  IndexError of ``p[0]``), to bytes that are not UTF-8 (UnicodeDecodeError of
  ``p.decode()``: the byte the log names) or to text that is not JSON (``json.loads(p)``);
  other parameters get None. The test asserts that the logged exception is not raised:
  other outcomes of an input made up to reach the line are not its business.

The path and values come from the log: they are only ever written as Python literals
(``repr``), and a request with a masked secret, a quote, a backslash or a control character
gets no test. Whether a test reproduces the failure is decided when it runs
(:mod:`fixes.apply.proof`): one that does not is left out, never trusted.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from core.proposals import RegressionTest
from core.redact import PLACEHOLDER, scrub_secrets
from core.risk import risk_reasons
from monitoring.diagnosis.remedies.base import Failure, Function, SourceFile, nodes_on
from monitoring.diagnosis.remedies.web import Route, route_of
from monitoring.diagnosis.repo import RepoIndex

#: Longest regression test accepted from the LM, in characters.
MAX_TEST_CHARS = 8_000
_BODYLESS = frozenset({"GET", "DELETE", "HEAD", "OPTIONS"})
_SAFE_PATH = re.compile(r"/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]{0,300}")
_APP_CALLS = {"FastAPI": "fastapi", "Starlette": "starlette", "Flask": "flask"}
_FACTORIES = ("create_app", "make_app", "build_app", "get_app")
_UNICODE_BYTE = re.compile(r"byte 0x([0-9a-f]{2}) in position (\d+)")
_HEADER = '''"""Regression test of {what}: {reaches} raised {exception} ({times} in the log).

Written by mendbot from the log: it fails before the fix, with {exception}, and passes
after it.
"""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))
'''


@dataclass(frozen=True)
class _App:
    framework: str
    module: str
    name: str
    factory: bool


def review_test(content: str) -> str | None:
    """Why a regression test someone else wrote (the LM) cannot be used, or None.

    It must be at most :data:`MAX_TEST_CHARS` characters of valid Python, define a
    ``test_`` function, hold no masked-secret placeholder, and do nothing a test has no
    business doing: it runs on the host when the fix is applied, so any risky construct
    :mod:`core.risk` names (a shell command, dynamic code, a network call, native code or
    unsafe deserialisation, reflection, a dynamic import; plain imports are fine) refuses it.
    """
    if len(content) > MAX_TEST_CHARS:
        return f"longer than {MAX_TEST_CHARS} characters"
    leftover = PLACEHOLDER.search(content)
    if leftover:
        return f"it contains a masked secret placeholder ({leftover[0]})"
    try:
        tree = ast.parse(content)
    except (SyntaxError, ValueError) as error:
        return f"not valid Python ({getattr(error, 'msg', error)})"
    if not any(
        isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name.startswith("test")
        for n in tree.body
    ):
        return "no test function"
    risky = [r for r in risk_reasons("test.py", "", content) if not r.startswith("adds an import")]
    return f"it {risky[0]}" if risky else None


def regression_test(failure: Failure, *, times: str) -> RegressionTest | None:
    """A regression test for ``failure``, or None when the evidence does not say how it is
    reached (see the module docstring).

    Args:
        failure: the raising line and the anomaly.
        times: how often the log showed it (``"7 times"``), for the test's docstring.
    """
    return _http(failure, times) or _call(failure, times)


# --- a request ----------------------------------------------------------------------------


def _http(failure: Failure, times: str) -> RegressionTest | None:
    request = failure.anomaly.details.get("request")
    if not isinstance(request, str) or " " not in request:
        return None
    method, path = request.split(" ", 1)
    if not _SAFE_PATH.fullmatch(path) or scrub_secrets(path) != path:
        return None
    handler = _handler(failure, method, path)
    app = _app(failure.source.index)
    if handler is None or app is None:
        return None
    short = failure.short
    body = _client_lines(app, method, path)
    name = _slug(f"{method} {path}")
    content = _HEADER.format(
        what=f"{handler.function.name}()", reaches=f"{method} {path}", exception=short, times=times
    )
    content += f"\n{body[0]}\n\n\ndef test_{name}_is_answered_without_a_server_error():\n"
    content += "\n".join(f"    {line}" for line in body[1:]) + "\n"
    content += "    assert response.status_code < 500\n"
    return RegressionTest(content=content, fails_with=short, reaches=f"{method} {path}")


def _handler(failure: Failure, method: str, path: str) -> Route | None:
    """The handler on the traceback whose route matches the request."""
    for frame in failure.frames:
        source = SourceFile(failure.source.index, frame.path)
        function = source.function_at(frame.frame.line)
        route = route_of(function) if function else None
        if route is None or not route.path:
            continue
        if not _matches(_prefix(source, route) + route.path, path):
            continue
        if route.methods and method not in route.methods:
            continue
        if method not in _BODYLESS and not _reads_only_path(route):
            continue
        return route
    return None


def _prefix(source: SourceFile, route: Route) -> str:
    """The prefix the route's router or blueprint adds, when its module says it
    (``APIRouter(prefix="/rooms")``, ``Blueprint(..., url_prefix="/shop")``)."""
    owners = {
        d.func.value.id
        for d in route.function.decorator_list
        if isinstance(d, ast.Call)
        and isinstance(d.func, ast.Attribute)
        and isinstance(d.func.value, ast.Name)
    }
    for node in source.tree.body if source.tree else ():
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)):
            continue
        if any(isinstance(t, ast.Name) and t.id in owners for t in node.targets):
            for keyword in node.value.keywords:
                if keyword.arg in ("prefix", "url_prefix") and isinstance(
                    keyword.value, ast.Constant
                ):
                    return str(keyword.value.value).rstrip("/")
    return ""


def _matches(template: str, path: str) -> bool:
    """True when the request's path ends with the route's template (a router prefix may
    come before it)."""
    parts = re.split(r"\{[^}]*\}|<[^>]*>", template)
    pattern = "[^/]+".join(re.escape(part) for part in parts)
    return re.search(f"{pattern}$", path.split("?", 1)[0]) is not None


def _reads_only_path(route: Route) -> bool:
    args = route.function.args
    params = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    return params <= route.path_params and not any(
        isinstance(n, ast.Name) and n.id in ("request", "req") for n in ast.walk(route.function)
    )


def _app(index: RepoIndex) -> _App | None:
    """The one app the repository creates (module level, or a factory without arguments)."""
    found: list[_App] = []
    for path in index.files:
        if not path.endswith(".py") or path.startswith(("tests/", "test/")) or "/tests/" in path:
            continue
        tree = index.tree(path)
        module = _module(path, has_src=any(p.startswith("src/") for p in index.files))
        if tree is None or module is None:
            continue
        found.extend(_apps_in(tree, module))
    return found[0] if len(found) == 1 else None


def _apps_in(tree: ast.Module, module: str) -> list[_App]:
    apps = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
            framework = _framework(value)
            if isinstance(target, ast.Name) and framework:
                apps.append(_App(framework, module, target.id, factory=False))
        elif isinstance(node, ast.FunctionDef) and node.name in _FACTORIES:
            required = len(node.args.args) - len(node.args.defaults)
            framework = next((f for n in ast.walk(node) if (f := _framework(n))), None)
            if framework and required == 0:
                apps.append(_App(framework, module, node.name, factory=True))
    return apps


def _framework(node: ast.AST) -> str | None:
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return _APP_CALLS.get(name)


def _client_lines(app: _App, method: str, path: str) -> list[str]:
    """The import line, then the test body's lines up to ``response = ...``."""
    call = f"response = client.{method.lower()}({path!r})"
    if app.framework == "flask":
        made = f"{app.name}()" if app.factory else app.name
        return [
            f"import {app.module} as service",
            f"app = service.{made}",
            "app.config.update(TESTING=True)  # the server's exception reaches this test",
            "client = app.test_client()",
            call,
        ]
    client = "fastapi.testclient" if app.framework == "fastapi" else "starlette.testclient"
    made = f"{app.name}()" if app.factory else app.name
    return [
        f"from {client} import TestClient\n\nimport {app.module} as service",
        f"client = TestClient(service.{made})  # the server's exception reaches this test",
        call,
    ]


# --- a call -------------------------------------------------------------------------------


def _call(failure: Failure, times: str) -> RegressionTest | None:
    function, statement = failure.function, failure.statement
    source = failure.source
    if function is None or statement is None or source.tree is None:
        return None
    if function not in source.tree.body or isinstance(function, ast.AsyncFunctionDef):
        return None
    module = _module(source.path, has_src=any(p.startswith("src/") for p in source.index.files))
    required = _required(function)
    if module is None or not required:
        return None
    value = _failing_input(failure, statement, set(required))
    if value is None:
        return None
    param, literal = value
    arguments = ", ".join(f"{name}={literal if name == param else 'None'}" for name in required)
    short = failure.short
    content = _HEADER.format(
        what=f"{function.name}()",
        reaches=f"{function.name}({param}={literal})",
        exception=short,
        times=times,
    )
    imports = "import json\n\n" if short == "JSONDecodeError" else ""
    content += (
        f"\n{imports}import {module} as service\n\n\n"
        f"def test_{function.name}_no_longer_raises_{short.lower()}():\n"
        f"    try:\n        service.{function.name}({arguments})\n"
        f"    except {_catchable(short)}:\n        raise\n"
        "    except Exception:  # an input made up to reach the line: only the logged\n"
        "        pass  # exception is this test's business\n"
    )
    reaches = f"{function.name}({param}={literal})"
    return RegressionTest(content=content, fails_with=short, reaches=reaches)


def _required(function: Function) -> list[str]:
    args = function.args
    positional = args.posonlyargs + args.args
    names = [a.arg for a in positional[: len(positional) - len(args.defaults)]]
    names += [a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is None]
    return [n for n in names if n not in ("self", "cls")]


def _failing_input(
    failure: Failure, statement: ast.stmt, params: set[str]
) -> tuple[str, str] | None:
    """(parameter, a Python literal that reaches the failure) by the failure class."""
    short, line = failure.short, failure.line
    if short == "ZeroDivisionError":
        for division in nodes_on(statement, line, ast.BinOp):
            name = (
                _len_of(division.right)
                if isinstance(division.op, (ast.Div, ast.FloorDiv, ast.Mod))
                else None
            )
            if name in params:
                return name, "[]"
    if short == "IndexError":
        for pick in nodes_on(statement, line, ast.Subscript):
            if isinstance(pick.value, ast.Name) and pick.value.id in params:
                return pick.value.id, "[]"
    if short == "UnicodeDecodeError":
        found = _UNICODE_BYTE.search(failure.message)
        for call in nodes_on(statement, line, ast.Call):
            owner = call.func.value if isinstance(call.func, ast.Attribute) else None
            if (
                found
                and isinstance(owner, ast.Name)
                and owner.id in params
                and call.func.attr == "decode"
            ):  # type: ignore[union-attr]
                data = b"x" * min(int(found[2]), 64) + bytes([int(found[1], 16)])
                return owner.id, repr(data)
    if short == "JSONDecodeError":
        for call in nodes_on(statement, line, ast.Call):
            if ast.unparse(call.func) in ("json.loads", "loads") and call.args:
                argument = call.args[0]
                if isinstance(argument, ast.Name) and argument.id in params:
                    return argument.id, repr("this is not JSON")
    return None


def _len_of(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "len" and node.args:
        argument = node.args[0]
        return argument.id if isinstance(argument, ast.Name) else None
    return None


def _catchable(short: str) -> str:
    return "json.JSONDecodeError" if short == "JSONDecodeError" else short


def _module(path: str, *, has_src: bool) -> str | None:
    if not path.endswith(".py"):
        return None
    parts = path[:-3].split("/")
    if has_src and parts[0] == "src":
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) if parts and all(p.isidentifier() for p in parts) else None


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return slug[:60] or "request"
