"""Shared contracts: evidence: whether a place in the code an anomaly points at is real.

A file is editable only while evidence points at it (:class:`~core.proposals.Evidence`),
and a piece of evidence counts only when the repository agrees with it:

- the file is in the repository as a regular file (no symlink on the way, nothing
  protected by the :class:`~core.policy.EditPolicy`), at most :data:`MAX_FILE_BYTES` of
  UTF-8, and a ``.py`` file parses;
- the line holds code (not blank, not a comment);
- ``frame``: the line's scope, as a traceback names it, is the frame's function: the
  body of a ``def`` or class of that name around the line (its ``def`` line runs in the
  enclosing scope), ``<module>`` outside them, ``<lambda>``,
  ``<genexpr>`` and the comprehensions (whose code Python 3.12+ inlines into the
  enclosing function, so either name counts);
- ``emitter``: a call or a ``raise`` carries a string literal on the line holding the
  matched text (a literal an ``assert`` or a comparison holds does not emit anything);
  in a file that is not Python, the line holds the text;
- ``definition``: a statement starting on the line assigns the name.

And it must agree with the proposal's anomaly (:func:`consistent_with`): a frame is one
of the anomaly's traceback frames (function, line and printed file, which must not be a
library's, and whose path must end in the repository path); an emitter's text is part of
the anomaly's template; a definition counts only beside an emitter that holds.

Diagnosis calls :func:`locate` to build evidence; the implementor calls :func:`recheck`
right before writing, which finds each line again by its text in the same scope (lines
above it may have moved) or says why it no longer holds. Nothing here raises on content.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

from core.edits import EditRejected, locate_in_repo, read_exact
from core.frames import is_library_file
from core.models import Anomaly
from core.policy import EditPolicy
from core.proposals import Evidence

EvidenceKind = Literal["frame", "emitter", "definition"]

#: Files larger than this (bytes) are not read for evidence.
MAX_FILE_BYTES = 512 * 1024
#: Most evidence items a proposal may carry (a tampered one with more is refused).
MAX_EVIDENCE = 16
#: Shortest emitter text that counts (as :mod:`monitoring.diagnosis.emitters` searches).
MIN_EMITTER_CHARS = 8
#: Most lines with the same text tried when finding a moved line again.
MAX_RELOCATIONS = 50

_SCOPE_NAMES: dict[type[ast.AST], str] = {
    ast.Lambda: "<lambda>",
    ast.GeneratorExp: "<genexpr>",
    ast.ListComp: "<listcomp>",
    ast.SetComp: "<setcomp>",
    ast.DictComp: "<dictcomp>",
}
_INLINED = (ast.ListComp, ast.SetComp, ast.DictComp)


@dataclass
class EvidenceCheck:
    """What :func:`recheck` found.

    Attributes:
        held: the evidence that still holds, with lines as they are now.
        refused: (evidence as stored, why it no longer holds), in the order given.
    """

    held: list[Evidence] = field(default_factory=list)
    refused: list[tuple[Evidence, str]] = field(default_factory=list)

    def reason_for(self, path: str) -> str | None:
        """Why the evidence for ``path`` no longer holds (None: there was none)."""
        return next((why for item, why in self.refused if item.path == path), None)


def code_sha256(line_text: str) -> str:
    """SHA-256 (hex) of a line of code without its surrounding whitespace."""
    return hashlib.sha256(line_text.strip().encode("utf-8")).hexdigest()


def read_code(repo_root: Path, path: str, policy: EditPolicy) -> str:
    """The text of a file evidence may point at.

    Args:
        repo_root: the repository's root.
        path: repository-relative POSIX path, in normal form (``app.py``, not ``./app.py``).
        policy: decides which paths are protected.

    Raises:
        EditRejected: the path is not in normal form, leaves the repository, goes through
            a symlink, is protected, is not a regular file, is too large or not UTF-8.
    """
    if PurePosixPath(path).as_posix() != path or path.startswith("./"):
        raise EditRejected(path, "evidence path is not in normal form")
    target = locate_in_repo(repo_root, path)
    if target != repo_root.resolve() / path:
        raise EditRejected(path, "evidence path goes through a symlink")
    pattern = policy.protected_by(path)
    if pattern is not None:
        raise EditRejected(path, f"protected path (matches {pattern})")
    if not target.is_file():
        raise EditRejected(path, "file does not exist")
    if target.stat().st_size > MAX_FILE_BYTES:
        raise EditRejected(path, f"file is larger than {MAX_FILE_BYTES} bytes")
    return read_exact(target, path)


def locate(
    source: str,
    *,
    path: str,
    line: int,
    kind: EvidenceKind,
    detail: str,
    function: str | None = None,
    tree: ast.Module | None = None,
) -> Evidence | None:
    """Evidence at ``line`` of ``source`` if the code agrees with it, else None.

    Args:
        source: the file's text.
        path: its repository-relative path (stored on the evidence).
        line: 1-based line.
        kind: what the line is claimed to be (see the module docstring).
        detail: the frame's printed file, the emitter's text or the defined name.
        function: for a frame, the function the traceback names (required); ignored
            for the other kinds, whose scope is read from the code.
        tree: ``source`` already parsed, when the caller keeps it (else parsed here).
    """
    if tree is None and path.endswith(".py"):
        tree = _parse(source)
    return _locate(source.splitlines(), tree, path, line, kind, detail, function)


def _locate(
    lines: list[str],
    tree: ast.Module | None,
    path: str,
    line: int,
    kind: EvidenceKind,
    detail: str,
    function: str | None,
) -> Evidence | None:
    """:func:`locate` on a file already split and parsed (None: not Python, or broken)."""
    if not 1 <= line <= len(lines):
        return None
    text = lines[line - 1]
    if not text.strip() or text.strip().startswith("#"):
        return None
    if tree is None:
        if path.endswith(".py") or kind != "emitter" or detail not in text:
            return None
        scope = "<file>"
    elif kind == "frame":
        if not function or not _names_match(function, scope_names(tree, line)):
            return None
        scope = function
    elif _agrees(tree, line, kind, detail):
        scope = min(scope_names(tree, line))
    else:
        return None
    return Evidence(
        kind=kind,
        path=path,
        line=line,
        function=scope,
        code_sha256=code_sha256(text),
        detail=detail,
    )


def scope_names(tree: ast.AST, line: int) -> frozenset[str]:
    """The names a traceback may give the code on ``line``: the innermost function's or
    class's, ``<module>``, ``<lambda>``..., several when scopes share the line."""
    try:
        return frozenset(_scopes_at(tree, line, frozenset({"<module>"})))
    except RecursionError:
        return frozenset()


def consistent_with(item: Evidence, anomaly: Anomaly) -> bool:
    """True when ``item`` is something ``anomaly`` shows (see the module docstring);
    definitions are checked as a group by :func:`recheck`."""
    if item.kind == "frame":
        return not is_library_file(item.detail) and any(
            frame.function == item.function
            and frame.line == item.line
            and frame.file == item.detail
            and _names_path(frame.file, item.path)
            for frame in anomaly.frames
        )
    if item.kind == "emitter":
        return len(item.detail) >= MIN_EMITTER_CHARS and item.detail in anomaly.template
    return True


def recheck(
    repo_root: Path, items: Sequence[Evidence], *, anomaly: Anomaly, policy: EditPolicy
) -> EvidenceCheck:
    """Check stored evidence against the anomaly and the repository as it is now.

    Args:
        repo_root: the checkout.
        items: the evidence a proposal carries.
        anomaly: the proposal's anomaly.
        policy: decides which paths are protected.

    Returns:
        What holds (lines as they are now) and what does not, with why. More than
        :data:`MAX_EVIDENCE` items hold nothing.
    """
    check = EvidenceCheck()
    if len(items) > MAX_EVIDENCE:
        check.refused = [(i, f"more than {MAX_EVIDENCE} pieces of evidence") for i in items]
        return check
    for item in items:
        why = _why_not(repo_root, item, anomaly, policy)
        if isinstance(why, Evidence):
            check.held.append(why)
        else:
            check.refused.append((item, why))
    if not any(item.kind == "emitter" for item in check.held):
        orphans = [item for item in check.held if item.kind == "definition"]
        check.held = [item for item in check.held if item.kind != "definition"]
        check.refused += [(item, "no emitter evidence holds beside it") for item in orphans]
    return check


def _why_not(
    repo_root: Path, item: Evidence, anomaly: Anomaly, policy: EditPolicy
) -> Evidence | str:
    """The evidence found again in the code as it is now, or why it cannot be."""
    if not consistent_with(item, anomaly):
        return f"{item.kind} {item.path}:{item.line} is not something the anomaly shows"
    try:
        source = read_code(repo_root, item.path, policy)
    except EditRejected as error:
        return error.reason
    found = _relocate(source, item)
    if found is None:
        return f"the code at {item.path}:{item.line} ({item.function}) changed or never was"
    return found


def _relocate(source: str, item: Evidence) -> Evidence | None:
    lines = source.splitlines()
    tree = _parse(source) if item.path.endswith(".py") else None
    candidates = [n for n, text in enumerate(lines, 1) if code_sha256(text) == item.code_sha256]
    candidates.sort(key=lambda n: abs(n - item.line))
    for line in candidates[:MAX_RELOCATIONS]:
        found = _locate(lines, tree, item.path, line, item.kind, item.detail, item.function)
        if found is not None and found.function == item.function:
            return found
    return None


# --- reading the code ------------------------------------------------------------------------


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _scope_name(node: ast.AST) -> str | None:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return node.name
    return _SCOPE_NAMES.get(type(node))


def _spans(node: ast.AST, line: int) -> bool:
    start = getattr(node, "lineno", None)
    if start is None:
        return True  # arguments, comprehension clauses...: look inside
    decorators = getattr(node, "decorator_list", None) or []
    first = min([start] + [d.lineno for d in decorators])
    return bool(first <= line <= (getattr(node, "end_lineno", None) or start))


def _scopes_at(node: ast.AST, line: int, outer: frozenset[str]) -> set[str]:
    found: set[str] = set()
    for child in ast.iter_child_nodes(node):
        if not _spans(child, line):
            continue
        inner = outer
        name = None if _in_header(child, line) else _scope_name(child)  # def line: outside
        if name is not None:
            inner = frozenset({name}) | (outer if isinstance(child, _INLINED) else frozenset())
        found |= _scopes_at(child, line, inner)
    return found or set(outer)


def _in_header(node: ast.AST, line: int) -> bool:
    """True when ``line`` is in the ``def``/``class`` lines of ``node``, before its body."""
    body = getattr(node, "body", None)
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or not body:
        return False
    return line < body[0].lineno


def _names_match(function: str, names: frozenset[str]) -> bool:
    """``orders`` or a qualified ``Handler.get`` / ``f.<locals>.g`` against the scope."""
    return function in names or function.rsplit(".", 1)[-1] in names


def _names_path(printed: str, path: str) -> bool:
    normalised = printed.replace("\\", "/")
    if ".." in normalised.split("/"):
        return False
    return normalised == path or normalised.endswith("/" + path)


def _agrees(tree: ast.Module, line: int, kind: EvidenceKind, detail: str) -> bool:
    if kind == "emitter":
        return len(detail) >= MIN_EMITTER_CHARS and any(
            detail in literal for literal in emitted_literals(tree, line)
        )
    return any(
        isinstance(node, ast.stmt) and node.lineno == line and detail in assigned_names(node)
        for node in ast.walk(tree)
    )


def emitted_literals(tree: ast.AST, line: int) -> Iterator[str]:
    """The text of string literals on ``line`` that a call or a ``raise`` carries (outside
    any ``assert`` and comparison); an f-string's replacement fields read as ``\\0``."""
    for node in _outside_checks(tree):
        if isinstance(node, (ast.Call, ast.Raise)) and _spans(node, line):
            for sub in _outside_checks(node):
                text = literal_text(sub) if getattr(sub, "lineno", None) == line else ""
                if text:
                    yield text


def _outside_checks(node: ast.AST) -> Iterator[ast.AST]:
    """Every node under ``node``, but nothing inside an ``assert`` or a comparison."""
    stack = [node]
    while stack:
        for child in ast.iter_child_nodes(stack.pop()):
            if not isinstance(child, (ast.Assert, ast.Compare)):
                yield child
                stack.append(child)


def literal_text(node: ast.AST) -> str:
    """A string constant's value, an f-string's constant parts joined by ``\\0``, else ""."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            literal_text(v) if isinstance(v, ast.Constant) else "\0" for v in node.values
        )
    return ""


def assigned_names(statement: ast.stmt) -> set[str]:
    """Names an assignment statement binds: plain names and ``self.<attr>`` targets."""
    targets: list[ast.expr] = []
    if isinstance(statement, ast.Assign):
        targets = list(statement.targets)
    elif isinstance(statement, ast.AugAssign) or (
        isinstance(statement, ast.AnnAssign) and statement.value is not None
    ):
        targets = [statement.target]
    names: set[str] = set()
    for target in targets:
        for node in ast.walk(target):
            if isinstance(node, ast.Name):
                names.add(node.id)
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "self"
            ):
                names.add(node.attr)
    return names
