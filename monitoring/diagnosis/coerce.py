"""Diagnosis: what a model meant, read from an answer that does not parse as written.

Small models answer in nearly the asked shape. The readings here recover the common
near misses without guessing at anything else (none imports dspy):

- :func:`read_edits`: a list of edit objects written as JSON whose strings hold unescaped
  double quotes (code such as ``json.dumps({"a": 1})`` pasted into a JSON string), as a
  Python repr (single quotes, ``None``), inside a Markdown code fence, or as one object
  instead of a list. Values are cut at the known keys (``path``, ``old_text``,
  ``new_text`` and their common synonyms), never at a quote inside the code;
- :func:`edit_fields`: synonyms of the edit keys (``file``, ``old``, ``search``, ...)
  mapped to ours, and a missing path left empty (the locator then takes the one file the
  evidence names, or refuses);
- :func:`read_bullets`: a list of strings written as a Markdown list;
- :func:`read_risk`: a risk written as Markdown or prose (``**low**``, ``Low - only the
  guard changes``) instead of an object;
- :func:`risk_level`: ``**Low**``, `` `HIGH` ``, ``medium.`` -> ``LOW``/``HIGH``/``MEDIUM``.

Each returns None (or the value unchanged) when it cannot read the text; the caller then
reports the original parse error.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

#: Our edit keys and the names models use for them.
EDIT_KEYS: dict[str, tuple[str, ...]] = {
    "path": ("path", "file", "file_path", "filepath", "filename"),
    "old_text": ("old_text", "old", "original", "search", "old_code", "before"),
    "new_text": ("new_text", "new", "replacement", "replace", "new_code", "after"),
}
_SYNONYM = {name: key for key, names in EDIT_KEYS.items() for name in names}
#: A key of an edit object: at a line's start or after ``{`` or ``,`` (not inside code).
_KEY = re.compile(
    r"""(?:^|(?<=[{,]))\s*["']?\b(?P<key>"""
    + "|".join(sorted(_SYNONYM, key=len, reverse=True))
    + r""")\b["']?\s*:\s*(?P<quote>["'])""",
    re.MULTILINE | re.IGNORECASE,
)
_FENCE = re.compile(r"^\s*```[\w-]*\s*\n(?P<body>.*?)\n\s*```\s*$", re.DOTALL)
_LEVEL = re.compile(r"\b(LOW|MEDIUM|HIGH)\b", re.IGNORECASE)
_BULLET = re.compile(r"^[ \t]{0,3}(?:[-*\u2022]|\d+[.)])[ \t]+(.+)$", re.MULTILINE)
_NOTES = re.compile(r"\bnotes?\W*:\W*(.*)", re.IGNORECASE | re.DOTALL)
_LEVEL_LABEL = re.compile(r"^\W*(?:risk\s*)?level\W*:\W*", re.IGNORECASE)
_VALID_ESCAPE = re.compile(r'\\(?!["\\/bfnrtu])')
#: Longest text these readings look at, in characters (a bigger answer is not read again).
MAX_READ_CHARS = 60_000


def read_edits(text: str) -> list[dict[str, str]] | None:
    """The edit objects ``text`` means, or None when it holds none.

    Args:
        text: the ``edits`` field of an answer as written.

    Returns:
        Dicts with our keys (see :func:`edit_fields`); ``[]`` for an empty list.
    """
    text = unfence(text.strip())
    if len(text) > MAX_READ_CHARS:
        return None
    parsed = strict(text)
    if isinstance(parsed, dict):
        parsed = [parsed]
    if isinstance(parsed, list) and all(isinstance(item, dict) for item in parsed):
        return [edit_fields(item) for item in parsed]
    anchored = anchored_edits(text)
    return anchored or None


def unfence(text: str) -> str:
    """``text`` without a surrounding Markdown code fence (```json ... ```)."""
    match = _FENCE.match(text)
    return match.group("body") if match else text


def strict(text: str) -> Any:
    """``text`` read as JSON, else as a Python literal, else None (no repair, no guess)."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


def edit_fields(item: dict[str, Any]) -> dict[str, str]:
    """One edit object with synonyms mapped to ``path``/``old_text``/``new_text``; a missing
    key is ``""``; other keys are dropped; values become strings."""
    out = {key: "" for key in EDIT_KEYS}
    for name, value in item.items():
        key = _SYNONYM.get(str(name).strip().lower())
        if key is not None and not out[key]:
            out[key] = "" if value is None else str(value)
    return out


def anchored_edits(text: str) -> list[dict[str, str]]:
    """Edit objects cut at their keys (``[]`` when ``text`` names none): each value runs
    from the quote after ``key:`` to where its object ends or the last matching quote
    before the next key."""
    marks = list(_KEY.finditer(text))
    edits: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for position, mark in enumerate(marks):
        end = marks[position + 1].start() if position + 1 < len(marks) else len(text)
        key = _SYNONYM[mark.group("key").lower()]
        if key in current:  # a key seen again starts the next object
            edits.append(current)
            current = {}
        current[key] = _value(text[mark.end() : end], mark.group("quote"))
    if current:
        edits.append(current)
    return [{key: edit.get(key, "") for key in EDIT_KEYS} for edit in edits]


def _value(raw: str, quote: str) -> str:
    """A quoted value's text: up to where its object ends (the quote, then ``}`` and ``]``
    or ``, {``, or ``}`` on a line of its own), else to its last ``quote``; escapes read as
    JSON reads them."""
    ends = re.search(re.escape(quote) + r"\s*(?:\n\s*\}|\}\s*(?:\]|,\s*\{))", raw)
    closing = ends.start() if ends else raw.rfind(quote)
    body = raw[:closing] if closing >= 0 else raw.rstrip().rstrip(",}]").rstrip()
    escaped = _VALID_ESCAPE.sub(r"\\\\", body)
    escaped = re.sub(r'(?<!\\)((?:\\\\)*)"', r'\1\\"', escaped).replace("\t", "\\t")
    try:
        value = json.loads(f'"{escaped}"')
    except ValueError:
        return body
    return str(value) if quote == '"' else str(value).replace("\\'", "'")


def read_bullets(text: str) -> list[str] | None:
    """The items of a Markdown list (``- a``, ``* b``, ``1. c``), each its first line
    without backticks; None when ``text`` has no such item."""
    items = [m.group(1).strip().strip("`").strip() for m in _BULLET.finditer(text)]
    return [item for item in items if item] or None


def read_risk(value: Any) -> Any:
    """A risk assessment from prose or Markdown: ``{"level", "notes"}``; other values are
    returned unchanged (dicts have their level cleaned by :func:`risk_level`)."""
    if isinstance(value, dict):
        if "level" in value and isinstance(value["level"], str):
            return {**value, "level": risk_level(value["level"]), "notes": value.get("notes", "")}
        return value
    if not isinstance(value, str):
        return value
    parsed = strict(unfence(value.strip()))
    if isinstance(parsed, dict):
        return read_risk(parsed)
    match = _LEVEL.search(value)
    if match is None:
        return value
    labelled = _NOTES.search(value)
    rest = labelled.group(1) if labelled else value[: match.start()] + value[match.end() :]
    notes = _LEVEL_LABEL.sub("", rest).strip(" \n*_`:-.")
    return {"level": match.group(1).upper(), "notes": notes}


def risk_level(value: str) -> str:
    """``**Low**``, `` `high` ``, ``Medium.`` -> ``LOW``, ``HIGH``, ``MEDIUM``; anything
    else unchanged (the Literal check then refuses it)."""
    match = _LEVEL.search(value)
    stripped = value.strip(" \n*_`'\".:")
    if match and len(stripped) == len(match.group(1)):
        return match.group(1).upper()
    return value
