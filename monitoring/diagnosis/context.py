"""Diagnosis context: the code an anomaly points at, read from the service's repository.

Evidence, and only evidence, decides which files are read:

- a traceback's in-app frames (library frames skipped; deployment prefixes such as
  ``/app/`` stripped by :meth:`RepoIndex.map_frame_file`), innermost first, each only
  when the code agrees with it (a function of that name around that line, see
  :mod:`core.evidence`): a frame planted in a log does not point at code it names wrongly;
- for a log message, the code that emits it and the definitions of the names that fill
  its ``key=<NUM>`` parts (see :mod:`monitoring.diagnosis.emitters`).

Files the edit policy protects are never evidence. What was found is
:attr:`CodeContext.evidence` (stored with the proposal, checked again before an apply);
its files, :attr:`CodeContext.evidence_files`, are the only files an edit may touch.

Bounds (so that a diagnosis stays a few thousand tokens):

- at most :data:`MAX_FRAMES` in-app frames, each shown as its whole enclosing function
  when that is at most :data:`MAX_FUNCTION_LINES` lines, else as a window of
  :data:`WINDOW_LINES_BEFORE` lines before and :data:`WINDOW_LINES_AFTER` after;
- at most 3 emitters (same windows) and 4 definitions (their statement
  plus :data:`DEFINITION_CONTEXT_LINES` lines on each side);
- :meth:`CodeContext.render` stops at ``max_chars`` (default
  :data:`MAX_CONTEXT_CHARS`, about 1,500 tokens at 4 characters a token), dropping the
  least important snippets first (outer frames before the raising line).
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass, field
from typing import Literal

from core.evidence import locate
from core.models import Anomaly, FrameModel
from core.proposals import Evidence
from monitoring.diagnosis.emitters import Definition, Emitter, find_definitions, find_emitters
from monitoring.diagnosis.repo import RepoIndex

#: Most in-app traceback frames shown.
MAX_FRAMES = 4
#: Most in-app frames checked against the code, innermost first (a planted traceback of
#: hundreds of frames costs no more than this).
MAX_FRAME_CHECKS = 3 * MAX_FRAMES
#: A frame's enclosing function is shown whole up to this many lines.
MAX_FUNCTION_LINES = 40
#: Otherwise, lines shown before and after the frame's line.
WINDOW_LINES_BEFORE = 12
WINDOW_LINES_AFTER = 8
#: Lines shown around a definition.
DEFINITION_CONTEXT_LINES = 1
#: Characters of code the rendered context may hold.
MAX_CONTEXT_CHARS = 6_000


@dataclass(frozen=True)
class AppFrame:
    """A traceback frame that belongs to the service: the frame, its repository file and
    the evidence the code there gives it."""

    frame: FrameModel
    path: str
    evidence: Evidence


@dataclass(frozen=True)
class Snippet:
    """Lines of one file shown to the LM (``start_line``..``end_line``, 1-based inclusive)."""

    path: str
    start_line: int
    end_line: int
    text: str
    reason: str


@dataclass
class CodeContext:
    """What the repository says about one anomaly.

    Attributes:
        frames: in-app frames, innermost (the raising line) first.
        emitters: code that writes the anomaly's message, best match first.
        definitions: where the emitters' names get their values.
        snippets: the code to show, most important first.
        evidence: frames, emitters and definitions as checked against the code, in
            that order.
        digest: SHA-256 (hex) of the evidence files' paths and contents: changes when
            that code changes, so it keys the diagnosis cache.
    """

    frames: list[AppFrame] = field(default_factory=list)
    emitters: list[Emitter] = field(default_factory=list)
    definitions: list[Definition] = field(default_factory=list)
    snippets: list[Snippet] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    digest: str = hashlib.sha256(b"").hexdigest()

    @property
    def evidence_files(self) -> frozenset[str]:
        """Repository-relative files an edit may touch."""
        return frozenset(item.path for item in self.evidence)

    @property
    def empty(self) -> bool:
        """True when no code was found for the anomaly."""
        return not self.snippets

    def render(self, *, max_chars: int = MAX_CONTEXT_CHARS) -> str:
        """The snippets as text blocks, most important first, within ``max_chars``.

        Each block is a header line ``### <path> lines <a>-<b> (<reason>)`` followed by the
        file's lines exactly as they are (no line numbers, so they can be quoted).
        """
        blocks: list[str] = []
        used = 0
        for snippet in self.snippets:
            block = (
                f"### {snippet.path} lines {snippet.start_line}-{snippet.end_line} "
                f"({snippet.reason})\n{snippet.text}\n"
            )
            if used + len(block) > max_chars:
                if not blocks:
                    blocks.append(block[:max_chars])
                break
            blocks.append(block)
            used += len(block)
        return "\n".join(blocks)


def build_context(anomaly: Anomaly, index: RepoIndex | None) -> CodeContext:
    """The code context of ``anomaly`` in the repository ``index`` lists (empty without one)."""
    if index is None:
        return CodeContext()
    frames = app_frames(anomaly, index)
    emitters: list[Emitter] = []
    if not anomaly.frames and anomaly.template:
        emitters = find_emitters(index, anomaly.template, logger=anomaly.logger)
    emitted = [(e, _evidence(index, e.path, e.line, "emitter", e.phrase)) for e in emitters]
    emitters = [e for e, item in emitted if item is not None]
    definitions = find_definitions(index, emitters)
    defined = [(d, _evidence(index, d.path, d.line, "definition", d.name)) for d in definitions]
    definitions = [d for d, item in defined if item is not None]
    snippets = _frame_snippets(index, frames) + _emitter_snippets(index, emitters)
    snippets += [_definition_snippet(index, d) for d in definitions]
    evidence = [f.evidence for f in frames]
    evidence += [item for _, item in emitted + defined if item is not None]
    return CodeContext(
        frames=frames,
        emitters=emitters,
        definitions=definitions,
        snippets=_dedupe(snippets),
        evidence=evidence,
        digest=_digest(index, frozenset(item.path for item in evidence)),
    )


def app_frames(anomaly: Anomaly, index: RepoIndex) -> list[AppFrame]:
    """The anomaly's in-app frames that the repository's code agrees with, innermost first.

    A frame counts when its file maps to a listed, unprotected file and a function of the
    frame's name is around the frame's line (:func:`core.evidence.locate`); a frame past
    the end of the file (the code changed since), or naming the wrong function, is skipped.
    Only the innermost :data:`MAX_FRAME_CHECKS` frames that map to a file are checked.
    """
    mapped: list[AppFrame] = []
    candidates = [(f, index.map_frame_file(f.file)) for f in reversed(anomaly.frames)]
    for frame, path in [(f, p) for f, p in candidates if p is not None][:MAX_FRAME_CHECKS]:
        text = index.text(path)
        if text is None:
            continue
        item = locate(
            text,
            path=path,
            line=frame.line,
            kind="frame",
            detail=frame.file,
            function=frame.function,
            tree=index.tree(path),
        )
        if item is not None:
            mapped.append(AppFrame(frame=frame, path=path, evidence=item))
    return mapped[:MAX_FRAMES]


def _evidence(
    index: RepoIndex, path: str, line: int, kind: Literal["emitter", "definition"], detail: str
) -> Evidence | None:
    text = index.text(path) if index.editable(path) else None
    if text is None:
        return None
    return locate(text, path=path, line=line, kind=kind, detail=detail)


def function_span(index: RepoIndex, path: str, line: int) -> tuple[int, int] | None:
    """Lines (first, last; decorators included) of the innermost function around ``line``."""
    tree = index.tree(path)
    if tree is None:
        return None
    best: tuple[int, int] | None = None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            end = node.end_lineno or node.lineno
            if start <= line <= end and (best is None or start >= best[0]):
                best = (start, end)
    return best


def _window(index: RepoIndex, path: str, line: int) -> tuple[int, int]:
    total = len(index.lines(path))
    span = function_span(index, path, line)
    if span and span[1] - span[0] + 1 <= MAX_FUNCTION_LINES:
        return span
    return max(1, line - WINDOW_LINES_BEFORE), min(total, line + WINDOW_LINES_AFTER)


def _snippet(index: RepoIndex, path: str, start: int, end: int, reason: str) -> Snippet:
    lines = index.lines(path)
    end = min(end, len(lines))
    return Snippet(
        path=path,
        start_line=start,
        end_line=end,
        text="\n".join(lines[start - 1 : end]),
        reason=reason,
    )


def _frame_snippets(index: RepoIndex, frames: list[AppFrame]) -> list[Snippet]:
    snippets = []
    for position, app_frame in enumerate(frames):
        frame = app_frame.frame
        role = "raised here" if position == 0 else "called from here"
        start, end = _window(index, app_frame.path, frame.line)
        reason = f"traceback frame: {frame.function}(), line {frame.line} {role}"
        snippets.append(_snippet(index, app_frame.path, start, end, reason))
    return snippets


def _emitter_snippets(index: RepoIndex, emitters: list[Emitter]) -> list[Snippet]:
    snippets = []
    for emitter in emitters:
        start, end = _window(index, emitter.path, emitter.line)
        reason = f"emits the message, line {emitter.line}"
        snippets.append(_snippet(index, emitter.path, start, end, reason))
    return snippets


def _definition_snippet(index: RepoIndex, definition: Definition) -> Snippet:
    start = max(1, definition.line - DEFINITION_CONTEXT_LINES)
    end = definition.end_line + DEFINITION_CONTEXT_LINES
    reason = f"defines {definition.name}"
    return _snippet(index, definition.path, start, end, reason)


def _dedupe(snippets: list[Snippet]) -> list[Snippet]:
    """Drop snippets whose lines an earlier snippet of the same file already shows."""
    kept: list[Snippet] = []
    for snippet in snippets:
        if not any(
            k.path == snippet.path
            and k.start_line <= snippet.start_line
            and snippet.end_line <= k.end_line
            for k in kept
        ):
            kept.append(snippet)
    return kept


def _digest(index: RepoIndex, files: frozenset[str]) -> str:
    sha = hashlib.sha256()
    for path in sorted(files):
        sha.update(path.encode() + b"\0" + (index.text(path) or "").encode() + b"\0")
    return sha.hexdigest()
