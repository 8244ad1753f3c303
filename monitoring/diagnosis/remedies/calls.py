"""Diagnosis remedies: which repository function a call calls (static, one step).

:func:`resolve` follows ``f(...)`` to a ``def f`` at the top of the same module or in the
module it is imported from (``from m import f``), ``m.f(...)`` to ``def f`` in module ``m``
(``import m``, ``from p import m``), and ``self.f(...)`` to a method of a class in the same
module. Modules are found as ``m.py``, ``m/__init__.py``, under ``src/`` too. Anything else
(attributes of objects, builtins, libraries) resolves to None.
"""

from __future__ import annotations

import ast

from monitoring.diagnosis.remedies.base import Function, SourceFile


def resolve(source: SourceFile, call: ast.Call) -> tuple[SourceFile, Function] | None:
    """The file and function ``call`` calls, when the repository defines it."""
    func, tree = call.func, source.tree
    if tree is None:
        return None
    if isinstance(func, ast.Name):
        found = _top_level(source, func.id)
        if found is not None:
            return found
        module = _imported_from(tree, func.id)
        return _in_module(source, module, func.id) if module else None
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        if func.value.id == "self":
            return _method(source, func.attr)
        module = _module_named(tree, func.value.id)
        return _in_module(source, module, func.attr) if module else None
    return None


def _top_level(source: SourceFile, name: str) -> tuple[SourceFile, Function] | None:
    for node in source.tree.body if source.tree else ():
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            return source, node
    return None


def _method(source: SourceFile, name: str) -> tuple[SourceFile, Function] | None:
    for node in ast.walk(source.tree) if source.tree else ():
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name == name:
                    return source, item
    return None


def _imported_from(tree: ast.Module, name: str) -> str | None:
    """The module ``name`` is imported from (``from m import name``), or None."""
    for node in tree.body:
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.level == 0
            and any(a.name == name and a.asname is None for a in node.names)
        ):
            return node.module
    return None


def _module_named(tree: ast.Module, local: str) -> str | None:
    """The dotted module a local name stands for (``import m``, ``from p import m``)."""
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname == local or (not alias.asname and alias.name == local):
                    return alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                if (alias.asname or alias.name) == local:
                    return f"{node.module}.{alias.name}"
    return None


def _in_module(source: SourceFile, module: str, name: str) -> tuple[SourceFile, Function] | None:
    base = module.replace(".", "/")
    for path in (f"{base}.py", f"{base}/__init__.py", f"src/{base}.py", f"src/{base}/__init__.py"):
        if path in source.index:
            return _top_level(SourceFile(source.index, path), name)
    return None
