"""Diagnosis context: find the code that emits a log message, and the names it uses.

A message template such as ``LM response truncated (max_tokens=<NUM>, needed=<NUM>)`` is
cut at its placeholders (``<NUM>``, ``<*>``, any ``<UPPER_CASE>``) into literal parts; the
longest part, or failing that its longest word-bounded prefix or suffix of at least
:data:`MIN_PHRASE_CHARS` characters, is searched for in the repository's string literals
(Python: string constants and f-string parts that a call or a ``raise`` carries, via
:mod:`ast`, so a literal an ``assert`` compares with is not an emitter; other source
files: lines). Files the edit policy protects (tests, packaging...) are not searched.

For a Python emitter the call is read with :mod:`ast` to bind the template's ``key=<NUM>``
parts to the expressions that fill them (``%`` formatting as :mod:`logging` does it,
``str.format`` and f-strings), e.g. ``{"max_tokens": "MAX_TOKENS", "needed": "wanted"}``,
and those names are followed to their definitions: an assignment in the enclosing
function, at module level, in a class body (``settings.max_tokens`` -> ``max_tokens: int =
3000``), or at module level of another file. Whatever the names are called, the
definition is found from the code that emits the message, never from the log text.
"""

from __future__ import annotations

import ast
import builtins
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass, field

from core.evidence import assigned_names, emitted_literals
from core.evidence import literal_text as _literal
from monitoring.diagnosis.repo import RepoIndex

#: Shortest literal text searched for (characters).
MIN_PHRASE_CHARS = 8
#: Most emitting sites reported for one template.
MAX_EMITTERS = 3
#: Most definitions followed from one anomaly's emitters.
MAX_DEFINITIONS = 4
#: File suffixes searched for emitting code.
SOURCE_SUFFIXES = (".py", ".js", ".ts", ".go", ".rb", ".java", ".kt", ".php", ".rs", ".cs")

PLACEHOLDER = re.compile(r"<\*>|<[A-Z][A-Z0-9_]*>")
_KEY_BEFORE = re.compile(r"(\w+)\s*[=:]\s*$")
_PERCENT_SPEC = re.compile(
    r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa%]"
)


@dataclass(frozen=True)
class Emitter:
    """A place in the code that writes the message.

    Attributes:
        path: repository-relative file.
        line: 1-based line of the matching string literal.
        start_line, end_line: the enclosing statement's lines (1-based, inclusive).
        phrase: the literal text that matched.
        bindings: template key -> source of the expression that fills it.
    """

    path: str
    line: int
    start_line: int
    end_line: int
    phrase: str
    bindings: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Definition:
    """Where a name used by an emitter gets its value.

    Attributes:
        name: the variable, constant or attribute name, e.g. ``MAX_TOKENS``.
        path: repository-relative file.
        line, end_line: the assignment's lines (1-based, inclusive).
        text: the assignment's source lines, as in the file.
        value: the source of the assigned expression.
    """

    name: str
    path: str
    line: int
    end_line: int
    text: str
    value: str


def template_keys(template: str) -> list[str]:
    """Names written just before a placeholder: ``max_tokens=<NUM>`` -> ``max_tokens``."""
    keys: list[str] = []
    for match in PLACEHOLDER.finditer(template):
        key = _KEY_BEFORE.search(template[: match.start()])
        if key and key.group(1) not in keys:
            keys.append(key.group(1))
    return keys


def search_phrases(template: str) -> list[str]:
    """Literal texts to search for, longest first (see the module docstring)."""
    phrases: set[str] = set()
    for part in PLACEHOLDER.split(template):
        words = part.split(" ")
        for start in range(len(words)):
            for end in range(len(words), start, -1):
                if start and end < len(words):
                    continue  # only prefixes and suffixes: a middle part is rarely literal
                phrase = " ".join(words[start:end]).strip()
                if len(phrase) >= MIN_PHRASE_CHARS and re.search(r"[A-Za-z]{3}", phrase):
                    phrases.add(phrase)
    return sorted(phrases, key=lambda p: (-len(p), p))


def find_emitters(index: RepoIndex, template: str, *, logger: str | None = None) -> list[Emitter]:
    """The code that writes messages of ``template``, best first, at most MAX_EMITTERS.

    Files that name ``logger`` (e.g. ``getLogger("app.llm")``) rank first.
    """
    sources = [p for p in index.files if p.endswith(SOURCE_SUFFIXES) and index.editable(p)]
    for phrase in search_phrases(template):
        hits = [(path, line) for path in sources for line in _hits(index, path, phrase)]
        if hits:
            hits.sort(key=lambda hit: (not _names_logger(index, hit[0], logger), hit))
            keys = template_keys(template)
            return [_emitter(index, path, line, phrase, keys) for path, line in hits[:MAX_EMITTERS]]
    return []


def find_definitions(index: RepoIndex, emitters: list[Emitter]) -> list[Definition]:
    """Assignments of the names the emitters' bindings use, at most MAX_DEFINITIONS."""
    found: list[Definition] = []
    for emitter in emitters:
        for expression in emitter.bindings.values():
            for name in _names(expression):
                definition = _define(index, emitter, name)
                if definition and definition not in found:
                    found.append(definition)
                if len(found) >= MAX_DEFINITIONS:
                    return found
    return found


# --- searching ---------------------------------------------------------------------------


def _hits(index: RepoIndex, path: str, phrase: str) -> list[int]:
    text = index.text(path)
    if text is None or phrase not in text:
        return []
    tree = index.tree(path)
    if tree is None:
        if path.endswith(".py"):
            return []
        return [n for n, line in enumerate(text.splitlines(), 1) if phrase in line]
    candidates = {node.lineno for node in _string_nodes(tree) if phrase in _literal(node)}
    return sorted(n for n in candidates if any(phrase in t for t in emitted_literals(tree, n)))


def _string_nodes(tree: ast.AST) -> Iterator[ast.Constant | ast.JoinedStr]:
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr) or (
            isinstance(node, ast.Constant) and isinstance(node.value, str)
        ):
            yield node


def _names_logger(index: RepoIndex, path: str, logger: str | None) -> bool:
    text = index.text(path) or ""
    return bool(logger) and (f'"{logger}"' in text or f"'{logger}'" in text)


def _emitter(index: RepoIndex, path: str, line: int, phrase: str, keys: list[str]) -> Emitter:
    tree = index.tree(path)
    statement = _statement_at(tree, line) if tree else None
    if statement is None:
        return Emitter(path=path, line=line, start_line=line, end_line=line, phrase=phrase)
    bindings: dict[str, str] = {}
    text = index.text(path) or ""
    for call in (n for n in ast.walk(statement) if isinstance(n, ast.Call)):
        bound = _bind(call, phrase, text)
        if bound:
            bindings = {k: v for k, v in bound.items() if not keys or k in keys}
            break
    return Emitter(
        path=path,
        line=line,
        start_line=statement.lineno,
        end_line=statement.end_lineno or statement.lineno,
        phrase=phrase,
        bindings=bindings,
    )


def _statement_at(tree: ast.AST, line: int) -> ast.stmt | None:
    """The innermost simple statement spanning ``line``."""
    best: ast.stmt | None = None
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt) and not hasattr(node, "body"):
            end = node.end_lineno or node.lineno
            if node.lineno <= line <= end and (best is None or node.lineno >= best.lineno):
                best = node
    return best


# --- binding template keys to expressions ----------------------------------------------


def _bind(call: ast.Call, phrase: str, source: str) -> dict[str, str]:
    """Template key -> expression source for a call whose first argument is the message."""
    func, args = call.func, call.args
    if isinstance(func, ast.Attribute) and func.attr == "format" and _is_str(func.value):
        fmt = _literal(func.value)
        return _bind_format(fmt, args, call.keywords, source) if phrase in fmt else {}
    if not args:
        return {}
    first = args[0]
    if isinstance(first, ast.JoinedStr) and phrase in _literal(first):
        return _bind_fstring(first, source)
    if isinstance(first, ast.BinOp) and isinstance(first.op, ast.Mod) and _is_str(first.left):
        right = first.right
        values = list(right.elts) if isinstance(right, ast.Tuple) else [right]
        return _bind_percent(_literal(first.left), values, source)
    if _is_str(first) and phrase in _literal(first):
        return _bind_percent(_literal(first), list(args[1:]), source)
    return {}


def _is_str(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _bind_percent(fmt: str, values: list[ast.expr], source: str) -> dict[str, str]:
    bindings: dict[str, str] = {}
    position = 0
    for match in _PERCENT_SPEC.finditer(fmt):
        if match.group(0) == "%%":
            continue
        key = _KEY_BEFORE.search(fmt[: match.start()])
        if key and position < len(values):
            bindings[key.group(1)] = _source(values[position], source)
        position += 1
    return bindings


def _bind_format(
    fmt: str, args: list[ast.expr], keywords: list[ast.keyword], source: str
) -> dict[str, str]:
    named = {kw.arg: kw.value for kw in keywords if kw.arg}
    bindings: dict[str, str] = {}
    auto = 0
    try:
        parsed = list(string.Formatter().parse(fmt))
    except ValueError:
        return {}
    before = ""
    for literal, field_name, _spec, _conv in parsed:
        before += literal
        if field_name is None:
            continue
        value: ast.expr | None
        if field_name == "":
            value = args[auto] if auto < len(args) else None
            auto += 1
        elif field_name.isdigit():
            value = args[int(field_name)] if int(field_name) < len(args) else None
        else:
            value = named.get(field_name)
        key = _KEY_BEFORE.search(before)
        if key and value is not None:
            bindings[key.group(1)] = _source(value, source)
        before = ""
    return bindings


def _bind_fstring(node: ast.JoinedStr, source: str) -> dict[str, str]:
    bindings: dict[str, str] = {}
    before = ""
    for value in node.values:
        if isinstance(value, ast.Constant):
            before += str(value.value)
        elif isinstance(value, ast.FormattedValue):
            key = _KEY_BEFORE.search(before)
            if key:
                bindings[key.group(1)] = _source(value.value, source)
            before = ""
    return bindings


def _source(node: ast.AST, source: str) -> str:
    return ast.get_source_segment(source, node) or ast.unparse(node)


# --- following names to their definitions ----------------------------------------------


def _names(expression: str) -> list[str]:
    """Variable names and attribute names an expression reads, in order of appearance."""
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        return []
    names: list[str] = []
    for node in ast.walk(tree):
        name = (
            node.id
            if isinstance(node, ast.Name)
            else (node.attr if isinstance(node, ast.Attribute) else None)
        )
        if name and name not in names and not hasattr(builtins, name):
            names.append(name)
    return names


def _define(index: RepoIndex, emitter: Emitter, name: str) -> Definition | None:
    tree = index.tree(emitter.path)
    if tree is None:
        return None
    function = enclosing_function(tree, emitter.line)
    scopes: list[tuple[str, list[ast.stmt]]] = []
    if function is not None:
        local = [
            s
            for s in ast.walk(function)
            if isinstance(s, ast.stmt) and s is not function and s.lineno < emitter.line
        ]
        scopes.append((emitter.path, sorted(local, key=lambda s: s.lineno)))
    scopes.append((emitter.path, list(tree.body)))
    scopes.extend(_class_bodies(emitter.path, tree))
    for path in index.files:
        if path == emitter.path or not path.endswith(".py") or not index.editable(path):
            continue
        if name not in (index.text(path) or ""):
            continue
        other = index.tree(path)
        if other is not None:
            scopes.append((path, list(other.body)))
            scopes.extend(_class_bodies(path, other))
    for path, statements in scopes:
        for statement in reversed(statements):
            if name in assigned_names(statement):
                return _definition(index, path, name, statement)
    return None


def enclosing_function(tree: ast.AST, line: int) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The innermost function definition whose lines include ``line`` (1-based)."""
    best: ast.FunctionDef | ast.AsyncFunctionDef | None = None
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        inside = node.lineno <= line <= (node.end_lineno or node.lineno)
        if inside and (best is None or node.lineno >= best.lineno):
            best = node
    return best


def _class_bodies(path: str, tree: ast.Module) -> list[tuple[str, list[ast.stmt]]]:
    return [(path, list(node.body)) for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]


def _definition(index: RepoIndex, path: str, name: str, statement: ast.stmt) -> Definition:
    lines = index.lines(path)
    end = statement.end_lineno or statement.lineno
    value = getattr(statement, "value", None)
    source = index.text(path) or ""
    return Definition(
        name=name,
        path=path,
        line=statement.lineno,
        end_line=end,
        text="\n".join(lines[statement.lineno - 1 : end]),
        value=_source(value, source) if value is not None else "",
    )
