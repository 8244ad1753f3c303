"""Diagnosis: where an LM's edit lands, read tolerantly, rewritten to the file's exact text.

Models, small ones most, name the right lines in the wrong spelling: a path such as
``app.py:31``, ``./app.py``, ``src\\app.py`` or the checkout's absolute path; an
``old_text`` whose quotes, indentation or trailing whitespace differ from the file, that
carries the line numbers it was shown, or that skips a blank line. :func:`locate_edits`
finds what such an edit means and rewrites it to the file's exact text, so that the exact
diff is what the edit review (:func:`core.review.review_change`) checks and what a person
reads. It never guesses between candidates:

- the path is normalised (quotes and backticks, ``:line`` and ``lines a-b`` suffixes,
  ``./``, backslashes, an absolute path inside the repository), then must resolve inside
  the repository and not be protected (:func:`core.edits.resolve_in_repo`: ``..``,
  symlinks leading out, NUL and other invisible characters are refused); an edit without
  a path, or with one naming no file (``app.py`` for ``shop/app.py``, ``app.py:orders``
  where the frame is in ``views.py``), takes the evidence file of that name, else the one
  file the evidence points at, and is refused when it could mean more than one;
- ``old_text`` that occurs exactly once is kept as written; otherwise the unique run of
  whole lines whose normalised form (no indentation, no trailing whitespace, one quote
  kind, single spaces, line-number prefixes dropped, blank lines skipped) equals the
  edit's is taken, its exact text becomes ``old_text`` and ``new_text`` is re-indented by
  the same shift (its lines that restate a located line are spelled as the file spells
  them, so the diff shows only the change); no such run, or more than one, refuses the
  edit (two runs are told apart only by indentation written exactly);
- an empty ``old_text`` is refused (a fix changes lines that exist; its regression test
  is a field of its own).

Every refusal is an :class:`~core.edits.EditRejected` whose sentence says what to do
instead: it is what the LM's one retry is told.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from pathlib import Path, PurePosixPath

from core.edits import MAX_PATH_CHARS, EditRejected, read_exact, resolve_in_repo
from core.policy import EditPolicy
from core.proposals import Edit

REJECT_EMPTY_OLD = (
    "old_text is empty; copy the whole lines to replace from current_code (new files "
    "are not allowed)"
)
REJECT_NO_PATH = "the edit names no file; set path to one of: {allowed}"
REJECT_NO_FILE = "file does not exist; the files you may edit are: {allowed}"
REJECT_NOT_FOUND = (
    "old text does not occur in the file, even ignoring indentation, quotes and trailing "
    "whitespace; copy whole lines verbatim from current_code"
)
REJECT_AMBIGUOUS = (
    "old text matches {count} places in the file; include a neighbouring line so that it "
    "names one place"
)
#: Lines of context added (each way) at most, to make a located span a unique substring.
MAX_CONTEXT_GROWTH = 3

#: A file name with an extension, then ``:31``, ``:31-40``, ``:31:9``, `` lines 20-35`` or
#: ``:orders`` / ``:orders()`` (a component as the analysis names it).
_LINE_SUFFIX = re.compile(
    r"^(?P<file>.*\.[A-Za-z0-9]+)"
    r"(?::\d+(?:[-:]\d+)?|:[A-Za-z_][\w.]*(?:\(\))?|,?\s+lines?\s+\d+(?:\s*-\s*\d+)?)$"
)
_NUMBER_PREFIX = re.compile(r"^\s*\d+\s*(?:[:|]\s?|\s)")
_SPACES = re.compile(r"\s+")


def locate_edits(
    repo_root: Path, edits: Sequence[Edit], *, evidence_files: Collection[str], policy: EditPolicy
) -> list[Edit]:
    """``edits`` with normalised paths and ``old_text`` rewritten to the file's exact text.

    Args:
        repo_root: the service's checkout (files are read, never written).
        edits: as the LM wrote them (paths relative to ``repo_root``, or spelled loosely).
        evidence_files: repository-relative paths the evidence points at; an edit without
            a path takes the one file here.
        policy: protected paths (a protected file is never read).

    Returns:
        New edits, in the same order; each ``old_text`` occurs exactly once in its file.

    Raises:
        EditRejected: the first edit whose path or lines cannot be told apart (see the
            module docstring); its sentence is fit for the LM's retry.
    """
    root = repo_root.resolve()
    located = []
    for edit in edits:
        path = normalise_path(edit.path, repo_root=root, evidence_files=evidence_files)
        target = resolve_in_repo(root, path, policy)
        if edit.old_text.strip() == "":
            raise EditRejected(path, REJECT_EMPTY_OLD)
        if not target.is_file():
            path = _evidence_file_for(path, evidence_files)
            target = resolve_in_repo(root, path, policy)
        text = read_exact(target, path)
        old, new = locate_lines(text, edit.old_text, edit.new_text, path=path)
        located.append(Edit(path=path, old_text=old, new_text=new))
    return located


def normalise_path(raw: str, *, repo_root: Path, evidence_files: Collection[str]) -> str:
    """A repository-relative POSIX path for what the LM wrote (see the module docstring).

    Args:
        raw: the edit's path as written.
        repo_root: the checkout, resolved.
        evidence_files: the files the evidence points at.

    Returns:
        The path with decorations removed; it may still be refused by
        :func:`core.edits.resolve_in_repo` (outside the repository, protected).

    Raises:
        EditRejected: no path was given and the evidence names more than one file (or none).
    """
    path = raw.strip().strip("`'\"").strip().replace("\\", "/")
    if "\x00" in path or len(path) > MAX_PATH_CHARS:
        return path  # refused, with its reason, by core.edits
    suffixed = _LINE_SUFFIX.match(path)
    path = suffixed.group("file").strip() if suffixed else path
    if path.startswith("/"):
        path = _inside(repo_root, path)
    while path.startswith("./"):
        path = path[2:]
    if path:
        return path
    unique = sorted(set(evidence_files))
    if len(unique) == 1:
        return unique[0]
    raise EditRejected("(no path)", REJECT_NO_PATH.format(allowed=", ".join(unique) or "none"))


def _evidence_file_for(path: str, evidence_files: Collection[str]) -> str:
    """The evidence file a path to no file means: the one of the same name, or the only
    one (``app.py`` for ``shop/app.py``; a component name the analysis used).

    Raises:
        EditRejected: no evidence file, or several, could be meant.
    """
    unique = sorted(set(evidence_files))
    named = [f for f in unique if PurePosixPath(f).name == PurePosixPath(path).name]
    if len(named) == 1:
        return named[0]
    if len(unique) == 1:
        return unique[0]
    raise EditRejected(path, REJECT_NO_FILE.format(allowed=", ".join(unique) or "none"))


def _inside(repo_root: Path, absolute: str) -> str:
    """``absolute`` relative to the checkout when it lies inside it; else as written (the
    core check refuses it)."""
    prefix = repo_root.as_posix().rstrip("/") + "/"
    return absolute[len(prefix) :] if absolute.startswith(prefix) else absolute


def locate_lines(text: str, old: str, new: str, *, path: str) -> tuple[str, str]:
    """The exact ``(old_text, new_text)`` in ``text`` that ``old`` -> ``new`` means.

    Args:
        text: the file as stored (``\\n`` or ``\\r\\n`` line endings).
        old, new: the edit as written.
        path: names the file in a refusal.

    Returns:
        ``old`` unchanged when it occurs exactly once; else the exact lines it means (one
        substring of ``text``, occurring once) and ``new`` re-indented by the same shift,
        without line-number prefixes.

    Raises:
        EditRejected: nothing, or more than one place, matches.
    """
    if text.count(old) == 1 or ("\r\n" in text and text.count(old.replace("\n", "\r\n")) == 1):
        return old, new
    lines = text.replace("\r\n", "\n").split("\n")
    old_lines, new_lines = _strip_numbers(old.split("\n")), _strip_numbers(new.split("\n"))
    new_lines = _trim_like(new_lines, old_lines)
    spans = _matching_spans(lines, old_lines)
    if not spans:
        raise EditRejected(path, REJECT_NOT_FOUND)
    if len(spans) > 1:  # the one indented as written, if only one is
        spans = [span for span in spans if _indented_alike(lines, span, old_lines)] or spans
    if len(spans) > 1:
        raise EditRejected(path, REJECT_AMBIGUOUS.format(count=len(spans)))
    first, last = spans[0]
    shifted = _reindent(new_lines, _indent_of(old_lines), _indent(lines[first]))
    kept = _as_in_file(shifted, lines[first : last + 1])
    return _unique_span(text, lines, first, last, kept, path)


def _trim_like(new_lines: list[str], old_lines: list[str]) -> list[str]:
    """``new_lines`` without as many blank lines at each end as ``old_lines`` has there
    (a triple-quoted string's first and last line: not part of the match, nor the change)."""

    def blanks(lines: list[str]) -> int:
        return next((i for i, line in enumerate(lines) if line.strip()), len(lines))

    head = min(blanks(old_lines), blanks(new_lines))
    tail = min(blanks(old_lines[::-1]), blanks(new_lines[::-1]))
    return new_lines[head : len(new_lines) - tail]


def _strip_numbers(lines: list[str]) -> list[str]:
    """Lines without ``31: `` / ``31 | `` prefixes, when every non-blank line has one."""
    filled = [line for line in lines if line.strip()]
    if not filled or not all(_NUMBER_PREFIX.match(line) for line in filled):
        return lines
    return [_NUMBER_PREFIX.sub("", line, count=1) if line.strip() else line for line in lines]


def _key(line: str) -> str:
    """A line as compared: no indentation or trailing space, single spaces, one quote kind."""
    return _SPACES.sub(" ", line.strip()).replace("'", '"')


def _matching_spans(lines: list[str], old_lines: list[str]) -> list[tuple[int, int]]:
    """``(first, last)`` line indexes (inclusive) of every run of non-blank file lines whose
    keys equal the non-blank old lines' keys, in order."""
    wanted = [_key(line) for line in old_lines if line.strip()]
    if not wanted:
        return []
    filled = [i for i, line in enumerate(lines) if line.strip()]
    keys = [_key(lines[i]) for i in filled]
    size = len(wanted)
    return [
        (filled[start], filled[start + size - 1])
        for start in range(len(keys) - size + 1)
        if keys[start : start + size] == wanted
    ]


def _indented_alike(lines: list[str], span: tuple[int, int], old_lines: list[str]) -> bool:
    """Whether the span's non-blank lines equal the old ones but for trailing space."""
    shown = [line.rstrip() for line in lines[span[0] : span[1] + 1] if line.strip()]
    return shown == [line.rstrip() for line in old_lines if line.strip()]


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _indent_of(lines: list[str]) -> str:
    return next((_indent(line) for line in lines if line.strip()), "")


def _reindent(new_lines: list[str], old_indent: str, file_indent: str) -> list[str]:
    """``new_lines`` shifted from ``old_indent`` to ``file_indent``; kept as written when
    the model already indented them as the file is (only ``old_text`` drifted)."""
    filled = [line for line in new_lines if line.strip()]
    if not filled or old_indent == file_indent:
        return new_lines
    least = min(len(_indent(line)) for line in filled)
    if least == len(file_indent) and least != len(old_indent):
        return new_lines
    unit = file_indent[:1] or " "
    shift = len(file_indent) - len(old_indent)
    out = []
    for line in new_lines:
        if not line.strip():
            out.append(line.strip())
            continue
        width = max(0, len(_indent(line)) + shift)
        out.append(unit * width + line.lstrip())
    return out


def _as_in_file(new_lines: list[str], located: list[str]) -> list[str]:
    """New lines that restate a located line (same key) spelled as the file spells it, so
    that the diff shows only what the edit changes, not its drift in quotes or spaces."""
    exact = {_key(line): line.strip() for line in located if line.strip()}
    return [
        _indent(line) + exact[_key(line)] if line.strip() and _key(line) in exact else line
        for line in new_lines
    ]


def _unique_span(
    text: str, lines: list[str], first: int, last: int, new_lines: list[str], path: str
) -> tuple[str, str]:
    """The exact text of lines ``first..last``, grown by context lines (added to both
    sides of the edit) until it occurs once in ``text``."""
    eol = "\r\n" if "\r\n" in text else "\n"
    before: list[str] = []
    after: list[str] = []
    for growth in range(MAX_CONTEXT_GROWTH + 1):
        old = eol.join(before + lines[first : last + 1] + after)
        if text.count(old) == 1:
            new = eol.join(before + new_lines + after)
            return old.replace("\r\n", "\n"), new.replace("\r\n", "\n")
        if growth < MAX_CONTEXT_GROWTH:
            if first - len(before) > 0:
                before.insert(0, lines[first - len(before) - 1])
            if last + len(after) + 1 < len(lines):
                after.append(lines[last + len(after) + 1])
    raise EditRejected(path, REJECT_AMBIGUOUS.format(count=text.count(old)))
