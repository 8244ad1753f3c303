"""Diagnosis remedies: a literal limit raised to a need the log measured.

A limit is raised only when the message that reports the problem also measures the need,
and the code that writes it names the limit (the template's ``key=<NUM>``, bound by
:mod:`monitoring.diagnosis.emitters` to a definition, whatever it is called):

- truncation: one output cut at a size, ``max_tokens=3000`` while ``needed=8292``: the limit
  becomes the largest need plus :data:`LIMIT_HEADROOM`, rounded up to a round step. Not
  when the limit counts items (a batch, rows, messages: the key names a count, or so does
  the measured value, such as ``pending=86``) or the message says what is past the limit
  is dropped, discarded or skipped: a cut at N items loses whatever is past any N, so
  raising it moves the loss instead of ending it (the right fix, processing the rest in
  the next batch or page, is not a literal);
- slow_operation: a timeout (a key naming a timeout, deadline or limit, in seconds or
  milliseconds) below the durations the same messages measured: raised to the slowest
  plus headroom.

The definition must hold exactly one literal equal to the current value (:func:`raise_literal`).
"""

from __future__ import annotations

import ast
import math
import re

from core.models import Anomaly
from core.proposals import Edit
from monitoring.diagnosis.context import CodeContext
from monitoring.diagnosis.emitters import Definition, template_keys
from monitoring.diagnosis.remedies.base import Remedy, SourceFile
from monitoring.diagnosis.repo import RepoIndex
from monitoring.diagnosis.titles import humanize

#: Headroom added to the largest value needed when a limit is raised.
LIMIT_HEADROOM = 1.1
_LIMIT_KEY = re.compile(r"max|limit|cap|budget|allowed|size", re.IGNORECASE)
_TIMEOUT_KEY = re.compile(r"timeout|deadline|limit|max_(?:seconds|secs|ms|wait)", re.IGNORECASE)
_MILLISECONDS = re.compile(r"(?:^|_)(?:ms|millis|milliseconds)(?:$|_)", re.IGNORECASE)
_COUNT_OF_ITEMS = re.compile(
    r"batch|rows?\b|items?\b|records?|messages?|entries|events?\b|jobs?\b|pending|queued"
    r"|backlog|count|total|results?\b|pages?\b|files?\b|lines\b",
    re.IGNORECASE,
)
_DROPPED = re.compile(
    r"\b(?:drop(?:ped|s|ping)?|discard(?:ed|s|ing)?|skip(?:ped|s|ping)?|lost|los(?:e|ing)"
    r"|ignor(?:ed|ing)|omitt?(?:ed|ing)|rest|remaining)\b",
    re.IGNORECASE,
)

ROOT_RAISE = (
    "The service caps output at {key}={current} ({name}, {where}), but requests needed "
    "more (up to {needed}), so responses were cut off ({times})."
)
ROOT_NO_DEFINITION = (
    "The service caps output at {key}={current}, but requests needed more (up to {needed}), "
    "so responses were cut off ({times}). {detail}"
)
ROOT_NOT_LITERAL = (
    "The limit {name} is set at {where} from `{value}`, not from a literal that can be "
    "raised safely."
)
ROOT_NO_LIMIT_FOUND = (
    "The code that sets the limit was not found from the code that emits the message."
)
ROOT_DROPPED = (
    'The service takes at most {key}={current} items at a time ("{template}", {times}; up '
    "to {needed} were there), and what is past the cut is not processed. Raising the limit "
    "would only move the cut: whatever is past the new limit is cut the same way. The "
    "items past the limit need to be processed (the next batch, paging), which is not a "
    "change of one literal."
)
REASON_RAISE = (
    "Raising {name} from {current} to {proposed} covers the largest {what} seen ({needed}) "
    "with about 10% headroom."
)
RISK_RAISE = "Larger responses cost more and take longer."
RISK_TIMEOUT = "Callers wait longer before giving up when the dependency is really down."
RISK_FROM_ENV = (
    " {name} is read from the environment first: if the deployment sets it, raise it there "
    "too, or this default has no effect."
)
ROOT_TIMEOUT = (
    '"{headline}": operations took up to {needed} s while {name} ({where}) allows '
    "{current} s, so the slower ones were given up ({times})."
)
TITLE_RAISE = "Raise {name} {current} → {proposed}: {headline} {times}"


def truncation(
    anomaly: Anomaly, context: CodeContext, index: RepoIndex | None, facts: dict[str, object]
) -> Remedy:
    """The truncation remedy: raise the limit, or say why not (see the module docstring)."""
    keys = template_keys(anomaly.template) or [k for k in anomaly.details if _LIMIT_KEY.search(k)]
    limit_key = next((k for k in keys if _LIMIT_KEY.search(k)), keys[0] if keys else "limit")
    current = number(anomaly, limit_key, largest=False)
    needed = max(
        filter(None, (number(anomaly, k, largest=True) for k in keys if k != limit_key)),
        default=None,
    )
    definition = limit_definition(context, limit_key)
    facts = {
        **facts,
        "key": limit_key,
        "current": current,
        "needed": needed or "?",
        "headline": humanize(anomaly.template),
    }
    if _DROPPED.search(anomaly.template) or any(_COUNT_OF_ITEMS.search(k) for k in keys):
        return Remedy(root=ROOT_DROPPED.format(**facts))
    if definition and current and index is not None:
        raised = _raise(index, definition, current, needed, facts, what="request")
        if raised is not None:
            raised.root = ROOT_RAISE.format(**facts, **_where(definition))
            return raised
    if definition:
        detail = ROOT_NOT_LITERAL.format(value=definition.value, **_where(definition))
    else:
        detail = ROOT_NO_LIMIT_FOUND
    return Remedy(root=ROOT_NO_DEFINITION.format(detail=detail, **facts))


def timeout(
    anomaly: Anomaly, context: CodeContext, index: RepoIndex | None, facts: dict[str, object]
) -> Remedy | None:
    """Raise a timeout below the measured durations, or None (no such evidence)."""
    slowest = anomaly.details.get("max_seconds")
    if index is None or not isinstance(slowest, (int, float)):
        return None
    for key in template_keys(anomaly.template):
        if not _TIMEOUT_KEY.search(key):
            continue
        definition = limit_definition(context, key)
        current = number(anomaly, key, largest=False)
        needed = slowest * (1000 if _MILLISECONDS.search(key) else 1)
        if definition is None or current is None or needed <= current:
            continue
        facts = {
            **facts,
            "key": key,
            "current": current,
            "needed": round(needed, 3),
            "headline": humanize(anomaly.template),
        }
        raised = _raise(index, definition, current, needed, facts, what="duration")
        if raised is not None:
            raised.root = ROOT_TIMEOUT.format(**{**facts, **_where(definition)})
            raised.risk_notes = RISK_TIMEOUT + raised.risk_notes[len(RISK_RAISE) :]
            return raised
    return None


def _raise(index, definition, current, needed, facts, *, what: str) -> Remedy | None:
    proposed = proposed_limit(current, needed)
    edit = raise_literal(index, definition, current, proposed)
    if edit is None:
        return None
    facts = {**facts, "name": definition.name, "proposed": proposed, "what": what}
    risk = RISK_RAISE
    if "environ" in definition.value or "getenv" in definition.value:
        risk += RISK_FROM_ENV.format(**facts)
    return Remedy(
        root="",
        edits=[edit],
        reasoning=REASON_RAISE.format(**facts),
        risk_notes=risk,
        title=TITLE_RAISE.format(**facts),
    )


def proposed_limit(current: int | float, needed: int | float | None) -> int | float:
    """A new limit: ``needed`` plus 10% (or twice ``current``), rounded up to a round step.

    For an integer the step is 1024 when ``current`` is a multiple of 1024, else the power
    of ten of ``current``'s leading digit (3000 -> 1000, 250 -> 100); for a fraction it is
    the power of ten just below ``current`` (0.25 -> 0.1).
    """
    target = needed * LIMIT_HEADROOM if needed and needed > current else current * 2
    if isinstance(current, float) and not current.is_integer():
        step = 10.0 ** math.floor(math.log10(current))
        digits = max(0, -math.floor(math.log10(step)))
        return round(max(current + step, math.ceil(round(target / step, 9)) * step), digits)
    current = int(current)
    step = 1024 if current % 1024 == 0 else 10 ** max(0, len(str(current)) - 1)
    return max(current + step, math.ceil(target / step) * step)


def number(anomaly: Anomaly, key: str, *, largest: bool) -> int | float | None:
    """``key``'s value from the details or, failing that, the samples (largest or last).

    Details may hold it at the top level or one level down (``{"limits": {"max_tokens":
    3000, "needed": {"min": 3450, "max": 8292}}}``); a ``{"min", "max"}`` figure gives
    its max (``largest``) or min.
    """
    nested = [v for v in anomaly.details.values() if isinstance(v, dict)]
    for scope in (anomaly.details, *nested):
        value = scope.get(key)
        if isinstance(value, dict):
            value = value.get("max" if largest else "min")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
    pattern = re.compile(rf"\b{re.escape(key)}\s*[=:]\s*(\d+(?:\.\d+)?)")
    found = [_parse(m.group(1)) for sample in anomaly.samples for m in pattern.finditer(sample)]
    if not found:
        return None
    return max(found) if largest else found[-1]


def limit_definition(context: CodeContext, key: str) -> Definition | None:
    """The definition of the name the emitting code fills ``key=<NUM>`` with."""
    for emitter in context.emitters:
        expression = emitter.bindings.get(key)
        if not expression:
            continue
        names = set(re.findall(r"[A-Za-z_]\w*", expression))
        for definition in context.definitions:
            if definition.name in names:
                return definition
    return None


def raise_literal(
    index: RepoIndex, definition: Definition, current: int | float, proposed: int | float
) -> Edit | None:
    """Replace the one literal ``current`` (``3000``, ``"3000"``, ``0.25``) in a definition."""
    source = SourceFile(index, definition.path)
    statement = (
        next(
            (
                n
                for n in ast.walk(source.tree)
                if isinstance(n, ast.stmt) and n.lineno == definition.line
            ),
            None,
        )
        if source.tree
        else None
    )
    if statement is None:
        return None
    hits = [
        node
        for node in ast.walk(statement)
        if isinstance(node, ast.Constant)
        and not isinstance(node.value, bool)
        and (node.value == current or node.value == str(current))
    ]
    if len(hits) != 1 or hits[0].lineno != hits[0].end_lineno:
        return None
    node = hits[0]
    literal = str(proposed) if not isinstance(node.value, str) else f'"{proposed}"'
    return source.replace_segment(node, literal)


def _where(definition: Definition) -> dict[str, str]:
    return {"name": definition.name, "where": f"{definition.path}:{definition.line}"}


def _parse(text: str) -> int | float:
    return float(text) if "." in text else int(text)
