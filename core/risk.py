"""Shared contracts: risky constructs an edit set adds or removes, named for a person.

The syntax trees of each Python file before and after the edits are compared; a
construct counts when the edits add an occurrence of it (or, for the safety nets,
remove one). Each finding is one sentence naming what it is, e.g. ``adds a shell command
call (os.system)``; any finding makes the proposal's risk HIGH whatever the LM said.

Names are resolved the way Python would bind them in the file: ``import subprocess as
sp`` makes ``sp.run`` ``subprocess.run``, ``from os import system as s`` makes ``s``
``os.system``; ``getattr(os, "system")`` and ``__import__("os").system`` read as
``os.system``; ``builtins.eval`` as ``eval``; ``from subprocess import *`` as
``subprocess.*``. What cannot be resolved statically is
itself a finding: ``getattr`` with a computed name, ``globals()``, ``vars()``,
``sys.modules``, and dunder handles such as ``__builtins__`` or ``__globals__``.

What is found (:data:`RULES`, then the imports and the safety nets):

- process execution and shell commands, ``eval``/``exec``/``compile``, dynamic imports,
  network clients and sockets, native code and unsafe deserialisation, reflection;
- new ``import`` statements;
- removed assertions (``assert`` and ``self.assert*()`` calls), ``except`` clauses and
  ``finally`` blocks, and ``raise`` statements;
- ``except`` clauses that silence errors (a body of only ``pass``, ``...`` or
  ``continue``), and bare ``except:``; ``if False:`` / ``while 0:`` blocks (code that
  never runs, e.g. an assertion kept but disabled);
- a change to a file that is not Python (its risks cannot be read), or to a Python file
  that did not parse before.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Iterator
from pathlib import PurePosixPath

#: (sentence, dotted names): a reference to a name, or to anything under it, counts.
RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "adds a shell command call",
        (
            "subprocess",
            "os.system",
            "os.popen",
            "os.startfile",
            "os.fork",
            "os.forkpty",
            *(f"os.exec{s}" for s in ("l", "le", "lp", "lpe", "v", "ve", "vp", "vpe")),
            *(f"os.spawn{s}" for s in ("l", "le", "lp", "lpe", "v", "ve", "vp", "vpe")),
            "os.posix_spawn",
            "os.posix_spawnp",
            "pty.spawn",
            "asyncio.create_subprocess_exec",
            "asyncio.create_subprocess_shell",
            "commands",
            "multiprocessing",
        ),
    ),
    ("adds dynamic code execution", ("eval", "exec", "compile", "runpy", "code.interact")),
    (
        "adds a dynamic import",
        ("__import__", "importlib", "imp", "pkgutil.get_loader", "zipimport"),
    ),
    (
        "adds a network call",
        (
            "requests",
            "httpx",
            "urllib.request",
            "urllib3",
            "http.client",
            "socket",
            "ssl.wrap_socket",
            "aiohttp",
            "ftplib",
            "smtplib",
            "telnetlib",
            "xmlrpc.client",
            "websocket",
            "websockets",
            "paramiko",
            "asyncio.open_connection",
            "asyncio.open_unix_connection",
        ),
    ),
    (
        "adds native code or unsafe deserialisation",
        ("ctypes", "cffi", "pickle", "cPickle", "dill", "marshal", "shelve", "yaml.load"),
    ),
    (
        "adds reflective access",
        (
            "globals",
            "locals",
            "vars",
            "sys.modules",
            "builtins",
            "__builtins__",
            "setattr",
            "delattr",
            "operator.attrgetter",
        ),
    ),
)
#: Attribute or variable names that reach around the code's own names.
REFLECTIVE_DUNDERS = frozenset(
    {
        "__builtins__",
        "__globals__",
        "__subclasses__",
        "__code__",
        "__dict__",
        "__getattribute__",
        "__bases__",
        "__mro__",
        "__loader__",
        "__closure__",
        "__reduce__",
        "__reduce_ex__",
    }
)
_REFLECTIVE = "adds reflective access"
_DYNAMIC_IMPORTERS = frozenset({"__import__", "importlib.import_module"})


def risk_reasons(path: str, before: str, after: str) -> list[str]:
    """The risky constructs an edit set adds to one file, or the nets it removes.

    Args:
        path: the file's repository-relative path (its suffix decides how it is read).
        before, after: the whole text now and after the edits.

    Returns:
        One sentence per finding, in a stable order, e.g. ``["adds a shell command call
        (os.system)", "adds an import (os)"]``; empty when nothing risky changed.
    """
    if not path.endswith(".py"):
        name = PurePosixPath(path).name
        return [f"changes a file the risk checks cannot read ({name})"]
    old, new = _parse(before), _parse(after)
    if new is None:
        return ["the changed file does not parse"]
    if old is None:
        return ["changes a Python file that did not parse before"]
    try:
        old_adds, old_nets = _features(old)
        new_adds, new_nets = _features(new)
    except RecursionError:
        return ["changes a Python file nested too deeply for the risk checks to read"]
    return _grown(old_adds, new_adds) + _grown(new_nets, old_nets)


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _grown(fewer: Counter[tuple[str, str]], more: Counter[tuple[str, str]]) -> list[str]:
    """One sentence per kind whose count is higher in ``more``: its most specific names,
    at most three."""
    grown: dict[str, set[str]] = {}
    for key, count in more.items():
        if count > fewer.get(key, 0):
            grown.setdefault(key[0], set()).add(key[1])
    reasons = []
    for sentence in sorted(grown):
        names = sorted(n for n in grown[sentence] if n and not _prefix_of(n, grown[sentence]))
        detail = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        reasons.append(f"{sentence} ({detail})" if detail else sentence)
    return reasons


def _prefix_of(name: str, names: set[str]) -> bool:
    return any(other != name and other.startswith(name + ".") for other in names)


def _features(tree: ast.Module) -> tuple[Counter[tuple[str, str]], Counter[tuple[str, str]]]:
    """Occurrences in one file of (sentence, name): the constructs whose addition is risky,
    and the safety nets whose removal is."""
    aliases = _bindings(tree)
    adds: Counter[tuple[str, str]] = Counter()
    nets: Counter[tuple[str, str]] = Counter()
    for node in ast.walk(tree):
        for dotted in _references(node, aliases):
            for sentence, names in RULES:
                if any(dotted == n or dotted.startswith(n + ".") for n in names):
                    adds[(sentence, dotted)] += 1
        adds.update(_constructs(node, aliases))
        nets.update(_nets(node))
    return adds, nets


def _constructs(node: ast.AST, aliases: dict[str, str]) -> Iterator[tuple[str, str]]:
    """Imports, reflection that names cannot show, and except clauses that hide errors."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield ("adds an import", alias.name)
    elif isinstance(node, ast.ImportFrom):
        module = "." * node.level + (node.module or "")
        for alias in node.names:
            joined = module + alias.name if module.endswith(".") else f"{module}.{alias.name}"
            yield ("adds an import", joined if module else alias.name)
    elif isinstance(node, ast.Attribute) and node.attr in REFLECTIVE_DUNDERS:
        yield (_REFLECTIVE, node.attr)
    elif isinstance(node, ast.Name) and node.id in REFLECTIVE_DUNDERS:
        yield (_REFLECTIVE, node.id)
    elif isinstance(node, ast.Call) and _is_computed_getattr(node, aliases):
        yield (_REFLECTIVE, "getattr with a computed name")
    elif isinstance(node, ast.ExceptHandler) and (
        node.type is None or all(_is_silent(statement) for statement in node.body)
    ):
        yield ("adds an except clause that silences errors", "")
    elif (
        isinstance(node, (ast.If, ast.While))
        and isinstance(node.test, ast.Constant)
        and not node.test.value
    ):
        yield ("adds code that never runs", f"{type(node).__name__.lower()} {node.test.value!r}")


def _nets(node: ast.AST) -> Iterator[tuple[str, str]]:
    """Safety nets: assertions, except clauses and finally blocks, raise statements."""
    if isinstance(node, ast.Assert) or (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr.startswith("assert")
    ):
        yield ("removes an assertion", "")
    elif isinstance(node, ast.ExceptHandler):
        yield ("removes error handling", "an except clause")
    elif isinstance(node, (ast.Try, ast.TryStar)) and node.finalbody:
        yield ("removes error handling", "a finally block")
    elif isinstance(node, ast.Raise):
        yield ("removes a raise", "")


def _is_silent(statement: ast.stmt) -> bool:
    if isinstance(statement, (ast.Pass, ast.Continue)):
        return True
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and statement.value.value is Ellipsis
    )


def _is_computed_getattr(node: ast.Call, aliases: dict[str, str]) -> bool:
    if not isinstance(node.func, ast.Name):
        return False
    if aliases.get(node.func.id, node.func.id) not in ("getattr", "builtins.getattr"):
        return False
    return len(node.args) < 2 or not _is_str(node.args[1])


def _is_str(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


# --- names as Python binds them ----------------------------------------------------------


def _bindings(tree: ast.Module) -> dict[str, str]:
    """Local name -> dotted name it stands for, from every import in the file."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if alias.name != "*":
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def _references(node: ast.AST, aliases: dict[str, str]) -> Iterator[str]:
    """The dotted names a node stands for: a Name, an Attribute, a resolvable Call, or a
    star import (``from subprocess import *`` stands for ``subprocess.*``)."""
    if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
        yield f"{node.module}.*"
    if isinstance(node, (ast.Name, ast.Attribute, ast.Call)):
        dotted = _dotted(node, aliases)
        if dotted:
            yield dotted


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    """``os.system`` for ``os.system``, ``s`` (from os import system as s),
    ``getattr(os, "system")`` or ``__import__("os").system``; ``eval`` for
    ``builtins.eval``; None when the node is not such a name."""
    if isinstance(node, ast.Name):
        return _unbuiltin(aliases.get(node.id, node.id))
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value, aliases)
        return _unbuiltin(f"{base}.{node.attr}") if base else None
    if not isinstance(node, ast.Call) or not node.args:
        return None
    func = _dotted(node.func, aliases)
    first = node.args[0]
    if func in _DYNAMIC_IMPORTERS and isinstance(first, ast.Constant):
        return str(first.value)
    if func == "getattr" and len(node.args) >= 2:
        name, base = node.args[1], _dotted(first, aliases)
        if base and isinstance(name, ast.Constant) and isinstance(name.value, str):
            return _unbuiltin(f"{base}.{name.value}")
    return None


def _unbuiltin(dotted: str) -> str:
    for prefix in ("builtins.", "__builtins__."):
        if dotted.startswith(prefix):
            return dotted[len(prefix) :]
    return dotted
