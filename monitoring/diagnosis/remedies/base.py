"""Diagnosis remedies: what a traceback says about the failing code, and whole-line edits.

:class:`Failure` is the raising line of a traceback read with :mod:`ast` (its file, the
simple statement on it, the enclosing function); :class:`SourceFile` builds edits that
replace whole lines, grow ``old_text`` upwards until it is unique in the file (at most
:data:`MAX_UNIQUE_EXTRA_LINES`), and are dropped (None) when the result would not parse.
:class:`Remedy` is what a remedy module answers.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import cached_property

from core.models import Anomaly
from core.proposals import Edit, Risk
from monitoring.diagnosis.context import AppFrame, CodeContext
from monitoring.diagnosis.emitters import enclosing_function
from monitoring.diagnosis.repo import RepoIndex

#: Lines an edit's ``old_text`` may grow upwards to become unique in its file.
MAX_UNIQUE_EXTRA_LINES = 5
#: Nodes whose evaluation has no effect, so a guard may evaluate them a second time.
PURE_NODES = (ast.Name, ast.Attribute, ast.Subscript, ast.Constant, ast.Load, ast.UnaryOp)
_SIMPLE = (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Expr, ast.Return)
Function = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass
class Remedy:
    """A remedy's answer: a precise root cause, and the edits when one is clearly right.

    Attributes:
        root: the root cause in a few sentences (may quote log values; masked later).
        edits: the change; empty means "needs investigation" with ``root`` saying why.
        reasoning: why the edits fix the root cause (or what a person should decide).
        risk_notes: what could go wrong with the edits.
        title: a sentence for the proposal's header, e.g. ``Answer 404 for an unknown
            room_id in get_room()``; empty keeps the default title.
        risk: LOW/MEDIUM/HIGH.
    """

    root: str
    edits: list[Edit] = field(default_factory=list)
    reasoning: str = ""
    risk_notes: str = ""
    title: str = ""
    risk: Risk = Risk.LOW


class SourceFile:
    """One repository file's text and syntax tree, and whole-line edits of it.

    Args:
        index: the repository.
        path: a repository-relative ``.py`` path the index lists.
    """

    def __init__(self, index: RepoIndex, path: str) -> None:
        self.index = index
        self.path = path
        self.text = index.text(path) or ""
        self.lines = index.lines(path)
        self.tree = index.tree(path)

    def src(self, node: ast.AST) -> str:
        """The node's source text as written (``ast.unparse`` when that is unavailable)."""
        return ast.get_source_segment(self.text, node) or ast.unparse(node)

    def indent(self, line: int) -> str:
        """The leading whitespace of 1-based ``line``."""
        content = self.lines[line - 1]
        return content[: len(content) - len(content.lstrip())]

    @cached_property
    def unit(self) -> str:
        """One level of indentation as the file writes it (a tab, else four spaces)."""
        for content in self.lines:
            stripped = content.lstrip()
            if stripped and content != stripped:
                return "\t" if content.startswith("\t") else " " * 4
        return " " * 4

    @cached_property
    def parents(self) -> dict[ast.AST, ast.AST]:
        """Child node -> parent node, for the whole tree."""
        found: dict[ast.AST, ast.AST] = {}
        for node in ast.walk(self.tree) if self.tree else ():
            for child in ast.iter_child_nodes(node):
                found[child] = node
        return found

    def function_at(self, line: int) -> Function | None:
        """The innermost function whose lines include ``line``."""
        return enclosing_function(self.tree, line) if self.tree else None

    def statement_on(self, line: int) -> ast.stmt | None:
        """The simple statement spanning ``line`` that alone occupies its lines, or None."""
        for node in ast.walk(self.tree) if self.tree else ():
            if isinstance(node, _SIMPLE) and node.lineno <= line <= (node.end_lineno or 0):
                return node if self.alone(node) else None
        return None

    def alone(self, statement: ast.stmt) -> bool:
        """True when nothing but the statement (and a comment) is on its lines."""
        first = self.lines[statement.lineno - 1].encode("utf-8")
        last = self.lines[(statement.end_lineno or statement.lineno) - 1].encode("utf-8")
        after = last[statement.end_col_offset or 0 :].decode("utf-8", errors="replace").strip()
        return not first[: statement.col_offset].strip() and (not after or after.startswith("#"))

    def statement_lines(self, statement: ast.stmt) -> list[str]:
        """The statement's lines as in the file."""
        return self.lines[statement.lineno - 1 : statement.end_lineno or statement.lineno]

    def insert_before(self, statement: ast.stmt, new: list[str]) -> Edit | None:
        """An edit that puts ``new`` lines right before ``statement``."""
        return self.replace(statement, new + self.statement_lines(statement))

    def replace(self, statement: ast.stmt, new: list[str]) -> Edit | None:
        """An edit that replaces the statement's lines by ``new``."""
        return self.edit_lines(statement.lineno, statement.end_lineno or statement.lineno, new)

    def replace_segment(self, node: ast.AST, new_source: str) -> Edit | None:
        """An edit that replaces one expression's source by ``new_source`` (whole lines)."""
        start, end = node.lineno, node.end_lineno or node.lineno  # type: ignore[attr-defined]
        first = self.lines[start - 1].encode("utf-8")
        last = self.lines[end - 1].encode("utf-8")
        before = first[: node.col_offset].decode("utf-8")  # type: ignore[attr-defined]
        after = last[node.end_col_offset :].decode("utf-8")  # type: ignore[attr-defined]
        return self.edit_lines(start, end, (before + new_source + after).split("\n"))

    def edit_lines(self, start: int, end: int, new: list[str]) -> Edit | None:
        """Replace lines ``start..end`` (1-based, inclusive) by ``new``.

        Returns:
            The edit, its ``old_text`` grown upwards until unique; None when no unique
            ``old_text`` exists or the file would no longer parse.
        """
        for extra in range(MAX_UNIQUE_EXTRA_LINES + 1):
            first = start - extra
            if first < 1:
                return None
            old = "\n".join(self.lines[first - 1 : end])
            if self.text.count(old) == 1:
                above = self.lines[first - 1 : start - 1]
                edit = Edit(path=self.path, old_text=old, new_text="\n".join(above + new))
                return edit if parses(self.text.replace(old, edit.new_text, 1)) else None
        return None


@dataclass
class Failure:
    """The raising line of a traceback, read from the repository.

    Attributes:
        source: the file of the innermost in-app frame.
        line: the raising line (1-based).
        exception: the exception type as logged (``json.decoder.JSONDecodeError``).
        message: the exception's message as logged ("" when none).
        frames: the in-app frames, innermost first.
        anomaly: the anomaly itself (samples, template, details).
    """

    source: SourceFile
    line: int
    exception: str
    message: str
    frames: list[AppFrame]
    anomaly: Anomaly

    @classmethod
    def of(cls, anomaly: Anomaly, context: CodeContext, index: RepoIndex) -> Failure | None:
        """The failure an exception anomaly shows, or None (no exception, no in-app frame)."""
        if not anomaly.exception_type or not context.frames:
            return None
        top = context.frames[0]
        return cls(
            source=SourceFile(index, top.path),
            line=top.frame.line,
            exception=anomaly.exception_type,
            message=(anomaly.exception_message or "").strip(),
            frames=list(context.frames),
            anomaly=anomaly,
        )

    @property
    def short(self) -> str:
        """The exception's class name without its module (``JSONDecodeError``)."""
        return self.exception.rsplit(".", 1)[-1]

    @property
    def path(self) -> str:
        """The repository-relative file of the raising line."""
        return self.source.path

    @cached_property
    def function(self) -> Function | None:
        """The function the raising line is in."""
        return self.source.function_at(self.line)

    @cached_property
    def statement(self) -> ast.stmt | None:
        """The simple statement on the raising line, when it is alone on its lines."""
        return self.source.statement_on(self.line)

    @property
    def code(self) -> str:
        """The raising line, stripped."""
        lines = self.source.lines
        return lines[self.line - 1].strip() if self.line <= len(lines) else ""


def parses(text: str) -> bool:
    """True when ``text`` is valid Python."""
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


def is_pure(node: ast.AST) -> bool:
    """True when evaluating ``node`` twice has no effect (names, attributes, subscripts,
    constants, and ``len()`` of those)."""
    for child in ast.walk(node):
        if isinstance(child, ast.Call):
            if not (isinstance(child.func, ast.Name) and child.func.id == "len"):
                return False
        elif not isinstance(child, (*PURE_NODES, ast.expr_context, ast.unaryop)):
            return False
    return True


def nodes_on(statement: ast.AST, line: int, kind: type[ast.AST]) -> list:
    """The nodes of ``kind`` inside ``statement`` whose lines include ``line``."""
    return [
        n
        for n in ast.walk(statement)
        if isinstance(n, kind) and n.lineno <= line <= (n.end_lineno or n.lineno)  # type: ignore[attr-defined]
    ]


def assignment_of(function: ast.AST, name: str, before_line: int) -> ast.Assign | None:
    """The last ``name = ...`` in ``function`` before ``before_line``, or None."""
    found: ast.Assign | None = None
    for node in ast.walk(function):
        if (
            isinstance(node, ast.Assign)
            and node.lineno < before_line
            and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
            and (found is None or node.lineno > found.lineno)
        ):
            found = node
    return found


def label(node: ast.AST) -> str:
    """A short name for what an expression stands for (``body["user_id"]`` -> ``user_id``)."""
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        return str(node.slice.value)
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call) and node.args:
        return label(node.args[0])
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return label(node.func.value)  # city.lower() -> city
    return "value"
